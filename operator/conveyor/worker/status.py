"""The status writes a worker makes on an Execution: pure builders of JSON merge patches.

What must hold (DESIGN.md, S3): the claim and the final write are compare-and-swaps on the
`resourceVersion` they were decided on, so two worker pods cannot both start one execution and a
worker never overwrites a final status the operator wrote first (kill, worker lost). Progress
writes carry no version: they only touch `operations` / `succeededTasks`, which the worker alone
writes, and the last one wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from conveyor.api.models import ConditionReason, ConditionStatus, ConditionType, ExecutionPhase
from conveyor.kube.times import rfc3339

ERROR_MAX_CHARS = 4000
"""status.error stays readable in `kubectl describe`, and far below the object size limit."""


def _seconds(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _condition(
    status: ConditionStatus, reason: ConditionReason, message: str, now: datetime, generation: int | None
) -> dict[str, Any]:
    built: dict[str, Any] = {
        "type": ConditionType.SUCCEEDED.value,
        "status": status.value,
        "reason": reason.value,
        "message": message,
        "lastTransitionTime": _seconds(now),
    }
    if generation is not None:
        built["observedGeneration"] = generation
    return built


def _with_condition(execution: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """A merge patch replaces a list whole: keep the other condition types (Admitted)."""
    old = (execution.get("status") or {}).get("conditions") or []
    return [c for c in old if c.get("type") != new["type"]] + [new]


def _cas(execution: dict[str, Any]) -> dict[str, Any]:
    return {"resourceVersion": (execution.get("metadata") or {}).get("resourceVersion")}


def claim_patch(execution: dict[str, Any], pod: str, now: datetime) -> dict[str, Any]:
    """pending → started by `pod`; Succeeded becomes Unknown (running), so `kubectl wait` has a
    condition to watch from the start."""
    generation = (execution.get("metadata") or {}).get("generation")
    condition = _condition(
        ConditionStatus.UNKNOWN, ConditionReason.STARTED, f"Started by worker {pod}", now, generation
    )
    return {
        "metadata": _cas(execution),
        "status": {
            "phase": ExecutionPhase.STARTED.value,
            "worker": pod,
            "startedAt": rfc3339(now),
            "conditions": _with_condition(execution, condition),
        },
    }


def progress_patch(total: int, finished: int, succeeded_tasks: Sequence[str] | None) -> dict[str, Any]:
    status: dict[str, Any] = {"operations": {"total": total, "finished": finished}}
    if succeeded_tasks is not None:
        status["succeededTasks"] = list(succeeded_tasks)
    return {"status": status}


_FINAL = {
    "terminated": (ExecutionPhase.TERMINATED, ConditionStatus.TRUE, ConditionReason.SUCCEEDED),
    "failed": (ExecutionPhase.FAILED, ConditionStatus.FALSE, ConditionReason.WORKFLOW_FAILED),
    "cancelled": (ExecutionPhase.CANCELLED, ConditionStatus.FALSE, ConditionReason.CANCELLED),
}


def final_patch(
    execution: dict[str, Any],
    outcome: str,
    now: datetime,
    *,
    error: str | None,
    traceback: str | None,
    total: int,
    finished: int,
    succeeded_tasks: Sequence[str] | None,
    resumable: bool | None = None,
) -> dict[str, Any]:
    """The one write that ends an execution: phase, endedAt, error, Succeeded, final progress, and
    whether its workflow is resumable (None: it never resolved; the operator then refuses a resume).

    `status.error` is the one-line error followed by the short traceback (there is no other field
    for it); the condition's message is the first line only, so `kubectl wait` output stays short.
    """
    phase, status_value, reason = _FINAL[outcome]
    generation = (execution.get("metadata") or {}).get("generation")
    headline = (error or "").splitlines()[0] if error else ""
    message = {
        "terminated": "Workflow succeeded",
        "failed": headline or "Workflow failed",
        "cancelled": headline or "Cancelled",
    }[outcome]
    status: dict[str, Any] = {
        "phase": phase.value,
        "endedAt": rfc3339(now),
        "observedGeneration": generation,
        "conditions": _with_condition(execution, _condition(status_value, reason, message, now, generation)),
        **progress_patch(total, finished, succeeded_tasks)["status"],
    }
    if resumable is not None:
        status["resumable"] = resumable
    if outcome != "terminated":
        text = error or message
        if traceback:
            text = f"{text}\n{traceback}"
        status["error"] = text[:ERROR_MAX_CHARS]
    return {"metadata": _cas(execution), "status": status}
