"""`run_workflow`: the one call the worker makes to run an execution attempt.

It never raises for anything the workflow does: every ending maps to one final status, as S3
requires ("reaches exactly one final status"). A cancel request always ends `cancelled`, even if the
workflow then ran to its end, because the operator has already shown the execution as cancelling.
"""

from __future__ import annotations

import dataclasses
import traceback
from collections.abc import Mapping
from typing import Any

from conveyor.workflows.context import WorkflowContext
from conveyor.workflows.decorator import WorkflowFunction, workflow_spec
from conveyor.workflows.errors import WorkflowCancelled, WorkflowFailed

TRACEBACK_LINES = 20


@dataclasses.dataclass(frozen=True)
class WorkflowOutcome:
    """status: "terminated" | "failed" | "cancelled" (the Execution's final phase).

    error: one line for `status.error`; traceback: its last lines, for a failure in workflow code.
    """

    status: str
    result: Any = None
    error: str | None = None
    traceback: str | None = None
    abandoned: tuple[str, ...] = ()


def _short_traceback(error: BaseException) -> str:
    lines = "".join(traceback.format_exception(error)).splitlines()
    return "\n".join(lines[-TRACEBACK_LINES:])


def run_workflow(
    fn: WorkflowFunction, ctx: WorkflowContext, parameters: Mapping[str, Any]
) -> WorkflowOutcome:
    """Call `fn(ctx, **parameters)` in the calling thread and say how it ended.

    `ctx.resumable` is taken from the function's `@workflow` spec, the one source of truth for it.
    The worker runs this in the execution's own thread; on a force cancel it may stop waiting for
    that thread after the grace period, as the engine does for task threads.
    """
    spec = workflow_spec(fn)
    if spec is not None:
        ctx.resumable = spec.resumable
    ctx.reporter.event(f"Workflow {ctx.workflow_name} started", "info", {"dryRun": ctx.dry_run})
    outcome = _call(fn, ctx, parameters)
    if outcome.status != "cancelled" and ctx.cancel_token.requested:
        outcome = WorkflowOutcome("cancelled", outcome.result, f"cancelled ({ctx.cancel_token.mode})")
    level = {"terminated": "info", "cancelled": "warning"}.get(outcome.status, "error")
    message = f"Workflow {ctx.workflow_name} {outcome.status}"
    ctx.reporter.event(message + (f": {outcome.error}" if outcome.error else ""), level, {})
    return outcome


def _call(fn: WorkflowFunction, ctx: WorkflowContext, parameters: Mapping[str, Any]) -> WorkflowOutcome:
    try:
        result = fn(ctx, **parameters)
    except WorkflowCancelled as error:
        return WorkflowOutcome("cancelled", error=str(error), abandoned=error.abandoned)
    except WorkflowFailed as error:
        return WorkflowOutcome("failed", error=str(error))
    except Exception as error:
        return WorkflowOutcome("failed", error=f"{type(error).__name__}: {error}",
                               traceback=_short_traceback(error))
    return WorkflowOutcome("terminated", result)
