"""Status patches the operator writes (conveyor.controller.status) and the Events both processes post
(conveyor.kube.events)."""

from __future__ import annotations

from datetime import UTC, datetime

from conveyor.api.models import ConditionReason, ExecutionPhase
from conveyor.controller.status import Transition, deployment_status_patch, execution_status_patch
from conveyor.kube.events import OPERATOR_COMPONENT, build_event

NOW = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
EXECUTION = {
    "metadata": {
        "name": "install-1",
        "namespace": "shop",
        "resourceVersion": "12",
        "generation": 1,
        "uid": "u",
    },
    "spec": {"deployment": "web", "workflow": "install"},
}


def _patch(phase: ExecutionPhase, reason: ConditionReason, message: str = "m") -> dict:
    return execution_status_patch(EXECUTION, Transition(phase, reason, message), NOW, created_at=NOW)


def test_every_status_patch_is_a_cas_on_the_version_read() -> None:
    assert _patch(ExecutionPhase.QUEUED, ConditionReason.QUEUED)["metadata"] == {"resourceVersion": "12"}


def test_admission_sets_pending_admitted_at_and_the_admitted_condition() -> None:
    status = _patch(ExecutionPhase.PENDING, ConditionReason.ADMITTED)["status"]
    assert status["phase"] == "pending" and status["admittedAt"] == "2026-01-02T03:04:05.678000Z"
    assert [(c["type"], c["status"]) for c in status["conditions"]] == [("Admitted", "True")]


def test_a_rejection_is_final_with_the_message_as_error_and_both_conditions() -> None:
    status = _patch(ExecutionPhase.FAILED, ConditionReason.REJECTED, "busy")["status"]
    assert status["phase"] == "failed" and status["error"] == "busy" and "endedAt" in status
    assert {(c["type"], c["status"], c["reason"]) for c in status["conditions"]} == {
        ("Admitted", "False", "Rejected"),
        ("Succeeded", "False", "Rejected"),
    }


def test_created_at_is_written_once() -> None:
    decided = {**EXECUTION, "status": {"createdAt": "2026-01-01T00:00:00.000Z"}}
    patch = execution_status_patch(
        decided, Transition(ExecutionPhase.PENDING, ConditionReason.ADMITTED, ""), NOW, created_at=NOW
    )
    assert "createdAt" not in patch["status"]


def test_a_new_condition_keeps_the_conditions_of_other_types() -> None:
    queued = {**EXECUTION, "status": {"conditions": [{"type": "Other", "status": "True", "reason": "X"}]}}
    patch = execution_status_patch(
        queued, Transition(ExecutionPhase.PENDING, ConditionReason.ADMITTED, ""), NOW
    )
    assert [c["type"] for c in patch["status"]["conditions"]] == ["Other", "Admitted"]


def test_an_event_names_its_execution_and_is_unique_even_at_one_moment() -> None:
    event = build_event(EXECUTION, "Queued", "waiting", NOW, component=OPERATOR_COMPONENT)
    assert event["involvedObject"]["name"] == "install-1" and event["involvedObject"]["uid"] == "u"
    assert event["metadata"]["namespace"] == "shop" and event["reason"] == "Queued"
    assert (
        build_event(EXECUTION, "Queued", "w", NOW, component=OPERATOR_COMPONENT)["metadata"]["name"]
        != event["metadata"]["name"]
    )


def test_deployment_status_says_deleting_while_executions_are_cancelled() -> None:
    status = deployment_status_patch(["b", "a"], 1, 0, "conveyor-worker-web", 3, deleting_message="waiting")[
        "status"
    ]
    assert status["phase"] == "Deleting" and status["workflows"] == ["a", "b"] and status["running"] == 1


def test_an_event_says_which_component_posted_it() -> None:
    event = build_event(EXECUTION, "Started", "by w", NOW, component="conveyor-worker", instance="pod-1")
    assert (event["reportingComponent"], event["reportingInstance"]) == ("conveyor-worker", "pod-1")
    assert event["source"] == {"component": "conveyor-worker"}


def test_an_event_message_is_cut_to_what_the_api_server_accepts() -> None:
    event = build_event(EXECUTION, "Failed", "x" * 5000, NOW, component=OPERATOR_COMPONENT, warning=True)
    assert len(event["message"]) == 1024 and event["type"] == "Warning"
