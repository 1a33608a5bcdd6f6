"""Status patches the operator writes on Executions and Deployments: pure builders.

Every Execution patch carries `metadata.resourceVersion` (the version the decision was made on), so
the API server applies it as a compare-and-swap: two admitters can never both decide one execution,
and a decision made on a stale copy fails with 409 instead of overwriting a newer status.
Each patch is one whole transition (phase, times, error, conditions), written in one request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from conveyor.api.models import ConditionReason, ConditionStatus, ConditionType, ExecutionPhase
from conveyor.kube.times import rfc3339, seconds


def condition(
    kind: ConditionType,
    status: ConditionStatus,
    reason: ConditionReason,
    message: str,
    now: datetime,
    generation: int | None,
) -> dict[str, Any]:
    built: dict[str, Any] = {
        "type": kind.value,
        "status": status.value,
        "reason": reason.value,
        "message": message,
        "lastTransitionTime": seconds(now),
    }
    if generation is not None:
        built["observedGeneration"] = generation
    return built


def _merge_conditions(existing: list[dict[str, Any]], new: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Conditions keyed by type: a merge patch replaces the whole list, so keep the others."""
    replaced = {c["type"] for c in new}
    return [c for c in existing if c.get("type") not in replaced] + new


@dataclass(frozen=True)
class Transition:
    """One status change the operator makes, with its Event: what it is and why."""

    phase: ExecutionPhase
    reason: ConditionReason
    message: str
    event_type: str = "Normal"


def execution_status_patch(
    execution: dict[str, Any],
    transition: Transition,
    now: datetime,
    *,
    created_at: datetime | None = None,
    system_wide: bool | None = None,
    waiting_for: str | None = None,
) -> dict[str, Any]:
    """The merge patch for `transition`, a CAS on the version of `execution` as it was read."""
    metadata = execution.get("metadata") or {}
    old = execution.get("status") or {}
    generation = metadata.get("generation")
    phase = transition.phase
    status: dict[str, Any] = {"phase": phase.value, "observedGeneration": generation}
    if created_at is not None and "createdAt" not in old:
        status["createdAt"] = rfc3339(created_at)
    if system_wide is not None:
        status["systemWide"] = system_wide
    if waiting_for is not None:
        status["waitingFor"] = waiting_for
    conditions: list[dict[str, Any]] = []
    if phase is ExecutionPhase.PENDING:
        status["admittedAt"] = rfc3339(now)
        status["waitingFor"] = None
        conditions.append(
            condition(
                ConditionType.ADMITTED,
                ConditionStatus.TRUE,
                transition.reason,
                transition.message,
                now,
                generation,
            )
        )
    elif phase in (ExecutionPhase.QUEUED, ExecutionPhase.SCHEDULED):
        conditions.append(
            condition(
                ConditionType.ADMITTED,
                ConditionStatus.FALSE,
                transition.reason,
                transition.message,
                now,
                generation,
            )
        )
    elif phase in (ExecutionPhase.FAILED, ExecutionPhase.CANCELLED, ExecutionPhase.TERMINATED):
        status["endedAt"] = rfc3339(now)
        status["waitingFor"] = None
        if transition.reason in (ConditionReason.REJECTED, ConditionReason.INVALID):
            conditions.append(
                condition(
                    ConditionType.ADMITTED,
                    ConditionStatus.FALSE,
                    transition.reason,
                    transition.message,
                    now,
                    generation,
                )
            )
        succeeded = ConditionStatus.TRUE if phase is ExecutionPhase.TERMINATED else ConditionStatus.FALSE
        conditions.append(
            condition(
                ConditionType.SUCCEEDED, succeeded, transition.reason, transition.message, now, generation
            )
        )
        if phase is not ExecutionPhase.TERMINATED:
            status["error"] = transition.message
    if conditions:
        status["conditions"] = _merge_conditions(list(old.get("conditions") or []), conditions)
    return {"metadata": {"resourceVersion": metadata.get("resourceVersion")}, "status": status}


def execution_metadata_patch(
    execution: dict[str, Any], *, labels: dict[str, str] | None = None, finalizers: list[str] | None = None
) -> dict[str, Any]:
    """Labels and finalizers (not writable through /status), as a CAS: finalizers are a list, which a
    merge patch replaces whole, so it must be computed on the version it replaces."""
    metadata: dict[str, Any] = {"resourceVersion": (execution.get("metadata") or {}).get("resourceVersion")}
    if labels:
        metadata["labels"] = labels
    if finalizers is not None:
        metadata["finalizers"] = finalizers
    return {"metadata": metadata}


def deployment_status_patch(
    workflows: list[str],
    running: int,
    queued: int,
    worker: str | None,
    generation: int | None,
    *,
    deleting_message: str | None = None,
) -> dict[str, Any]:
    """The Deployment's status: what it offers and how busy it is (no CAS: the operator alone writes
    it and the last write wins, which is the newest count)."""
    return {
        "status": {
            "phase": "Deleting" if deleting_message else "Ready",
            "message": deleting_message,
            "workflows": sorted(workflows),
            "running": running,
            "queued": queued,
            "worker": worker,
            "observedGeneration": generation,
        }
    }
