"""Parameter validation against a workflow's declared parameters (DESIGN.md, "Resources")."""

from __future__ import annotations

import json
import re
import string
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conveyor.admission.parameters import REDACTED, InvalidParameters, redact, validate_parameters
from conveyor.api.models import ParameterDeclaration


def declare(**declarations: dict[str, Any]) -> dict[str, ParameterDeclaration]:
    return {name: ParameterDeclaration.model_validate(d) for name, d in declarations.items()}


def problems(
    declared: dict[str, ParameterDeclaration], given: dict[str, Any], allow_custom: bool = False
) -> str:
    with pytest.raises(InvalidParameters) as caught:
        validate_parameters(declared, given, allow_custom, workflow="install")
    return caught.value.message


# ----------------------------------------------------------------------------------- defaults, custom


def test_defaults_fill_parameters_not_given() -> None:
    assert validate_parameters(declare(timeout={"default": 60}), {}, False) == {"timeout": 60}


def test_a_given_value_wins_over_the_default() -> None:
    assert validate_parameters(declare(timeout={"default": 60}), {"timeout": 5}, False) == {"timeout": 5}


def test_a_given_null_takes_the_default() -> None:
    assert validate_parameters(declare(timeout={"default": 60}), {"timeout": None}, False) == {"timeout": 60}


def test_an_optional_parameter_without_default_is_left_out() -> None:
    assert validate_parameters(declare(tag={"required": False}), {}, False) == {}


def test_undeclared_parameters_are_refused_all_named_sorted() -> None:
    message = problems(declare(), {"zeta": 1, "alpha": 2})
    assert message == (
        'Workflow "install" does not have the following parameters declared: alpha, zeta. '
        "Remove these parameters or set allowCustomParameters: true"
    )


def test_undeclared_parameters_pass_unchanged_with_allow_custom_parameters() -> None:
    assert validate_parameters(declare(), {"extra": "1"}, True) == {"extra": "1"}


def test_messages_name_the_workflow_only_when_told() -> None:
    with pytest.raises(InvalidParameters, match=r"^The workflow does not have"):
        validate_parameters(declare(), {"x": 1}, False)


# --------------------------------------------------------------------------------------------- missing


def test_missing_required_parameters_are_all_named() -> None:
    message = problems(declare(b={"type": "string"}, a={}, c={"default": 1}), {})
    assert message == 'Workflow "install" must be provided with the following parameters to execute: a, b'


def test_a_given_null_for_a_required_parameter_counts_as_missing() -> None:
    assert "to execute: target" in problems(declare(target={"type": "string"}), {"target": None})


def test_required_true_with_a_default_is_satisfied_by_the_default() -> None:
    assert validate_parameters(declare(x={"required": True, "default": 2}), {}, False) == {"x": 2}


def test_every_kind_of_fault_is_reported_at_once() -> None:
    declared = declare(n={"type": "integer"}, env={"constraints": {"validValues": ["a"]}}, must={})
    lines = problems(declared, {"n": "x", "env": "b", "bogus": 1}).splitlines()
    assert [line.split()[0] for line in lines] == ["Workflow", "Parameter", "Parameter", "Workflow"]


# ----------------------------------------------------------------------------------------------- types


@pytest.mark.parametrize(
    ("given", "expected"), [("true", True), ("FALSE", False), (" True ", True), (True, True)]
)
def test_boolean_accepts_true_and_false_strings(given: Any, expected: bool) -> None:
    assert validate_parameters(declare(b={"type": "boolean"}), {"b": given}, False) == {"b": expected}


@pytest.mark.parametrize("given", ["yes", 1, 0, "1"])
def test_boolean_refuses_other_values(given: Any) -> None:
    assert 'Parameter "b" must be of type boolean' in problems(declare(b={"type": "boolean"}), {"b": given})


@pytest.mark.parametrize(("given", "expected"), [("42", 42), ("-7", -7), (42, 42), (42.0, 42)])
def test_integer_accepts_integral_numbers_and_numeric_strings(given: Any, expected: int) -> None:
    result = validate_parameters(declare(n={"type": "integer"}), {"n": given}, False)
    assert result == {"n": expected} and type(result["n"]) is int


@pytest.mark.parametrize("given", ["4.2", 4.5, True, "abc", [1]])
def test_integer_refuses_what_is_not_an_integer_without_rounding(given: Any) -> None:
    assert 'Parameter "n" must be of type integer' in problems(declare(n={"type": "integer"}), {"n": given})


@pytest.mark.parametrize(("given", "expected"), [("4.5", 4.5), ("3", 3.0), (3, 3.0), (2.5, 2.5)])
def test_float_accepts_numbers_and_numeric_strings(given: Any, expected: float) -> None:
    result = validate_parameters(declare(x={"type": "float"}), {"x": given}, False)
    assert result == {"x": expected} and type(result["x"]) is float


@pytest.mark.parametrize("given", ["nan", "inf", "x", False])
def test_float_refuses_non_numbers_and_non_finite_strings(given: Any) -> None:
    assert "must be of type float" in problems(declare(x={"type": "float"}), {"x": given})


def test_string_refuses_a_number_rather_than_guessing_its_spelling() -> None:
    message = problems(declare(version={"type": "string"}), {"version": 1.1})
    assert message == 'Parameter "version" must be of type string, got 1.1 (float)'


def test_list_accepts_a_json_array_string() -> None:
    assert validate_parameters(declare(xs={"type": "list"}), {"xs": "[1, 2]"}, False) == {"xs": [1, 2]}


def test_dict_accepts_a_json_object_string() -> None:
    assert validate_parameters(declare(d={"type": "dict"}), {"d": '{"a": 1}'}, False) == {"d": {"a": 1}}


def test_dict_refuses_a_json_array_string() -> None:
    assert "must be of type dict" in problems(declare(d={"type": "dict"}), {"d": "[1]"})


def test_an_untyped_parameter_takes_any_value_unchanged() -> None:
    assert validate_parameters(declare(x={}), {"x": "42"}, False) == {"x": "42"}


def test_a_default_of_the_wrong_type_is_reported_as_the_default() -> None:
    message = problems(declare(n={"type": "integer", "default": "sixty"}), {})
    assert message == 'Parameter "n" must be of type integer, its default is "sixty" (string)'


def test_wrong_types_are_all_reported() -> None:
    message = problems(declare(a={"type": "integer"}, b={"type": "boolean"}), {"a": "x", "b": "y"})
    assert 'Parameter "a"' in message and 'Parameter "b"' in message


# ----------------------------------------------------------------------------------------- constraints


def test_valid_values_constraint() -> None:
    declared = declare(env={"type": "string", "constraints": {"validValues": ["dev", "prod"]}})
    message = problems(declared, {"env": "qa"})
    assert message == 'Parameter "env" does not meet its constraints: "qa" is not one of ["dev", "prod"]'


def test_valid_values_do_not_take_true_for_1() -> None:
    assert "is not one of" in problems(declare(x={"constraints": {"validValues": [1]}}), {"x": True})


def test_valid_values_compare_after_conversion() -> None:
    declared = declare(n={"type": "integer", "constraints": {"validValues": [1, 2]}})
    assert validate_parameters(declared, {"n": "2"}, False) == {"n": 2}


def test_in_range_minimum() -> None:
    declared = declare(n={"type": "integer", "constraints": {"inRange": {"min": 1, "max": 5}}})
    assert "0 is less than the minimum 1" in problems(declared, {"n": 0})


def test_in_range_maximum() -> None:
    declared = declare(n={"type": "integer", "constraints": {"inRange": {"min": 1, "max": 5}}})
    assert "6 is greater than the maximum 5" in problems(declared, {"n": "6"})


def test_in_range_bounds_are_inclusive() -> None:
    declared = declare(n={"type": "float", "constraints": {"inRange": {"min": 1, "max": 5}}})
    assert validate_parameters(declared, {"n": 5}, False) == {"n": 5.0}


def test_in_range_refuses_a_non_number() -> None:
    assert "is not a number" in problems(declare(n={"constraints": {"inRange": {"min": 1}}}), {"n": "3"})


def test_pattern_must_match_the_whole_string() -> None:
    declared = declare(tag={"type": "string", "constraints": {"pattern": "v[0-9]+"}})
    assert 'does not match the pattern "v[0-9]+"' in problems(declared, {"tag": "v1-beta"})


def test_an_invalid_pattern_is_reported_not_raised() -> None:
    assert "is not a regular expression" in problems(declare(t={"constraints": {"pattern": "("}}), {"t": "x"})


def test_min_length_applies_to_strings() -> None:
    declared = declare(s={"type": "string", "constraints": {"minLength": 3}})
    assert "shorter than the minimum length 3" in problems(declared, {"s": "ab"})


def test_max_length_applies_to_lists() -> None:
    declared = declare(xs={"type": "list", "constraints": {"maxLength": 1}})
    assert "longer than the maximum length 1" in problems(declared, {"xs": [1, 2]})


def test_length_constraints_refuse_a_number() -> None:
    assert "has no length" in problems(declare(n={"constraints": {"minLength": 1}}), {"n": 5})


def test_all_unmet_constraints_of_a_parameter_are_named() -> None:
    declared = declare(s={"constraints": {"pattern": "[a-z]+", "maxLength": 2}})
    message = problems(declared, {"s": "ABC"})
    assert "does not match" in message and "longer than" in message


def test_defaults_must_meet_the_constraints_too() -> None:
    declared = declare(n={"default": 9, "constraints": {"inRange": {"max": 5}}})
    assert 'Parameter "n" (its default) does not meet its constraints' in problems(declared, {})


# ------------------------------------------------------------------------------------------------ secret


def test_secret_values_never_appear_in_type_errors() -> None:
    message = problems(declare(token={"type": "integer", "secret": True}), {"token": "hunter2"})
    assert "hunter2" not in message and "got a string" in message


def test_secret_values_never_appear_in_constraint_errors() -> None:
    declared = declare(token={"secret": True, "constraints": {"minLength": 10}})
    assert "hunter2" not in problems(declared, {"token": "hunter2"})


def test_redact_masks_secret_parameters_only() -> None:
    declared = declare(token={"secret": True}, user={})
    assert redact(declared, {"token": "hunter2", "user": "bob", "extra": 1}) == {
        "token": REDACTED,
        "user": "bob",
        "extra": 1,
    }


def test_redact_keeps_null_secrets_visible_as_null() -> None:
    assert redact(declare(token={"secret": True}), {"token": None}) == {"token": None}


# -------------------------------------------------------------------------------------------- properties

_NAMES = st.text(string.ascii_lowercase, min_size=1, max_size=6)
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-1000, 1000),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
_JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_NAMES, inner, max_size=3),
    max_leaves=6,
)


@st.composite
def _valid_parameter(draw: st.DrawFn) -> tuple[dict[str, Any], list[Any]]:
    """A declaration and values that meet it, some spelled as strings the validator must convert."""
    kind = draw(st.sampled_from([None, "integer", "float", "boolean", "string", "list", "dict"]))
    native: st.SearchStrategy[Any] = {
        None: _JSON.filter(lambda v: v is not None),
        "integer": st.integers(-(10**6), 10**6),
        "float": st.floats(-1e6, 1e6, allow_nan=False),
        "boolean": st.booleans(),
        "string": st.text(max_size=10),
        "list": st.lists(_JSON, max_size=3),
        "dict": st.dictionaries(_NAMES, _JSON, max_size=3),
    }[kind]
    values = draw(st.lists(native, min_size=1, max_size=3))
    spelled = [draw(st.sampled_from(_spellings(kind, v))) for v in values]
    declaration: dict[str, Any] = {} if kind is None else {"type": kind}
    constraints: dict[str, Any] = {}
    if kind in ("integer", "float") and draw(st.booleans()):
        constraints["inRange"] = {"min": min(values), "max": max(values)}
    if kind == "string" and draw(st.booleans()):
        constraints["pattern"] = "|".join(re.escape(v) for v in values)
    if kind in ("string", "list", "dict") and draw(st.booleans()):
        constraints["minLength"] = min(len(v) for v in values)
        constraints["maxLength"] = max(len(v) for v in values)
    if kind in ("boolean", "string", "integer") and draw(st.booleans()):
        constraints["validValues"] = values
    if constraints:
        declaration["constraints"] = constraints
    if draw(st.booleans()):
        declaration["default"] = values[0]
    if draw(st.booleans()):
        declaration["required"] = draw(st.booleans())
    return declaration, spelled


def _spellings(kind: str | None, value: Any) -> list[Any]:
    if kind in ("integer", "float"):
        return [value, repr(value)]
    if kind == "boolean":
        return [value, str(value).lower(), str(value).upper()]
    if kind in ("list", "dict"):
        return [value, json.dumps(value)]
    return [value]


@st.composite
def _valid_request(draw: st.DrawFn) -> tuple[dict[str, ParameterDeclaration], dict[str, Any]]:
    params = draw(st.dictionaries(_NAMES, _valid_parameter(), max_size=5))
    declared = {name: ParameterDeclaration.model_validate(d) for name, (d, _) in params.items()}
    given: dict[str, Any] = {}
    for name, (_, values) in params.items():
        if declared[name].is_required or draw(st.booleans()):
            given[name] = draw(st.sampled_from(values))
    return declared, given


@given(_valid_request())
def test_valid_requests_are_accepted_and_their_effective_parameters_are_a_fixed_point(
    request_: tuple[dict[str, ParameterDeclaration], dict[str, Any]],
) -> None:
    declared, given_ = request_
    effective = validate_parameters(declared, given_, False)
    assert validate_parameters(declared, effective, False) == effective


@given(_valid_request(), st.dictionaries(_NAMES, _JSON, max_size=3), st.booleans())
def test_whatever_validation_accepts_it_accepts_again_unchanged(
    request_: tuple[dict[str, ParameterDeclaration], dict[str, Any]],
    noise: dict[str, Any],
    allow_custom: bool,
) -> None:
    declared, given_ = request_
    try:
        effective = validate_parameters(declared, {**given_, **noise}, allow_custom)
    except InvalidParameters:
        return
    assert validate_parameters(declared, effective, allow_custom) == effective
