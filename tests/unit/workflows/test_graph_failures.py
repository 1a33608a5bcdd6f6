"""Retries and failures: what is retried, what stops, what never runs."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from conveyor.workflows import (
    MemoryReporter,
    NonRecoverableError,
    OperationContext,
    OperationRetry,
    RecoverableError,
    TaskState,
    WorkflowContext,
    WorkflowFailed,
)


def fails_then_succeeds(failures: int, error: Callable[[], Exception]) -> Callable[..., str]:
    calls = {"n": 0}

    def run(ctx: OperationContext) -> str:
        calls["n"] += 1
        if calls["n"] <= failures:
            raise error()
        return "ok"

    return run


def never_called(ctx: OperationContext) -> None:
    raise AssertionError("a task that depends on a failed task must never run")


def test_recoverable_error_is_retried_until_success(ctx: WorkflowContext, reporter: MemoryReporter) -> None:
    graph = ctx.graph()
    task = graph.add_task(fails_then_succeeds(2, lambda: RecoverableError("503")), name="flaky", retries=3)
    graph.execute()
    assert task.state is TaskState.SUCCEEDED and task.attempts == 3
    assert reporter.kinds("flaky") == [
        "task_started", "task_retrying", "task_started", "task_retrying", "task_started", "task_succeeded",
    ]


def test_retry_after_of_the_error_overrides_the_task_interval(
    ctx: WorkflowContext, reporter: MemoryReporter
) -> None:
    graph = ctx.graph()
    graph.add_task(fails_then_succeeds(1, lambda: RecoverableError("busy", retry_after=0.01)),
                   name="flaky", retries=1, retry_interval=60)
    graph.execute()  # would take a minute with the task's interval
    retrying = [r for r in reporter.records if r.kind == "task_retrying"]
    assert retrying[0].fields["retry_in"] == 0.01


def test_a_task_fails_when_its_retries_are_exhausted(ctx: WorkflowContext) -> None:
    graph = ctx.graph()
    task = graph.add_task(fails_then_succeeds(5, lambda: RecoverableError("503")), name="flaky", retries=2)
    with pytest.raises(WorkflowFailed, match="flaky"):
        graph.execute()
    assert task.state is TaskState.FAILED and task.attempts == 3


def test_any_other_exception_is_retried_like_a_recoverable_error(ctx: WorkflowContext) -> None:
    graph = ctx.graph()
    task = graph.add_task(fails_then_succeeds(1, lambda: KeyError("x")), name="flaky", retries=1)
    graph.execute()
    assert task.state is TaskState.SUCCEEDED


def test_non_recoverable_error_is_not_retried(ctx: WorkflowContext) -> None:
    graph = ctx.graph()
    task = graph.add_task(fails_then_succeeds(1, lambda: NonRecoverableError("bad manifest")),
                          name="apply", retries=5)
    with pytest.raises(WorkflowFailed, match="bad manifest"):
        graph.execute()
    assert task.attempts == 1


def test_tasks_depending_on_a_failed_task_never_run(ctx: WorkflowContext, reporter: MemoryReporter) -> None:
    graph = ctx.graph()
    apply = graph.add_task(fails_then_succeeds(1, lambda: NonRecoverableError("bad")), name="apply")
    check = graph.add_task(never_called, name="check")
    report = graph.add_task(never_called, name="report")
    graph.sequence(apply, check, report)
    with pytest.raises(WorkflowFailed) as failure:
        graph.execute()
    assert list(failure.value.failures) == ["apply"]
    assert (check.state, report.state) == (TaskState.SKIPPED, TaskState.SKIPPED)
    assert set(reporter.task_ids("task_skipped")) == {"check", "report"}


def test_fail_fast_graph_starts_nothing_after_a_failure(make_ctx: Callable[..., WorkflowContext]) -> None:
    graph = make_ctx(max_parallel=1).graph()
    graph.add_task(fails_then_succeeds(1, lambda: NonRecoverableError("bad")), name="first")
    independent = graph.add_task(never_called, name="independent")
    with pytest.raises(WorkflowFailed):
        graph.execute()
    assert independent.state is TaskState.SKIPPED


def test_without_fail_fast_independent_branches_go_on(make_ctx: Callable[..., WorkflowContext]) -> None:
    graph = make_ctx(max_parallel=1).graph(fail_fast=False)
    graph.add_task(fails_then_succeeds(1, lambda: NonRecoverableError("bad")), name="first")
    independent = graph.add_task(lambda ctx: "ran", name="independent")
    with pytest.raises(WorkflowFailed):
        graph.execute()
    assert independent.result == "ran"


def test_operation_retry_reruns_the_same_operation_with_the_same_kwargs(ctx: WorkflowContext) -> None:
    seen: list[dict[str, Any]] = []
    lock = threading.Lock()

    def wait_for_rollout(ctx: OperationContext, **kwargs: Any) -> str:
        with lock:
            seen.append(dict(kwargs, attempt=ctx.attempt))
        if len(seen) < 3:
            raise OperationRetry("2/3 replicas ready", retry_after=0)
        return "ready"

    graph = ctx.graph()
    task = graph.add_task(wait_for_rollout, {"name": "web", "replicas": 3}, name="rollout", retries=5)
    graph.execute()
    assert task.result == "ready"
    assert seen == [{"name": "web", "replicas": 3, "attempt": n} for n in (1, 2, 3)]


def test_a_failed_subgraph_fails_its_parent_and_blocks_its_dependents(ctx: WorkflowContext) -> None:
    graph = ctx.graph()
    deploy = graph.add_subgraph("deploy")
    deploy.add_task(fails_then_succeeds(1, lambda: NonRecoverableError("bad")), name="apply")
    after = graph.add_task(never_called, name="after")
    graph.add_dependency(after, deploy)
    with pytest.raises(WorkflowFailed, match="deploy"):
        graph.execute()
    assert (deploy.state, after.state) == (TaskState.FAILED, TaskState.SKIPPED)


def test_a_retried_subgraph_reruns_only_what_did_not_succeed(ctx: WorkflowContext) -> None:
    runs: list[str] = []
    graph = ctx.graph()
    deploy = graph.add_subgraph("deploy", retries=1)
    first = deploy.add_task(lambda ctx: runs.append("first"), name="first")
    flaky = deploy.add_task(fails_then_succeeds(1, lambda: NonRecoverableError("once")), name="flaky")
    deploy.add_dependency(flaky, first)
    graph.execute()
    assert runs == ["first"] and flaky.state is TaskState.SUCCEEDED


def test_an_unknown_operation_fails_while_the_graph_is_built(ctx: WorkflowContext) -> None:
    with pytest.raises(LookupError, match="unknown plugin 'nosuchplugin'"):
        ctx.graph().add_task("nosuchplugin.run")


def test_a_task_raising_system_exit_fails_instead_of_hanging_the_graph(ctx: WorkflowContext) -> None:
    def exits(ctx: OperationContext) -> None:
        raise SystemExit(1)

    graph = ctx.graph()
    task = graph.add_task(exits, name="exits")
    with pytest.raises(WorkflowFailed, match="SystemExit"):
        graph.execute()
    assert task.state is TaskState.FAILED
