"""What a task or a workflow can say about how it ended.

The classes carry meaning, not codes: the task engine decides from the class alone whether to
retry (RecoverableError, OperationRetry, any other exception), to give up at once
(NonRecoverableError), or to stop because cancellation was asked for (TaskCancelled).
"""

from __future__ import annotations

from collections.abc import Sequence


class RecoverableError(Exception):
    """The operation failed but may succeed if run again (a connection refused, a 503).

    The task is retried while it has retries left, after `retry_after` seconds if given, otherwise
    after the task's retry interval.
    """

    def __init__(self, message: str = "", retry_after: float | None = None) -> None:
        super().__init__(message)
        if retry_after is not None and retry_after < 0:
            raise ValueError(f"retry_after must be >= 0, got {retry_after}")
        self.retry_after = retry_after


class NonRecoverableError(Exception):
    """The operation failed and running it again cannot help: the task fails at once, retries or not."""


class OperationRetry(Exception):
    """Not a failure: the operation asks to be run again with the same kwargs (e.g. "not ready yet").

    It counts against the task's retries, like the reference system's `ctx.operation.retry()`, so a
    polling operation cannot loop forever unless its task allows unlimited retries (-1).
    """

    def __init__(self, message: str = "", retry_after: float | None = None) -> None:
        super().__init__(message)
        if retry_after is not None and retry_after < 0:
            raise ValueError(f"retry_after must be >= 0, got {retry_after}")
        self.retry_after = retry_after


class TaskCancelled(Exception):
    """Raised inside a task that stops because a force cancel was requested (see CancelToken)."""


class WorkflowCancelled(Exception):
    """A graph (or the workflow) stopped because cancellation was requested.

    `abandoned` names the tasks whose threads did not stop within the force grace period: they may
    still be running, detached, when the execution is reported cancelled.
    """

    def __init__(self, mode: str, abandoned: Sequence[str] = ()) -> None:
        self.mode = mode
        self.abandoned = tuple(abandoned)
        message = f"cancelled ({mode})"
        if self.abandoned:
            message += f"; abandoned running tasks: {', '.join(self.abandoned)}"
        super().__init__(message)


class WorkflowFailed(Exception):
    """A graph ended with failed tasks; `failures` maps each failed task id to its error text."""

    def __init__(self, failures: dict[str, str]) -> None:
        self.failures = dict(failures)
        details = "; ".join(f"{task_id}: {error}" for task_id, error in self.failures.items())
        super().__init__(f"{len(self.failures)} task(s) failed: {details}")
