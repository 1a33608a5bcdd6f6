"""Runs one graph body: schedules ready tasks on their own threads and decides how the graph ends.

What must hold:
- a task starts only after every task it depends on succeeded; a task depending on a failed,
  cancelled or skipped task never starts (it is reported skipped);
- at most `max_parallel` tasks of the body run at once;
- after a failure (fail_fast) or any cancel request, no new task starts; running ones finish;
- on force cancel, running tasks see the token; those still running after the grace period are
  abandoned (their threads are daemons, left detached) and the graph ends cancelled;
- the scheduler waits on a condition notified by task completions and cancel requests, never polls.

Each task gets a new daemon thread rather than a pool: an abandoned thread must not hold up a pool
or the interpreter's exit.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

from conveyor.workflows.attempts import TaskOutcome, run_attempts
from conveyor.workflows.cancellation import CancelMode
from conveyor.workflows.errors import WorkflowCancelled, WorkflowFailed
from conveyor.workflows.reporting import SUCCEEDED
from conveyor.workflows.tasks import GraphBody, Subgraph, Task, TaskState

if TYPE_CHECKING:
    from conveyor.workflows.context import WorkflowContext


class _Scheduler:
    def __init__(self, body: GraphBody, ctx: WorkflowContext) -> None:
        self.body = body
        self.ctx = ctx
        self.condition = threading.Condition()
        self.completed: list[tuple[Task, TaskOutcome]] = []
        self.running: dict[Task, threading.Thread] = {}
        self.failures: dict[str, str] = {}
        self.abandoned: list[str] = []

    # -- preparing

    def prepare(self) -> None:
        """Reset what did not succeed (a retried subgraph re-runs only that) and apply checkpoints.

        A task skipped from a checkpoint has no result in this attempt (`task.result` is None).
        """
        for task in self.body.tasks:
            if task.state is not TaskState.SUCCEEDED:
                task.state, task.error, task.abandoned = TaskState.PENDING, None, False
        self.ctx.progress.add(task.id for task in self.body.leaves())
        if not self.ctx.resumable or self.ctx.dry_run:
            return
        checkpoints = self.ctx.reporter.checkpoints
        for task in self.body.tasks:
            if not isinstance(task, Subgraph) and task.state is TaskState.PENDING \
                    and checkpoints.get(task.id) == SUCCEEDED:
                task.state, task.resumed = TaskState.SUCCEEDED, True
                self.ctx.reporter.task_skipped(task.info(), "succeeded in a previous attempt")
                self.ctx.progress.finish(task.id)

    # -- scheduling (all under self.condition)

    def ready(self) -> list[Task]:
        return [
            task for task in self.body.tasks
            if task.state is TaskState.PENDING
            and all(dep.state is TaskState.SUCCEEDED for dep in self.body.dependencies[task])
        ]

    def start(self, task: Task) -> None:
        task.state = TaskState.RUNNING
        thread = threading.Thread(target=self._run, args=(task,), name=f"task:{task.id}", daemon=True)
        self.running[task] = thread
        thread.start()

    def _run(self, task: Task) -> None:
        """Whatever happens, report a completion: a thread that died silently would hang the graph."""
        try:
            outcome = run_attempts(task, self.ctx, run_subgraph=lambda sub: execute_body(sub.body, self.ctx))
        except BaseException as error:  # SystemExit from task code, a reporter that raised, ...
            outcome = TaskOutcome(TaskState.FAILED, error=f"{type(error).__name__}: {error}")
        with self.condition:
            if task.abandoned:
                return
            self.completed.append((task, outcome))
            self.condition.notify_all()

    def settle(self) -> None:
        """Record finished tasks and report their final events, in completion order."""
        while self.completed:
            task, outcome = self.completed.pop(0)
            self.running.pop(task, None)
            task.state, task.result, task.error = outcome.state, outcome.result, outcome.error
            reporter = self.ctx.reporter
            if outcome.state is TaskState.SUCCEEDED:
                reporter.task_succeeded(task.info())
                if self.ctx.resumable and not self.ctx.dry_run and not isinstance(task, Subgraph):
                    reporter.checkpoint(task.id, SUCCEEDED)
            elif outcome.state is TaskState.FAILED:
                self.failures[task.id] = outcome.error or "failed"
                reporter.task_failed(task.info(), outcome.error or "failed")
            else:
                reporter.task_cancelled(task.info(), outcome.error or "cancelled")
            if not isinstance(task, Subgraph) and outcome.state in (TaskState.SUCCEEDED, TaskState.FAILED):
                self.ctx.progress.finish(task.id)
            if outcome.state is not TaskState.SUCCEEDED:
                self.skip_dependents(task)

    def skip_dependents(self, failed: Task) -> None:
        stack = list(self.body.dependents(failed))
        while stack:
            task = stack.pop()
            if task.state is TaskState.PENDING:
                self.skip(task, f"depends on {failed.id}, which {failed.state}")
                stack.extend(self.body.dependents(task))

    def skip(self, task: Task, reason: str) -> None:
        task.state = TaskState.SKIPPED
        self.ctx.reporter.task_skipped(task.info(), reason)

    def stopping(self) -> bool:
        return self.ctx.cancel_token.requested or (self.body.fail_fast and bool(self.failures))

    def schedule(self) -> None:
        """Start ready tasks until the limit; return when nothing runs and nothing more may start."""
        with self.condition:
            while True:
                self.settle()
                if self.ctx.cancel_token.forced:
                    return
                if not self.stopping():
                    for task in self.ready()[: self.body.max_parallel - len(self.running)]:
                        self.start(task)
                if not self.running:
                    return
                self.condition.wait()

    def drain_after_force(self) -> None:
        """Give running tasks the grace period to react to the token, then abandon the rest."""
        grace = self.ctx.defaults.force_grace_period
        deadline = time.monotonic() + grace
        with self.condition:
            while True:
                self.settle()
                remaining = deadline - time.monotonic()
                if not self.running or remaining <= 0:
                    break
                self.condition.wait(remaining)
            for task in list(self.running):
                task.abandoned, task.state = True, TaskState.ABANDONED
                self.abandoned.append(task.id)
                reason = f"abandoned: still running {grace:g}s after the force cancel"
                self.ctx.reporter.task_cancelled(task.info(), reason)
            self.running.clear()

    def finish(self) -> None:
        token = self.ctx.cancel_token
        if token.forced:
            self.drain_after_force()
        if token.requested:
            reason = f"not started: cancel requested ({token.mode})"
        else:
            first = next(iter(self.failures), "?")
            reason = f"not started: the graph stopped after {first} failed"
        for task in self.body.tasks:
            if task.state is TaskState.PENDING:
                self.skip(task, reason)
        if token.requested:
            raise WorkflowCancelled(str(token.mode or CancelMode.GRACEFUL), self.abandoned)
        if self.failures:
            raise WorkflowFailed(self.failures)


def execute_body(body: GraphBody, ctx: WorkflowContext) -> None:
    """Run every task of `body` (subgraphs recursively); raise WorkflowFailed / WorkflowCancelled."""
    scheduler = _Scheduler(body, ctx)
    scheduler.prepare()

    def wake(_mode: CancelMode) -> None:
        with scheduler.condition:
            scheduler.condition.notify_all()

    remove_listener = ctx.cancel_token.add_listener(wake)
    try:
        scheduler.schedule()
        scheduler.finish()
    finally:
        remove_listener()
