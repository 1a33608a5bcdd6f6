"""The admission webhook's decision (`controller.webhook_decision`): it refuses exactly what the
controller would end `failed`, in the controller's words, and lets everything else through."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from conveyor.admission import messages
from conveyor.admission.policy import DeploymentKey, ExecKey
from conveyor.api.config import OperatorConfig
from conveyor.api.models import ConditionReason
from conveyor.api.names import ANNOTATION_RESTORED_FROM
from conveyor.controller import requests
from conveyor.controller.webhook_decision import (
    INVALID_CODE,
    REJECTED_CODE,
    ObservedState,
    Refusal,
    deployment_refusal,
    execution_refusal,
    is_new_request,
    needs_state,
)

NOW = datetime(2026, 11, 27, 12, 0, 0, tzinfo=UTC)
OPS = "conveyor-system"
SHOP = "shop"
WEB = DeploymentKey(SHOP, "web")


def _deployment(workflows: dict[str, Any] | None = None, name: str = "web") -> dict[str, Any]:
    return {
        "apiVersion": "conveyor.dev/v1alpha1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": SHOP},
        "spec": {"workflows": workflows if workflows is not None else {
            "install": {
                "mapping": "web.install",
                "parameters": {"target": {"type": "string"}, "timeout": {"type": "integer", "default": 60}},
            }
        }},
    }


def _execution(name: str = "new", namespace: str = SHOP, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"deployment": "web", "workflow": "install", "parameters": {"target": "prod"}}
    body.update(spec)
    return {
        "apiVersion": "conveyor.dev/v1alpha1",
        "kind": "Execution",
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": "2026-11-27T12:00:00Z"},
        "spec": {k: v for k, v in body.items() if v is not None},
    }


def _queued_system(name: str, created: datetime) -> dict[str, Any]:
    obj = _execution(name, OPS, deployment=None, workflow="create_snapshot", parameters={})
    obj["status"] = {"phase": "queued", "createdAt": created.isoformat().replace("+00:00", "Z")}
    return obj


def _decide(
    obj: dict[str, Any],
    state: ObservedState | None = None,
    deployment: dict[str, Any] | None = None,
    config: OperatorConfig | None = None,
) -> Refusal | None:
    return execution_refusal(
        obj,
        deployment=deployment if deployment is not None else _deployment(),
        config=config if config is not None else OperatorConfig(),
        operator_namespace=OPS,
        state=state or ObservedState(),
        now=NOW,
    )


# ----- invalid requests: the controller's Invalid texts --------------------------------------------


def test_unknown_deployment_is_refused_with_the_controller_message() -> None:
    refusal = execution_refusal(
        _execution(), deployment=None, config=OperatorConfig(), operator_namespace=OPS,
        state=ObservedState(), now=NOW,
    )
    assert refusal == Refusal(ConditionReason.INVALID, requests.unknown_deployment(SHOP, "web"))
    assert refusal.code == INVALID_CODE


def test_unknown_workflow_is_refused_with_the_controller_message() -> None:
    refusal = _decide(_execution(workflow="uninstall"))
    expected = requests.invalid_reason(_execution(workflow="uninstall"), _deployment(), OPS, OperatorConfig())
    assert refusal == Refusal(ConditionReason.INVALID, expected or "")
    assert refusal is not None and refusal.message.startswith("Workflow uninstall is not declared")


def test_bad_parameters_are_refused_with_every_fault_named() -> None:
    refusal = _decide(_execution(parameters={"timeout": "soon", "colour": "red"}))
    assert refusal is not None and refusal.reason is ConditionReason.INVALID
    assert "colour" in refusal.message and "timeout" in refusal.message and "target" in refusal.message


def test_a_scheduled_time_before_the_request_is_refused_as_the_policy_words_it() -> None:
    past = NOW - timedelta(hours=1)
    refusal = _decide(_execution(scheduledTime=past.isoformat().replace("+00:00", "Z")))
    assert refusal == Refusal(ConditionReason.INVALID, messages.scheduled_in_past(past, NOW))


def test_a_system_wide_request_outside_the_operator_namespace_is_refused() -> None:
    obj = _execution(deployment=None, workflow="create_snapshot", parameters={})
    assert _decide(obj) == Refusal(ConditionReason.INVALID, requests.system_wide_outside(SHOP, OPS))


def test_a_system_wide_request_is_let_through_when_the_configuration_is_unreadable() -> None:
    obj = _execution(deployment=None, workflow="maintenance", parameters={})
    refusal = execution_refusal(
        obj, deployment=None, config=None, operator_namespace=OPS, state=ObservedState(), now=NOW
    )
    assert refusal is None


# ----- un-startable requests: the reference sentences ----------------------------------------------


def test_a_plain_request_while_its_deployment_runs_is_rejected_naming_the_runners() -> None:
    state = ObservedState(running={ExecKey(SHOP, "b-run"): WEB, ExecKey(SHOP, "a-run"): WEB})
    refusal = _decide(_execution(), state)
    assert refusal == Refusal(ConditionReason.REJECTED, messages.deployment_busy(["a-run", "b-run"]))
    assert refusal.code == REJECTED_CODE


def test_a_queued_request_while_its_deployment_runs_is_let_through() -> None:
    state = ObservedState(running={ExecKey(SHOP, "run"): WEB})
    assert _decide(_execution(queue=True), state) is None


def test_a_forced_request_while_its_deployment_runs_is_let_through() -> None:
    state = ObservedState(running={ExecKey(SHOP, "run"): WEB})
    assert _decide(_execution(force=True), state) is None


def test_a_future_scheduled_request_is_let_through_whatever_runs() -> None:
    state = ObservedState(running={ExecKey(SHOP, "run"): WEB})
    later = (NOW + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    assert _decide(_execution(scheduledTime=later), state) is None


def test_another_deployment_running_does_not_block() -> None:
    state = ObservedState(running={ExecKey(SHOP, "run"): DeploymentKey(SHOP, "db")})
    assert _decide(_execution(), state) is None


def test_a_running_system_wide_execution_rejects_even_a_forced_request() -> None:
    state = ObservedState(running={ExecKey(OPS, "snap"): None})
    refusal = _decide(_execution(force=True), state)
    assert refusal == Refusal(ConditionReason.REJECTED, messages.system_wide_running(f"{OPS}/snap"))


def test_a_waiting_system_wide_execution_rejects_a_plain_request() -> None:
    state = ObservedState(
        running={ExecKey(SHOP, "other"): DeploymentKey(SHOP, "db")},
        queued_system_wide=[_queued_system("snap", NOW - timedelta(seconds=5))],
    )
    refusal = _decide(_execution(), state)
    assert refusal == Refusal(ConditionReason.REJECTED, messages.system_wide_waiting(f"{OPS}/snap"))


def test_the_earliest_waiting_system_wide_execution_is_named() -> None:
    state = ObservedState(
        running={ExecKey(SHOP, "other"): DeploymentKey(SHOP, "db")},
        queued_system_wide=[
            _queued_system("later", NOW - timedelta(seconds=1)),
            _queued_system("first", NOW - timedelta(seconds=9)),
        ],
    )
    refusal = _decide(_execution(), state)
    assert refusal is not None and refusal.message == messages.system_wide_waiting(f"{OPS}/first")


def test_a_system_wide_request_while_anything_runs_is_rejected_naming_all() -> None:
    obj = _execution("snap", OPS, deployment=None, workflow="create_snapshot", parameters={})
    state = ObservedState(running={ExecKey(SHOP, "run"): WEB, ExecKey("web", "x"): DeploymentKey("web", "y")})
    refusal = _decide(obj, state)
    assert refusal == Refusal(ConditionReason.REJECTED, messages.others_running([f"{SHOP}/run", "web/x"]))


def test_the_cap_rejects_a_plain_request_when_reached() -> None:
    state = ObservedState(running={ExecKey(SHOP, "run"): DeploymentKey(SHOP, "db")}, max_running=1)
    refusal = _decide(_execution(), state, config=OperatorConfig(max_running_executions=1))
    assert refusal == Refusal(ConditionReason.REJECTED, messages.capacity_reached(1, 1))


def test_a_request_with_nothing_running_is_let_through() -> None:
    assert _decide(_execution()) is None


def test_invalid_wins_over_busy_as_in_the_controller() -> None:
    state = ObservedState(running={ExecKey(SHOP, "run"): WEB})
    refusal = _decide(_execution(workflow="uninstall"), state)
    assert refusal is not None and refusal.reason is ConditionReason.INVALID


# ----- what is judged at all ------------------------------------------------------------------------


def test_only_requests_without_a_status_are_new() -> None:
    decided = {**_execution(), "status": {"phase": "failed"}}
    assert is_new_request(_execution())
    assert not is_new_request(decided)


def test_a_restored_execution_is_not_a_new_request() -> None:
    restored = _execution()
    restored["metadata"]["annotations"] = {ANNOTATION_RESTORED_FROM: "nightly"}
    assert not is_new_request(restored)


def test_the_state_is_read_only_for_requests_that_must_start_now() -> None:
    assert needs_state(_execution())
    assert not needs_state(_execution(queue=True))
    assert not needs_state(_execution(scheduledTime="2030-01-01T00:00:00Z"))


# ----- Deployments ----------------------------------------------------------------------------------


def test_a_valid_deployment_is_let_through() -> None:
    assert deployment_refusal(_deployment(), None) is None


def test_a_deployment_the_controller_cannot_read_is_refused_as_executions_would_say() -> None:
    bad = _deployment({"install": {"mapping": "not a mapping"}})
    refusal = deployment_refusal(bad, None)
    assert refusal is not None and refusal.reason is ConditionReason.INVALID
    assert refusal.message.startswith("Deployment web is invalid: spec.workflows.install.mapping")


def test_a_default_that_breaks_its_declaration_is_refused() -> None:
    declared = {"n": {"type": "integer", "default": "x"}}
    bad = _deployment({"install": {"mapping": "web.install", "parameters": declared}})
    refusal = deployment_refusal(bad, None)
    assert refusal is not None
    assert refusal.message == 'Parameter "n" must be of type integer, its default is "x" (string)'


def test_an_update_that_leaves_the_spec_alone_is_never_refused() -> None:
    bad = _deployment({"install": {"mapping": "not a mapping"}})
    with_finalizer = {**bad, "metadata": {**bad["metadata"], "finalizers": ["conveyor.dev/cancel-on-delete"]}}
    assert deployment_refusal(with_finalizer, bad) is None


def test_a_deployment_being_deleted_is_never_refused() -> None:
    bad = _deployment({"install": {"mapping": "not a mapping"}})
    bad["metadata"]["deletionTimestamp"] = "2026-11-27T12:00:00Z"
    assert deployment_refusal(bad, _deployment()) is None
