"""Bad input at the model and parameter level (issue 8, "Bad input"): any JSON-ish value either parses
or is refused with the validation error the caller expects, never another exception.

The operator and the worker turn `ValidationError` and `InvalidParameters` into a `failed`/`Invalid`
status with their message; any other exception would escape to the admission loop's last-resort
handler (a resync, and the object never gets its status). So these properties are what keeps one
bad object from stalling admission:
- `Execution` / `Deployment` / `ExecutionSpec` parse or raise `ValidationError`;
- `validate_parameters` returns a dict or raises `InvalidParameters` with a non-empty message;
- `invalid_reason` (what the operator asks before admission) returns a string or None;
- the request the policy weighs (`to_request`) is built for every spec the CRD schema lets through.
Profiles: "ci" by default, "long" (HYPOTHESIS_PROFILE=long) from tests/unit/conftest.py.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from conveyor.admission.parameters import InvalidParameters, validate_parameters
from conveyor.api.config import OperatorConfig
from conveyor.api.models import Deployment, Execution, ExecutionSpec, ParameterDeclaration, ParameterType
from conveyor.controller.requests import invalid_reason, to_request

OPERATOR_NAMESPACE = "conveyor-system"
CREATED = datetime.fromisoformat("2026-01-01T00:00:00+00:00")

# ----- strategies ----------------------------------------------------------------------------------

TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=12)
"""Any Unicode the API can carry (no lone surrogates: they are not valid UTF-8): RTL, emoji, controls."""
ODD_TEXT = st.sampled_from(
    [
        "",
        " ",
        "\u202eevil\u202c",  # right-to-left override
        "שלום",
        "🚀" * 5,
        "\x01\x07\x1b[31m",
        "a" * 300,
        "true",
        "False",
        " 42 ",
        "-0",
        "4.2",
        "1e400",
        "nan",
        "Infinity",
        "[1, 2]",
        '{"a": 1}',
        "9" * 5000,
        "[" * 2000 + "]" * 2000,
        "2026-01-01T00:00:00Z",
    ]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.sampled_from([2**63, -(2**63) - 1, 10**400])
    | st.floats(allow_nan=False)
    | TEXT
    | ODD_TEXT
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=20,
)
"""Any JSON value the API server could hand over (no NaN: JSON has none)."""


def nested(depth: int, leaf: Any = "x") -> Any:
    value: Any = leaf
    for level in range(depth):
        value = {"level": value} if level % 2 else [value]
    return value


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """The field's plausible values, or any JSON at all (a wrong type)."""
    return strategy | JSON


CONSTRAINTS = st.fixed_dictionaries(
    {},
    optional={
        "validValues": maybe(st.lists(SCALARS, max_size=4)),
        "inRange": maybe(st.fixed_dictionaries({}, optional={"min": SCALARS, "max": SCALARS})),
        "pattern": maybe(st.sampled_from(["^a+$", "[", "(a|b)*c", ".*", "\\d{2,}", "(?P<x>"])),
        "minLength": maybe(st.integers(-2, 10)),
        "maxLength": maybe(st.integers(-2, 10)),
    },
)
DECLARATION = st.fixed_dictionaries(
    {},
    optional={
        "type": maybe(st.sampled_from([t.value for t in ParameterType] + ["int", "String"])),
        "default": JSON,
        "description": maybe(TEXT),
        "required": maybe(st.booleans()),
        "secret": maybe(st.booleans()),
        "constraints": maybe(CONSTRAINTS),
    },
)
NAMES = st.sampled_from(["target", "count", "flag", "list", "dict", "x" * 253]) | TEXT
WORKFLOW = st.fixed_dictionaries(
    {"mapping": maybe(st.sampled_from(["web.install", "a.b.c", "nodot", "1bad.x", ".x", "web.ínstall"]))},
    optional={"parameters": maybe(st.dictionaries(NAMES, DECLARATION, max_size=4))},
)
DEPLOYMENT_SPEC = st.fixed_dictionaries(
    {},
    optional={
        "inputs": maybe(st.dictionaries(TEXT, JSON, max_size=3)),
        "source": maybe(st.fixed_dictionaries({}, optional={"configMap": maybe(TEXT)})),
        "worker": maybe(
            st.fixed_dictionaries(
                {},
                optional={
                    "image": maybe(TEXT),
                    "idleTimeoutSeconds": maybe(st.integers()),
                    "env": maybe(st.lists(st.fixed_dictionaries({"name": JSON}, optional={"value": JSON}))),
                },
            )
        ),
        "retries": maybe(
            st.fixed_dictionaries({}, optional={"taskRetries": JSON, "retryIntervalSeconds": JSON})
        ),
        "workflows": maybe(
            st.dictionaries(st.sampled_from(["install", "maintain"]) | TEXT, WORKFLOW, max_size=3)
        ),
    },
)
SCHEDULED_TIMES = st.sampled_from(
    [
        "2026-01-01T00:00:00Z",
        "2026-01-01t00:00:00z",
        "2026-01-01 00:00:00Z",
        "2026-01-01T00:00:00",
        "2026-01-01T00:00:00.123456789Z",
        "2026-01-01T00:00:00+05:30",
        "2026-02-31T00:00:00Z",
        "2026-01-01T23:59:60Z",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59Z",
        "yesterday",
        "",
    ]
)
EXECUTION_SPEC = st.fixed_dictionaries(
    {},
    optional={
        "deployment": maybe(st.sampled_from(["web", "nowhere", "d" * 253, "d" * 254])),
        "workflow": maybe(st.sampled_from(["install", "maintain", "execute_operation", "create_snapshot"])),
        "parameters": maybe(st.dictionaries(NAMES, JSON, max_size=4)),
        "force": maybe(st.booleans()),
        "queue": maybe(st.booleans()),
        "dryRun": maybe(st.booleans()),
        "allowCustomParameters": maybe(st.booleans()),
        "scheduledTime": maybe(SCHEDULED_TIMES),
        "cancel": maybe(st.sampled_from(["graceful", "force", "kill", "KILL"])),
    },
)


def execution_object(spec: Any, namespace: str = "shop") -> dict[str, Any]:
    return {
        "apiVersion": "conveyor.dev/v1alpha1",
        "kind": "Execution",
        "metadata": {"name": "e", "namespace": namespace},
        "spec": spec,
    }


def deployment_object(spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "conveyor.dev/v1alpha1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "shop"},
        "spec": spec,
    }


def declarations(raw: dict[str, Any]) -> dict[str, ParameterDeclaration]:
    """The declarations that parse (the CRD would have refused the others)."""
    parsed = {}
    for name, body in raw.items():
        try:
            parsed[name] = ParameterDeclaration.model_validate(body)
        except ValidationError:
            continue
    return parsed


# ----- models: parse or ValidationError -------------------------------------------------------------


@given(spec=JSON | EXECUTION_SPEC)
def test_any_json_as_an_execution_spec_parses_or_is_a_validation_error(spec: Any) -> None:
    try:
        Execution.model_validate(execution_object(spec))
    except ValidationError as error:
        assert error.errors(), "a ValidationError names what is wrong"


@given(spec=JSON | DEPLOYMENT_SPEC)
def test_any_json_as_a_deployment_spec_parses_or_is_a_validation_error(spec: Any) -> None:
    try:
        Deployment.model_validate(deployment_object(spec))
    except ValidationError as error:
        assert error.errors()


@pytest.mark.parametrize("depth", [1, 10, 100, 500])
def test_deeply_nested_parameters_and_inputs_parse(depth: int) -> None:
    """Free-form values are free-form at any depth the API server accepts (it allows far more than 100)."""
    Execution.model_validate(execution_object({"workflow": "w", "parameters": {"deep": nested(depth)}}))
    Deployment.model_validate(deployment_object({"inputs": {"deep": nested(depth)}}))


def test_a_huge_parameter_value_parses() -> None:
    huge = "x" * (512 * 1024)
    spec = ExecutionSpec.model_validate({"workflow": "w", "parameters": {"big": huge}})
    assert spec.parameters["big"] == huge


def test_a_deployment_name_over_253_characters_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="253"):
        ExecutionSpec.model_validate({"workflow": "w", "deployment": "d" * 254})


# ----- parameters: effective values or InvalidParameters ---------------------------------------------


def _validate_or_invalid(
    declared: dict[str, ParameterDeclaration], given_: dict[str, Any], custom: bool
) -> None:
    try:
        effective = validate_parameters(declared, given_, custom, workflow="install")
    except InvalidParameters as error:
        assert error.problems and all(problem.strip() for problem in error.problems)
        return
    assert isinstance(effective, dict)


@given(
    raw=st.dictionaries(NAMES, DECLARATION, max_size=4),
    given_=st.dictionaries(NAMES, JSON, max_size=4),
    custom=st.booleans(),
)
def test_any_parameters_against_any_declaration_validate_or_are_invalid(
    raw: dict[str, Any], given_: dict[str, Any], custom: bool
) -> None:
    _validate_or_invalid(declarations(raw), given_, custom)


@given(
    raw=st.dictionaries(st.sampled_from(["a", "b", "c"]), DECLARATION, max_size=3),
    given_=st.dictionaries(st.sampled_from(["a", "b", "c"]), JSON, max_size=3),
)
def test_parameters_matching_the_declared_names_validate_or_are_invalid(
    raw: dict[str, Any], given_: dict[str, Any]
) -> None:
    """The same property where names collide, so conversions and constraints really run."""
    _validate_or_invalid(declarations(raw), given_, False)


@pytest.mark.parametrize("declared_type", [t.value for t in ParameterType])
@pytest.mark.parametrize(
    "value",
    [
        10**400,
        -(10**400),
        10**5000,
        "9" * 5000,
        "-" + "9" * 5000,
        "[" * 5000 + "]" * 5000,
        nested(100),
        nested(3000),
        1e308,
    ],
    ids=[
        "huge-int",
        "huge-negative-int",
        "5000-digit-int",
        "5000-digit-string",
        "negative-5000-digit-string",
        "deep-json-string",
        "nested-100",
        "nested-3000",
        "max-float",
    ],
)
def test_extreme_values_of_every_declared_type_validate_or_are_invalid(
    declared_type: str, value: Any
) -> None:
    declared = {"p": ParameterDeclaration.model_validate({"type": declared_type})}
    _validate_or_invalid(declared, {"p": value}, False)


@pytest.mark.parametrize(
    "constraints",
    [{"inRange": {"min": 0, "max": 10}}, {"validValues": [1, 2]}, {"maxLength": 3}, {"pattern": "^a$"}],
    ids=["inRange", "validValues", "maxLength", "pattern"],
)
def test_extreme_values_against_constraints_validate_or_are_invalid(constraints: dict[str, Any]) -> None:
    declared = {"p": ParameterDeclaration.model_validate({"constraints": constraints})}
    for value in (10**400, 10**5000, "9" * 5000, nested(100), nested(3000), 1e308, -1e308):
        _validate_or_invalid(declared, {"p": value}, False)


SECRET_MARK = "s3cr3t-Zq7"


@settings(max_examples=300, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(declaration=DECLARATION, wrapper=st.sampled_from(["bare", "list", "dict", "text"]))
def test_a_secret_value_never_appears_in_the_invalid_parameters_message(
    declaration: dict[str, Any], wrapper: str
) -> None:
    declaration = {**declaration, "secret": True}
    assume(SECRET_MARK not in repr(declaration))
    try:
        declared = {"token": ParameterDeclaration.model_validate(declaration)}
    except ValidationError:
        assume(False)
        return
    value: Any = {
        "bare": SECRET_MARK,
        "list": [SECRET_MARK],
        "dict": {"k": SECRET_MARK},
        "text": f"prefix {SECRET_MARK} suffix",
    }[wrapper]
    try:
        validate_parameters(declared, {"token": value}, False)
    except InvalidParameters as error:
        assert SECRET_MARK not in error.message


# ----- what the operator asks before admission --------------------------------------------------------


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(
    spec=EXECUTION_SPEC,
    deployment=st.none() | DEPLOYMENT_SPEC,
    namespace=st.sampled_from(["shop", OPERATOR_NAMESPACE]),
)
def test_invalid_reason_is_a_message_or_none_for_any_execution_and_deployment(
    spec: dict[str, Any], deployment: dict[str, Any] | None, namespace: str
) -> None:
    why = invalid_reason(
        execution_object(spec, namespace),
        None if deployment is None else deployment_object(deployment),
        OPERATOR_NAMESPACE,
        OperatorConfig(),
    )
    assert why is None or why.strip()


SCHEMA_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})?")
"""What the CRD's `format: date-time` lets through (kube-openapi's strfmt, as the sim checks it)."""


@pytest.mark.parametrize(
    "scheduled",
    [
        "2026-01-01T00:00:00Z",
        "2026-01-01 00:00:00Z",
        "2026-01-01T00:00:00.123456789Z",
        "2026-01-01T00:00:00+05:30",
    ],
)
def test_a_scheduled_time_the_schema_accepts_becomes_an_aware_request_time(scheduled: str) -> None:
    assert SCHEMA_DATE_TIME.fullmatch(scheduled)
    request = to_request(
        execution_object({"workflow": "w", "deployment": "web", "scheduledTime": scheduled}), CREATED
    )
    assert request.scheduled_time is not None and request.scheduled_time.tzinfo is not None


def test_a_scheduled_time_in_lowercase_rfc3339_becomes_a_request_time() -> None:
    scheduled = "2026-01-01t00:00:00z"
    assert SCHEMA_DATE_TIME.fullmatch(scheduled)
    request = to_request(
        execution_object({"workflow": "w", "deployment": "web", "scheduledTime": scheduled}), CREATED
    )
    assert request.scheduled_time == CREATED


def test_a_scheduled_time_without_a_zone_becomes_an_aware_request_time() -> None:
    scheduled = "2026-01-01T00:00:00"
    assert SCHEMA_DATE_TIME.fullmatch(scheduled)
    request = to_request(
        execution_object({"workflow": "w", "deployment": "web", "scheduledTime": scheduled}), CREATED
    )
    assert request.scheduled_time is not None and request.scheduled_time.tzinfo is not None


@example(spec={"workflow": "w", "deployment": "web", "parameters": {"p": nested(100)}})
@given(spec=EXECUTION_SPEC)
def test_a_request_is_built_for_every_spec_without_a_scheduled_time(spec: dict[str, Any]) -> None:
    spec = {key: value for key, value in spec.items() if key != "scheduledTime"}
    request = to_request(execution_object(spec), CREATED)
    assert request.scheduled_time is None


def test_an_invalid_spec_field_the_schema_lets_through_is_named_in_the_message() -> None:
    obj = execution_object({"workflow": "w", "deployment": "web", "scheduledTime": "2099-02-31T00:00:00Z"})
    why = invalid_reason(obj, deployment_object({}), OPERATOR_NAMESPACE, OperatorConfig())
    assert why is not None and "scheduledTime" in why
