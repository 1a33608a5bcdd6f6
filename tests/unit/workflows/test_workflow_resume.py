"""Resume: a resumable workflow's succeeded tasks are checkpointed and skipped by the next attempt."""

from __future__ import annotations

from collections.abc import Callable

from conveyor.workflows import (
    MemoryReporter,
    NonRecoverableError,
    OperationContext,
    WorkflowContext,
    run_workflow,
    workflow,
)


def build_install(runs: list[str], broken: set[str]) -> Callable[..., None]:
    def step(ctx: OperationContext, label: str) -> None:
        runs.append(label)
        if label in broken:
            raise NonRecoverableError(f"{label} is broken")

    @workflow(resumable=True)
    def install(ctx: WorkflowContext) -> None:
        graph = ctx.graph()
        graph.sequence(*(graph.add_task(step, {"label": label}, name=label) for label in ("a", "b")))
        graph.execute()

    return install


def test_resumed_attempt_skips_tasks_that_succeeded(make_ctx: Callable[..., WorkflowContext]) -> None:
    runs: list[str] = []
    first = MemoryReporter()
    assert run_workflow(build_install(runs, {"b"}), make_ctx(reporter=first), {}).status == "failed"
    assert first.checkpoints == {"a": "succeeded"}

    second = MemoryReporter(checkpoints=first.checkpoints)
    outcome = run_workflow(build_install(runs, set()), make_ctx(reporter=second), {})
    assert outcome.status == "terminated"
    assert runs == ["a", "b", "b"]
    assert second.kinds("a") == ["task_skipped"]


def test_resumed_tasks_count_as_finished(make_ctx: Callable[..., WorkflowContext]) -> None:
    reporter = MemoryReporter(checkpoints={"a": "succeeded"})
    run_workflow(build_install([], set()), make_ctx(reporter=reporter), {})
    assert reporter.last_progress == (2, 2)


def test_a_workflow_that_is_not_resumable_writes_no_checkpoints(
    ctx: WorkflowContext, reporter: MemoryReporter
) -> None:
    @workflow
    def plain(ctx: WorkflowContext) -> None:
        ctx.execute_task(lambda ctx: None, name="a")

    run_workflow(plain, ctx, {})
    assert reporter.checkpoints == {}


def test_a_dry_run_writes_no_checkpoints(make_ctx: Callable[..., WorkflowContext]) -> None:
    reporter = MemoryReporter()
    run_workflow(build_install([], set()), make_ctx(reporter=reporter, dry_run=True), {})
    assert reporter.checkpoints == {}
