"""Bad input against a running operator (issue 8, "Bad input"): generated Deployments and Executions,
valid-looking and invalid, with wrong types, huge and deeply nested parameters, any Unicode, names at
the length limits, unknown deployments and workflows, undeclared parameters and odd scheduled times.

What must hold, whatever arrives:
- what the CRD schema refuses, the API server refuses with 422 Invalid (never a 5xx); unknown
  fields are pruned (`kubectl create --validate=false` included), so the operator only ever sees
  objects the schema allows;
- every Execution the server accepted gets a status; a failed one says why (`status.error`, and a
  condition whose reason is Invalid or Rejected with the same message) and has an Event; an invalid
  one's message names what is at fault (the deployment, the workflow, the undeclared parameters);
- the operator never crashes or stalls: its admission loop never hits its last-resort handler, and
  a plain execution created after the storm is admitted within seconds;
- nothing else is disturbed: an execution of another deployment that was running keeps running and
  keeps its lease.

The storm's size comes from the hypothesis profile: "ci" (the default) keeps it within the suite's
budget; HYPOTHESIS_PROFILE=long generates at least 10,000 cases (run it by hand, not in CI).
"""

from __future__ import annotations

import collections
import logging
import os
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kubernetes.client.rest import ApiException
from operator_harness import Cluster, OperatorThread, WorkerStandIn, wait_for
from pydantic import ValidationError

from conveyor.api.models import ExecutionSpec
from conveyor.api.names import GROUP, VERSION

LONG = os.environ.get("HYPOTHESIS_PROFILE") == "long"
STORM_CASES = int(os.environ.get("CONVEYOR_STORM_CASES", 10_000 if LONG else 150))
"""CONVEYOR_STORM_CASES overrides the count, to reproduce a finding at a given size."""
DEPLOYMENT_STORM_CASES = 2_000 if LONG else 30
SETTLE_SECONDS = 120.0 if LONG else 30.0
ADMITTED_WITHIN = 5.0
LIST_INTERVAL = 0.5 if not LONG else 5.0
"""Each poll lists every execution: in the long storm, thousands of them."""
STORM_TIMEOUT = pytest.mark.timeout(3600 if LONG else 120)
"""The suite's per-test limit (pyproject: 120 s) holds for the short storm; the long one takes longer."""
STORM = settings(
    max_examples=STORM_CASES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
"""Each generated case is one API request; shrinking is off the table (the check is after the storm),
so what matters is the number and variety of cases."""

TOOLS_WORKFLOWS: dict[str, Any] = {
    "install": {
        "mapping": "web_workflows.install",
        "parameters": {"target": {"type": "string", "default": "x"}},
    },
    "strict": {
        "mapping": "web_workflows.strict",
        "parameters": {
            "count": {"type": "integer", "constraints": {"inRange": {"min": 0, "max": 10}}},
            "mode": {"type": "string", "default": "fast", "constraints": {"validValues": ["fast", "safe"]}},
            "label": {
                "type": "string",
                "default": "a",
                "constraints": {"pattern": "^[a-z]+$", "maxLength": 8},
            },
            "flags": {"type": "list", "default": []},
            "options": {"type": "dict", "default": {}},
            "ratio": {"type": "float", "default": 0.5},
            "dry": {"type": "boolean", "default": False},
        },
    },
}
DECLARED = {name: set(body["parameters"]) for name, body in TOOLS_WORKFLOWS.items()}
BUILTIN_DEPLOYMENT_WORKFLOWS = {"execute_operation"}
HUGE = "x" * (300 * 1024)


def nested(depth: int) -> Any:
    value: Any = "leaf"
    for level in range(depth):
        value = {"n": value} if level % 2 else [value]
    return value


# ----- strategies ------------------------------------------------------------------------------------

TEXT = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), min_size=1, max_size=10)
"""Any Unicode the API carries (no lone surrogates, no NUL): RTL marks, emoji, control characters."""
INT64 = st.integers(-(2**63), 2**63 - 1)
"""Integers Kubernetes keeps as integers; larger ones are tested on their own (see below)."""
ODD_TEXT = st.sampled_from(
    ["\u202egnp.exe\u202c", "שלום עולם", "🚀🔥" * 3, "\x1b[31mred\x07", "a\tb\nc", " "]
)
SCALAR = st.none() | st.booleans() | INT64 | st.floats(allow_nan=False, allow_infinity=False) | TEXT
JSON = st.recursive(
    SCALAR,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=12,
)
STORM_HUGE = "x" * (16 * 1024) if LONG else HUGE
"""In the long storm, thousands of 300 KiB objects would measure the API server's memory, not the
operator: there the huge value is smaller (test_a_huge_and_deep_parameter_set_... keeps 300 KiB)."""
BIG_VALUES = st.sampled_from([STORM_HUGE, nested(100), ["y" * 1024] * 100, {f"k{i}": i for i in range(2000)}])
WRONG_TYPE = st.just(None) | INT64 | st.lists(INT64, max_size=2) | st.just({"a": 1}) | TEXT
PARAM_NAMES = (
    st.sampled_from([*sorted(DECLARED["strict"]), "target", "undeclared", "x" * 253]) | TEXT | ODD_TEXT
)


def one_wrong(valid: st.SearchStrategy[dict[str, Any]], keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    """A schema-valid object with one field given a wrong type: the API server must refuse it (422)."""
    return st.builds(lambda spec, key, bad: {**spec, key: bad}, valid, st.sampled_from(keys), WRONG_TYPE)


SCHEMA_SCHEDULED = st.sampled_from(
    [
        "2099-01-01T00:00:00Z",
        "2099-01-01T00:00:00.123456789Z",
        "2099-01-01 00:00:00Z",
        "2099-01-01T00:00:00+05:30",
        "2000-01-01T00:00:00Z",
        "2099-02-31T00:00:00Z",
    ]
)
"""Spellings the CRD's date-time format accepts (the past, and a day February lacks, included)."""
LOOSE_EXECUTION_SPECS = st.fixed_dictionaries(
    {"workflow": st.sampled_from(["install", "strict", "execute_operation", "nope"]) | TEXT | ODD_TEXT},
    optional={
        "deployment": st.sampled_from(["tools", "tools", "nowhere", "n" * 253]) | TEXT,
        "parameters": st.dictionaries(PARAM_NAMES, JSON | BIG_VALUES, max_size=4),
        "force": st.booleans(),
        "queue": st.booleans(),
        "dryRun": st.booleans(),
        "allowCustomParameters": st.booleans(),
        "scheduledTime": SCHEMA_SCHEDULED,
        "cancel": st.sampled_from(["graceful", "force", "kill"]),
        "unknownField": JSON,
    },
)
"""Anything the schema allows: unknown targets, undeclared and ill-typed parameters, any Unicode."""


def mostly(valid: st.SearchStrategy[Any], odd: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Three times in four a value that meets the declaration, else one that nearly does."""
    return st.one_of(valid, valid, valid, odd)


STRICT_PARAMETERS = st.fixed_dictionaries(
    {"count": mostly(st.integers(0, 10), st.integers(-2, 12) | st.sampled_from(["3", "3.0", "x", 3.5]))},
    optional={
        "mode": mostly(st.sampled_from(["fast", "safe"]), st.sampled_from(["slow", "FAST"])),
        "label": mostly(st.sampled_from(["abc", "z"]), st.sampled_from(["ABC", "toolonglabel", ""]) | TEXT),
        "flags": mostly(st.lists(SCALAR, max_size=3), st.sampled_from(["[1, 2]", "nope"])),
        "options": mostly(st.dictionaries(TEXT, SCALAR, max_size=2), st.sampled_from(['{"a": 1}', "[]"])),
        "ratio": mostly(
            st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(["0.5", "1e400", "x"])
        ),
        "dry": mostly(st.booleans(), st.sampled_from(["true", "False", "yes"])),
    },
)
VALID_LOOKING_EXECUTION_SPECS = st.fixed_dictionaries(
    {"deployment": st.just("tools"), "workflow": st.just("strict"), "parameters": STRICT_PARAMETERS},
    optional={"force": st.booleans(), "queue": st.booleans(), "scheduledTime": SCHEMA_SCHEDULED},
).filter(lambda spec: not (spec.get("queue") and spec.get("force")))
"""Requests that look right: declared parameters, near the right types and constraints."""
EXECUTION_KEYS = [
    "workflow",
    "deployment",
    "parameters",
    "force",
    "queue",
    "dryRun",
    "scheduledTime",
    "cancel",
]
EXECUTION_SPECS = st.one_of(
    VALID_LOOKING_EXECUTION_SPECS,
    VALID_LOOKING_EXECUTION_SPECS,
    LOOSE_EXECUTION_SPECS,
    LOOSE_EXECUTION_SPECS,
    one_wrong(LOOSE_EXECUTION_SPECS, EXECUTION_KEYS),
)
DECLARATION = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["integer", "float", "boolean", "string", "list", "dict"]),
        "default": JSON,
        "description": TEXT,
        "required": st.booleans(),
        "secret": st.booleans(),
        "constraints": st.fixed_dictionaries(
            {},
            optional={
                "validValues": st.lists(SCALAR, max_size=3),
                "inRange": st.fixed_dictionaries(
                    {}, optional={"min": INT64, "max": st.floats(allow_nan=False, allow_infinity=False)}
                ),
                "pattern": st.sampled_from(["^[a-z]+$", "(", "[", ".*"]),
                "minLength": st.integers(0, 5),
                "maxLength": st.integers(0, 5),
            },
        ),
    },
)
"""Declarations the schema allows, self-consistent or not (a default of the wrong type, a pattern
that is not a regular expression): executions against them must still end with a clear status."""
WORKFLOW_DECLARATION = st.fixed_dictionaries(
    {"mapping": st.sampled_from(["flows.install", "a.b.c", "x.y"])},
    optional={"parameters": st.dictionaries(PARAM_NAMES, DECLARATION, max_size=3), "description": TEXT},
)
VALID_DEPLOYMENT_SPECS = st.fixed_dictionaries(
    {},
    optional={
        "inputs": st.dictionaries(TEXT, JSON | BIG_VALUES, max_size=3),
        "source": st.fixed_dictionaries({}, optional={"configMap": TEXT}),
        "worker": st.fixed_dictionaries(
            {},
            optional={
                "idleTimeoutSeconds": st.integers(0, 10**6),
                "env": st.lists(st.fixed_dictionaries({"name": TEXT}, optional={"value": TEXT}), max_size=2),
            },
        ),
        "retries": st.fixed_dictionaries({}, optional={"taskRetries": st.integers(-1, 5)}),
        "workflows": st.dictionaries(
            st.sampled_from(["install", "x"]) | TEXT, WORKFLOW_DECLARATION, max_size=3
        ),
        "unknownField": JSON,
    },
)
DEPLOYMENT_SPECS = st.one_of(
    VALID_DEPLOYMENT_SPECS,
    VALID_DEPLOYMENT_SPECS,
    VALID_DEPLOYMENT_SPECS,
    one_wrong(VALID_DEPLOYMENT_SPECS, ["inputs", "source", "worker", "retries", "workflows"]),
)


# ----- the storm's bookkeeping -----------------------------------------------------------------------


@dataclass
class Storm:
    """What was sent and how the API server answered; checked once the operator has had its say."""

    cluster: Cluster
    created: dict[str, dict[str, Any]] = field(default_factory=dict)
    refused: list[tuple[int, str]] = field(default_factory=list)
    count: int = 0

    def create(self, plural: str, name: str, spec: Any) -> bool:
        kind = "Execution" if plural == "executions" else "Deployment"
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": kind, "metadata": {"name": name}, "spec": spec}
        try:
            self.cluster.custom.create_namespaced_custom_object(
                GROUP, VERSION, self.cluster.namespace, plural, body, field_validation="Ignore"
            )
        except ApiException as error:
            self.refused.append((error.status, str(error.body)[:300]))
            return False
        if plural == "executions":
            self.created[name] = spec
        return True

    def summary(self, objects: dict[str, dict[str, Any]]) -> str:
        """The figures (shown with `pytest -s`): what the server refused, what the operator decided."""
        phases = collections.Counter(o["status"]["phase"] for o in objects.values())
        reasons = collections.Counter(
            (o["status"].get("conditions") or [{}])[-1].get("reason") for o in objects.values()
        )
        fields = collections.Counter(
            m.group(1) if (m := re.search(r"is invalid: ([\w.\[\]]+)", body)) else body[:80]
            for _, body in self.refused
        )
        return (
            f"{self.count} requests: {len(self.refused)} refused by the API server {dict(fields)}, "
            f"{len(self.created)} executions decided: {dict(phases)}, reasons {dict(reasons)}"
        )

    def next_name(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}-{self.count}"


def expected_fault(spec: dict[str, Any]) -> list[str] | None:
    """Words an Invalid message must contain, for the faults the test can tell on its own; None when
    the request may be valid, or is invalid in a way the test does not predict (a date the schema
    lets through but that does not exist): its status must then only be clear."""
    try:
        ExecutionSpec.model_validate(spec)
    except ValidationError:
        return None
    deployment, workflow = spec.get("deployment"), spec["workflow"]
    if deployment is None:
        return [workflow]  # system-wide: no such system workflow (the test never asks for a real one)
    if deployment != "tools":
        return [deployment]
    if workflow in BUILTIN_DEPLOYMENT_WORKFLOWS:
        return None
    if workflow not in DECLARED:
        return [workflow]
    undeclared = sorted(set(spec.get("parameters") or {}) - DECLARED[workflow])
    if undeclared and not spec.get("allowCustomParameters"):
        return undeclared
    return None


def wait_for_statuses(
    cluster: Cluster, storm: Storm, timeout: float, records: list[logging.LogRecord]
) -> dict[str, dict[str, Any]]:
    """Every execution the storm created, as listed once all have a phase; on timeout, fail saying how
    many are undecided, the spec of the oldest one, and what the admission loop logged."""
    names = set(storm.created)
    latest: dict[str, dict[str, Any]] = {}

    def all_decided() -> bool:
        latest.clear()
        latest.update(
            {o["metadata"]["name"]: o for o in cluster.list_executions() if o["metadata"]["name"] in names}
        )
        return all((latest.get(n, {}).get("status") or {}).get("phase") for n in names)

    def decided() -> int:
        return sum(1 for o in latest.values() if (o.get("status") or {}).get("phase"))

    deadline = time.monotonic() + timeout
    all_decided()
    at_start = decided()
    while not all_decided():
        if time.monotonic() > deadline:
            undecided = sorted(
                (n for n in names if not (latest.get(n, {}).get("status") or {}).get("phase")),
                key=lambda n: int(n.rsplit("-", 1)[-1]),
            )
            raise AssertionError(
                f"{len(undecided)} of {len(names)} execution(s) never got a status ({decided() - at_start} "
                f"decided in the last {timeout:g} s), from {undecided[0]}: "
                f"{str(storm.created[undecided[0]])[:300]}; admission loop: {crashes(records)[:3]}, "
                f"{len(resyncs(records))} resyncs, the last: {resyncs(records)[-3:]}"
            )
        time.sleep(LIST_INTERVAL)  # each poll lists every execution: not in a tight loop
    return latest


def events_by_object(
    cluster: Cluster, names: Iterable[str] = (), within: float = 15.0
) -> dict[str, list[tuple[str, str]]]:
    """The Events of the namespace by object. The operator posts an Event after the status it
    reports (from its outbox), so this waits, up to `within` seconds, until each of `names` has one."""
    deadline = time.monotonic() + within
    while True:
        found: dict[str, list[tuple[str, str]]] = {}
        for event in cluster.core.list_namespaced_event(cluster.namespace).items:
            found.setdefault(event.involved_object.name or "", []).append(
                (event.reason or "", event.message or "")
            )
        if all(found.get(name) for name in names) or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def clear_failure(obj: dict[str, Any]) -> str | None:
    """What is unclear about a failed execution's status, or None when it says why it failed."""
    status = obj["status"]
    error = status.get("error") or ""
    if not error.strip():
        return "no status.error"
    reasons = {c.get("reason") for c in status.get("conditions") or [] if c.get("message") == error}
    if not reasons & {"Invalid", "Rejected"}:
        return f"no Invalid/Rejected condition carrying the error (conditions: {status.get('conditions')})"
    return None


# ----- fixtures -----------------------------------------------------------------------------------


@pytest.fixture
def admission_errors(caplog: pytest.LogCaptureFixture) -> Iterator[list[logging.LogRecord]]:
    """What the operator logged (its admission loop at INFO, for its resyncs): a record of the loop's
    last-resort handler is a crash the loop survived."""
    with (
        caplog.at_level(logging.WARNING, logger="conveyor"),
        caplog.at_level(logging.INFO, logger="conveyor.controller.admission_loop"),
    ):
        yield caplog.records


@pytest.fixture
def steady(cluster: Cluster, operator: OperatorThread, worker: WorkerStandIn) -> Iterator[str]:
    """A running execution of another deployment, which no bad input may disturb (its lease renewed,
    as its worker would: the long storm lasts longer than a lease)."""
    cluster.deployment("steady")
    name = cluster.execution(deployment="steady")
    worker.claim(name)
    with worker.renewing("steady"):
        yield name


def assert_undisturbed(cluster: Cluster, steady: str) -> None:
    assert cluster.phase(steady) == "started"
    assert cluster.lease_holders("steady") == [steady]


def assert_admits_promptly(cluster: Cluster, measure_for: float = 60.0) -> None:
    """A plain execution of a fresh deployment is admitted within ADMITTED_WITHIN seconds; a slower
    admission is measured (up to `measure_for`) so the failure says whether admission stalled or crawled."""
    cluster.deployment("after")
    name = cluster.execution(deployment="after")
    began = time.monotonic()
    try:
        cluster.wait_phase(name, "pending", timeout=measure_for)
    except AssertionError:
        raise AssertionError(
            f"no plain execution admitted within {measure_for:g} s: admission stalled"
        ) from None
    took = time.monotonic() - began
    assert took <= ADMITTED_WITHIN, f"a plain execution took {took:.1f} s to be admitted"


def resyncs(records: list[logging.LogRecord]) -> list[str]:
    """Why the admission loop re-listed every execution, each time it did."""
    return [r.getMessage() for r in records if "resync" in r.getMessage()]


def crashes(records: list[logging.LogRecord]) -> list[str]:
    """The admission loop's last-resort catches, with the exception each one caught."""
    return [
        f"{r.getMessage()}: {r.exc_info[1]!r}" if r.exc_info else r.getMessage()
        for r in records
        if "unexpected error" in r.getMessage()
    ]


# ----- the storms ---------------------------------------------------------------------------------


@STORM_TIMEOUT
def test_an_execution_storm_gets_clear_statuses_and_leaves_the_operator_healthy(
    cluster: Cluster, operator: OperatorThread, steady: str, admission_errors: list[logging.LogRecord]
) -> None:
    cluster.deployment("tools", TOOLS_WORKFLOWS)
    storm = Storm(cluster)

    @STORM
    @given(spec=EXECUTION_SPECS)
    def send(spec: dict[str, Any]) -> None:
        storm.create("executions", storm.next_name("x"), spec)

    send()

    assert storm.created, "the schema let nothing through: the generator is wrong"
    assert all(status == 422 for status, _ in storm.refused), (
        f"not a 422: {[r for r in storm.refused if r[0] != 422][:5]}"
    )
    objects = wait_for_statuses(cluster, storm, SETTLE_SECONDS, admission_errors)
    print(storm.summary(objects))
    events = events_by_object(cluster, objects)
    unclear = []
    for name, obj in objects.items():
        spec = obj["spec"]  # as stored: unknown fields pruned, defaults applied
        assert "unknownField" not in spec
        if not events.get(name):
            unclear.append(f"{name}: no Event")
        if obj["status"]["phase"] != "failed":
            assert expected_fault(spec) is None, (
                f"{name} should be invalid: {str(spec)[:300]} -> {obj['status']}"
            )
            continue
        problem = clear_failure(obj)
        words = expected_fault(spec)
        if problem is None and words is not None:
            missing = [w for w in words if w not in obj["status"]["error"]]
            problem = f"the message does not name {missing}" if missing else None
        if problem is not None:
            unclear.append(f"{name}: {problem}: {obj['status'].get('error')!r}")
    assert not unclear, f"{len(unclear)} unclear outcome(s) of {len(objects)}:\n" + "\n".join(unclear[:10])
    assert not crashes(admission_errors)
    assert_undisturbed(cluster, steady)
    assert_admits_promptly(cluster)


@STORM_TIMEOUT
def test_a_deployment_storm_gets_statuses_and_its_executions_clear_outcomes(
    cluster: Cluster, operator: OperatorThread, steady: str, admission_errors: list[logging.LogRecord]
) -> None:
    storm = Storm(cluster)

    @settings(STORM, max_examples=DEPLOYMENT_STORM_CASES)
    @given(spec=DEPLOYMENT_SPECS, parameters=st.dictionaries(PARAM_NAMES, JSON, max_size=3))
    def send(spec: dict[str, Any], parameters: dict[str, Any]) -> None:
        name = storm.next_name("d")
        if storm.create("deployments", name, spec):
            workflows = list(spec.get("workflows") or {}) or ["install"]
            storm.create(
                "executions",
                storm.next_name("x"),
                {"deployment": name, "workflow": workflows[0], "parameters": parameters},
            )

    send()

    assert storm.created, "no generated Deployment was accepted: the generator is wrong"
    objects = wait_for_statuses(cluster, storm, SETTLE_SECONDS, admission_errors)
    print(storm.summary(objects))
    events = events_by_object(cluster, objects)
    unclear = [f"{n}: no Event" for n in objects if not events.get(n)]
    unclear += [
        f"{n}: {p}"
        for n, o in objects.items()
        if o["status"]["phase"] == "failed" and (p := clear_failure(o))
    ]
    assert not unclear, "\n".join(unclear[:10])
    assert not crashes(admission_errors)
    assert_undisturbed(cluster, steady)
    assert_admits_promptly(cluster)


# ----- focused cases --------------------------------------------------------------------------------


def test_type_invalid_values_are_refused_by_the_api_server_with_422(cluster: Cluster, crds: None) -> None:
    storm = Storm(cluster)
    for spec in (
        {"workflow": 42},
        {"workflow": "install", "deployment": "web", "force": "yes"},
        {"workflow": "install", "deployment": "web", "parameters": ["a"]},
        {"workflow": "install", "deployment": "web", "scheduledTime": "tomorrow"},
        {"workflow": "install", "deployment": "web", "cancel": "now"},
        {"workflow": "install", "deployment": "d" * 254},
        {"workflow": "install", "deployment": "web", "queue": True, "force": True},
    ):
        assert not storm.create("executions", storm.next_name("bad"), spec), spec
    assert [status for status, _ in storm.refused] == [422] * 7


@pytest.mark.sim_only
def test_an_integer_beyond_int64_is_refused_with_422_not_500(cluster: Cluster, crds: None) -> None:
    storm = Storm(cluster)
    storm.create("executions", "overflow", {"workflow": "install", "deployment": "web", "force": 2**64})
    assert [status for status, _ in storm.refused] == [422]


def test_unknown_fields_sent_with_validate_false_are_pruned_and_the_execution_admitted(
    cluster: Cluster, operator: OperatorThread
) -> None:
    cluster.deployment()
    manifest = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Execution",
        "metadata": {"name": "pruned", "namespace": cluster.namespace, "labels": {"team": "ops"}},
        "spec": {
            "deployment": "web",
            "workflow": "install",
            "bogus": {"deep": nested(20)},
            "shell": "$(rm -rf /)",
        },
        "unknownTopLevel": True,
    }
    cluster.kubectl("create", "--validate=false", "-f", "-", input=yaml.safe_dump(manifest))
    obj = cluster.wait_phase("pruned", "pending")
    assert "bogus" not in obj["spec"] and "shell" not in obj["spec"] and "unknownTopLevel" not in obj


def test_a_type_invalid_value_sent_with_validate_false_is_still_refused(cluster: Cluster, crds: None) -> None:
    manifest = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "Execution",
        "metadata": {"name": "mistyped", "namespace": cluster.namespace},
        "spec": {"deployment": "web", "workflow": "install", "force": "definitely"},
    }
    result = cluster.kubectl(
        "create", "--validate=false", "-f", "-", input=yaml.safe_dump(manifest), check=False
    )
    assert result.returncode != 0 and "Invalid" in result.stderr and "force" in result.stderr
    assert cluster.get("mistyped") is None


@pytest.mark.parametrize("length", [63, 64, 253])
def test_a_deployment_named_at_the_length_limits_runs_its_executions(
    cluster: Cluster, operator: OperatorThread, length: int
) -> None:
    name = ("d" * length)[:length]
    cluster.deployment(name)
    execution = cluster.execution(deployment=name)
    cluster.wait_phase(execution, "pending")

    def label() -> str:
        metadata = (cluster.get(execution) or {}).get("metadata") or {}
        return str((metadata.get("labels") or {}).get("conveyor.dev/deployment") or "")

    assert len(wait_for(label, what="the deployment label")) <= 63
    assert cluster.lease_holders(name) == [execution]


@pytest.mark.parametrize("length", [63, 245, 252, 253])
def test_an_execution_with_a_long_name_has_an_event_for_each_transition(
    cluster: Cluster, operator: OperatorThread, worker: WorkerStandIn, length: int
) -> None:
    cluster.deployment()
    name = "e" * length
    Storm(cluster).create("executions", name, {"deployment": "web", "workflow": "install"})
    worker.run(name)
    expected = ["Admitted", "Started", "Succeeded"]
    wait_for(
        lambda: sorted(cluster.events_for(name)) == sorted(expected),
        timeout=5,
        what=f"events {expected} (are {cluster.events_for(name)})",
    )


@pytest.mark.parametrize(
    "scheduled",
    ["2099-01-01T00:00:00.123456789Z", "2099-01-01 00:00:00Z", "2099-01-01T00:00:00+05:30"],
)
def test_a_scheduled_time_in_any_rfc3339_spelling_is_scheduled(
    cluster: Cluster, operator: OperatorThread, scheduled: str
) -> None:
    cluster.deployment()
    cluster.wait_phase(cluster.execution(scheduledTime=scheduled), "scheduled")


@pytest.mark.parametrize(
    "scheduled",
    [
        "2099-01-01T00:00:00",
        "2099-01-01t00:00:00z",
    ],
)
def test_a_scheduled_time_in_lowercase_or_without_a_zone_is_scheduled(
    cluster: Cluster, operator: OperatorThread, admission_errors: list[logging.LogRecord], scheduled: str
) -> None:
    cluster.deployment()
    name = cluster.execution(scheduledTime=scheduled)
    assert (
        cluster.wait_phase(name, "scheduled", "pending", "failed", timeout=5)["status"]["phase"]
        == "scheduled"
    )
    assert not crashes(admission_errors)


def test_a_huge_and_deep_parameter_set_is_admitted_and_other_work_goes_on(
    cluster: Cluster, operator: OperatorThread, steady: str
) -> None:
    cluster.deployment()
    name = cluster.execution(allowCustomParameters=True, parameters={"big": HUGE, "deep": nested(100)})
    obj = cluster.wait_phase(name, "pending")
    assert len(obj["spec"]["parameters"]["big"]) == len(HUGE)
    assert_undisturbed(cluster, steady)
    assert_admits_promptly(cluster)


def test_an_execution_the_operator_cannot_read_does_not_stall_other_admissions(
    cluster: Cluster, operator: OperatorThread
) -> None:
    """Whatever one object does to the admission loop, the others are still admitted within seconds."""
    cluster.deployment()
    cluster.execution(scheduledTime="2099-01-01t00:00:00z")
    assert_admits_promptly(cluster, measure_for=ADMITTED_WITHIN)
