"""The Event reasons a worker posts on an Execution (built by `conveyor.kube.events`, which says
who posts what): its two transitions, the claim and the end, and within a run its tasks and what the
workflow sends."""

from __future__ import annotations

from conveyor.api.models import ConditionReason

STARTED = ConditionReason.STARTED.value
TASK_STARTED = "TaskStarted"
TASK_SUCCEEDED = "TaskSucceeded"
TASK_FAILED = "TaskFailed"
TASK_RETRYING = "TaskRetrying"
TASK_SKIPPED = "TaskSkipped"
TASK_CANCELLED = "TaskCancelled"
WORKFLOW_EVENT = "WorkflowEvent"

_ENDINGS = {
    "terminated": ConditionReason.SUCCEEDED.value,
    "failed": "Failed",
    "cancelled": ConditionReason.CANCELLED.value,
}
_LIFECYCLE_WORDS = frozenset({"started", "terminated", "failed", "cancelled"})
_WARNING_LEVELS = frozenset({"warning", "error", "critical"})


def end_reason(outcome: str) -> str:
    """The reason of the Event for a final status the worker wrote (`terminated` → Succeeded)."""
    return _ENDINGS[outcome]


def is_workflow_lifecycle(workflow: str, message: str) -> bool:
    """The framework announces a workflow's start and end as "Workflow <name> <what>[: ...]": those
    are the transitions' Events already, so the worker only logs them."""
    prefix = f"Workflow {workflow} "
    if not message.startswith(prefix):
        return False
    return message[len(prefix):].split(":", 1)[0].strip() in _LIFECYCLE_WORDS


def event_type(level: str) -> str:
    return "Warning" if level in _WARNING_LEVELS else "Normal"
