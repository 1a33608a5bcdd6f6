"""Cancellation: graceful lets running tasks finish and starts nothing; force interrupts or abandons."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from conveyor.workflows import (
    CancelMode,
    OperationContext,
    RecoverableError,
    TaskState,
    WorkflowCancelled,
    WorkflowContext,
    WorkflowOutcome,
    run_workflow,
    workflow,
)

WAIT = 10.0
"""Upper bound of every wait on a condition here; never reached when the code is right."""


def execute_in_background(run: Callable[[], None]) -> tuple[threading.Thread, list[BaseException]]:
    errors: list[BaseException] = []

    def target() -> None:
        try:
            run()
        except BaseException as error:
            errors.append(error)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, errors


def never_called(ctx: OperationContext) -> None:
    raise AssertionError("no task may start after a cancel request")


def test_graceful_cancel_lets_the_running_task_finish_and_starts_no_new_one(ctx: WorkflowContext) -> None:
    started, release = threading.Event(), threading.Event()

    def long_step(ctx: OperationContext) -> str:
        started.set()
        assert release.wait(WAIT)
        return "finished"

    graph = ctx.graph()
    running = graph.add_task(long_step, name="running")
    following = graph.add_task(never_called, name="following")
    graph.add_dependency(following, running)
    thread, errors = execute_in_background(graph.execute)
    assert started.wait(WAIT)
    ctx.cancel_token.request(CancelMode.GRACEFUL)
    release.set()
    thread.join(WAIT)
    assert isinstance(errors[0], WorkflowCancelled) and errors[0].mode == "graceful"
    assert running.result == "finished" and running.state is TaskState.SUCCEEDED
    assert following.state is TaskState.SKIPPED


def test_force_cancel_stops_a_task_waiting_on_the_cancel_token(ctx: WorkflowContext) -> None:
    started = threading.Event()

    def cooperative(ctx: OperationContext) -> None:
        started.set()
        ctx.cancel_token.wait_forced(WAIT)
        ctx.cancel_token.raise_if_forced()

    graph = ctx.graph()
    task = graph.add_task(cooperative, name="cooperative")
    thread, errors = execute_in_background(graph.execute)
    assert started.wait(WAIT)
    ctx.cancel_token.request(CancelMode.FORCE)
    thread.join(WAIT)
    assert isinstance(errors[0], WorkflowCancelled) and errors[0].abandoned == ()
    assert task.state is TaskState.CANCELLED


def test_force_cancel_abandons_a_task_that_ignores_it(make_ctx: Callable[..., WorkflowContext]) -> None:
    ctx = make_ctx(force_grace_period=0.05)
    started, unblock = threading.Event(), threading.Event()

    def stubborn(ctx: OperationContext) -> None:
        started.set()
        unblock.wait(WAIT)  # does not look at the cancel token

    @workflow
    def install(ctx: WorkflowContext) -> None:
        graph = ctx.graph()
        graph.add_task(stubborn, name="stubborn")
        graph.execute()

    outcomes: list[WorkflowOutcome] = []
    thread, _ = execute_in_background(lambda: outcomes.append(run_workflow(install, ctx, {})))
    try:
        assert started.wait(WAIT)
        ctx.cancel_token.request(CancelMode.FORCE)
        thread.join(WAIT)
        assert outcomes[0].status == "cancelled" and outcomes[0].abandoned == ("stubborn",)
    finally:
        unblock.set()


def test_cancel_requested_before_execute_runs_nothing(ctx: WorkflowContext) -> None:
    graph = ctx.graph()
    task = graph.add_task(never_called, name="never")
    ctx.cancel_token.request("graceful")
    with pytest.raises(WorkflowCancelled):
        graph.execute()
    assert task.state is TaskState.SKIPPED


def test_a_task_waiting_to_retry_is_not_retried_after_a_cancel(
    make_ctx: Callable[..., WorkflowContext],
) -> None:

    ctx = make_ctx(retry_interval=WAIT)

    def failing(ctx: OperationContext) -> None:
        raise RecoverableError("503")

    retrying = threading.Event()
    ctx.reporter.task_retrying = lambda task, error, retry_in: retrying.set()  # type: ignore[method-assign]
    graph = ctx.graph()
    task = graph.add_task(failing, name="flaky", retries=5)
    thread, errors = execute_in_background(graph.execute)
    assert retrying.wait(WAIT)
    ctx.cancel_token.request("graceful")
    thread.join(WAIT)
    assert isinstance(errors[0], WorkflowCancelled)
    assert task.state is TaskState.CANCELLED and task.attempts == 1


def test_cancel_requests_only_escalate(ctx: WorkflowContext) -> None:
    ctx.cancel_token.request("force")
    ctx.cancel_token.request("graceful")
    assert ctx.cancel_requested is CancelMode.FORCE
