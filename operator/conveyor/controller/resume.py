"""Resuming an execution (DESIGN.md, "Cancelling"/"Resuming"): pure decisions and status patches.

The annotation `conveyor.dev/resume: "<token>"` asks for a resume; `status.resumeToken` records the
last token acted on, so each distinct token is acted on once and a repeated one does nothing.

What must hold:
- only a `failed` or `cancelled` execution whose worker reported `status.resumable: true` (its
  workflow is `@workflow(resumable=True)`) is resumed; anything else is refused with a message that
  says why (an Event always; `status.error` too when the execution is final and could have been
  resumed but for its workflow), and its phase is left as it is;
- a resume is a new attempt through admission, as a new request: the status loses its phase (the
  admission loop then decides it like any new Execution, with the same rules, messages and
  queueing), `attempt` goes up by one, `createdAt` is now (its place in the queue is a new
  request's), the run's fields are cleared, and `succeededTasks` is kept so the worker skips them;
- the write is a CAS on the version the decision was made on, like every status write.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from conveyor.api.models import FINAL_PHASES, ExecutionPhase
from conveyor.api.names import ANNOTATION_RESUME
from conveyor.kube.times import rfc3339

RESUMED = "Resumed"
RESUME_REFUSED = "ResumeRefused"
RESUMABLE_PHASES = frozenset({ExecutionPhase.FAILED, ExecutionPhase.CANCELLED})


@dataclass(frozen=True)
class Resume:
    token: str
    attempt: int
    """The new attempt's number."""


@dataclass(frozen=True)
class RefuseResume:
    token: str
    message: str
    set_error: bool
    """Also say it in `status.error` (a final execution that only its workflow keeps from resuming)."""


def _phase(obj: dict[str, Any]) -> ExecutionPhase | None:
    raw = (obj.get("status") or {}).get("phase")
    try:
        return ExecutionPhase(raw) if raw else None
    except ValueError:
        return None


def decide_resume(obj: dict[str, Any]) -> Resume | RefuseResume | None:
    """What to do about the resume annotation of `obj`; None: nothing (none, or acted on already)."""
    token = ((obj.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION_RESUME)
    status = obj.get("status") or {}
    phase = _phase(obj)
    if not token or token == status.get("resumeToken") or phase is None:
        return None
    workflow = (obj.get("spec") or {}).get("workflow", "")
    if phase not in RESUMABLE_PHASES:
        state = "has ended terminated" if phase in FINAL_PHASES else f"is {phase.value}"
        return RefuseResume(
            token, f"Resume refused: the execution {state}; only a failed or cancelled one can be resumed",
            set_error=False,
        )
    if status.get("resumable") is not True:
        why = (
            f"workflow {workflow!r} is not resumable (declare it @workflow(resumable=True))"
            if status.get("resumable") is False
            else f"it is not known whether workflow {workflow!r} is resumable (it never ran)"
        )
        return RefuseResume(token, f"Resume refused: {why}", set_error=True)
    return Resume(token, int(status.get("attempt") or 1) + 1)


def resume_patch(obj: dict[str, Any], decision: Resume, now: datetime) -> dict[str, Any]:
    """A new attempt: no phase (admission decides it again), the run's fields cleared."""
    cleared = ("phase", "error", "waitingFor", "admittedAt", "startedAt", "endedAt", "worker", "operations")
    status: dict[str, Any] = dict.fromkeys(cleared)
    status.update(
        {
            "attempt": decision.attempt,
            "resumeToken": decision.token,
            "createdAt": rfc3339(now),
            "conditions": [],
        }
    )
    return {"metadata": {"resourceVersion": obj["metadata"]["resourceVersion"]}, "status": status}


def refusal_patch(obj: dict[str, Any], decision: RefuseResume) -> dict[str, Any]:
    """The token recorded (so it is refused once), and the reason in `error` when it should be."""
    status: dict[str, Any] = {"resumeToken": decision.token}
    if decision.set_error:
        earlier = (obj.get("status") or {}).get("error")
        status["error"] = f"{decision.message}. It ended: {earlier}" if earlier else decision.message
    return {"metadata": {"resourceVersion": obj["metadata"]["resourceVersion"]}, "status": status}
