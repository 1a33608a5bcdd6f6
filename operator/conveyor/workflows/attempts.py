"""One task's attempts: call, classify the outcome, wait and retry. Runs in the task's own thread.

The final event of a task (succeeded / failed / cancelled) is reported by the scheduler, not here,
so that a thread abandoned after a force cancel cannot report anything once the scheduler has
written it off; started and retrying events come from here, in order, for the same reason.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from conveyor.workflows import dryrun
from conveyor.workflows.errors import (
    NonRecoverableError,
    OperationRetry,
    RecoverableError,
    TaskCancelled,
    WorkflowCancelled,
)
from conveyor.workflows.tasks import UNLIMITED_RETRIES, Subgraph, Task, TaskState

if TYPE_CHECKING:
    from conveyor.workflows.context import WorkflowContext


@dataclasses.dataclass(frozen=True)
class TaskOutcome:
    state: TaskState
    result: Any = None
    error: str | None = None


def describe_error(error: BaseException) -> str:
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def _retries_left(task: Task, attempt: int) -> bool:
    return task.retries == UNLIMITED_RETRIES or attempt <= task.retries


def _call(task: Task, ctx: WorkflowContext, attempt: int, run_subgraph: Callable[[Subgraph], None]) -> Any:
    if isinstance(task, Subgraph):
        run_subgraph(task)
        return None
    operation_ctx = ctx.operation_context(task, attempt)
    if ctx.dry_run:
        dryrun.log_skipped_call(operation_ctx.logger, task.operation, task.kwargs)
        return None
    assert task.function is not None
    return task.function(operation_ctx, **task.kwargs)


def run_attempts(task: Task, ctx: WorkflowContext, run_subgraph: Callable[[Subgraph], None]) -> TaskOutcome:
    """Run `task` until it succeeds, fails for good, or cancellation stops it.

    Any exception other than NonRecoverableError is worth a retry (as in the reference system);
    an exception raised after a force cancel is taken as the task's reaction to it, not a failure.
    A task waiting to retry is not running: any cancel request ends the wait and the task.
    """
    token = ctx.cancel_token
    attempt = 0
    while True:
        attempt += 1
        task.attempts = attempt
        ctx.reporter.task_started(task.info(attempt))
        try:
            return TaskOutcome(TaskState.SUCCEEDED, _call(task, ctx, attempt, run_subgraph))
        except (TaskCancelled, WorkflowCancelled) as error:
            return TaskOutcome(TaskState.CANCELLED, error=describe_error(error))
        except NonRecoverableError as error:
            return TaskOutcome(TaskState.FAILED, error=describe_error(error))
        except Exception as error:
            if token.forced:
                reason = f"stopped by force cancel ({describe_error(error)})"
                return TaskOutcome(TaskState.CANCELLED, error=reason)
            if not _retries_left(task, attempt):
                return TaskOutcome(TaskState.FAILED, error=describe_error(error))
            retry_after = error.retry_after if isinstance(error, RecoverableError | OperationRetry) else None
            delay = task.retry_interval if retry_after is None else retry_after
            ctx.reporter.task_retrying(task.info(attempt), describe_error(error), delay)
            if token.wait(delay):
                reason = f"cancel requested ({token.mode}) before retrying"
                return TaskOutcome(TaskState.CANCELLED, error=reason)
