"""Dry run: the workflow runs, its operations do not; each logs what it would have done."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from conveyor.workflows import (
    MemoryReporter,
    OperationContext,
    WorkflowContext,
    register_plugin,
    unregister_plugin,
)


class Recorder:
    def __init__(self) -> None:
        self.calls: list[dict[str, object]] = []

    def apply(self, ctx: OperationContext, **kwargs: object) -> None:
        self.calls.append(kwargs)


@pytest.fixture
def recorder() -> object:
    plugin = Recorder()
    register_plugin("recorder", plugin)
    yield plugin
    unregister_plugin("recorder")


def test_dry_run_runs_no_operation(make_ctx: Callable[..., WorkflowContext], recorder: Recorder) -> None:
    ctx = make_ctx(dry_run=True)
    graph = ctx.graph()
    graph.add_task("recorder.apply", {"manifest": "web.yaml"}, name="apply")
    graph.execute()
    assert recorder.calls == []


def test_dry_run_logs_what_would_run(
    make_ctx: Callable[..., WorkflowContext], reporter: MemoryReporter, recorder: Recorder
) -> None:
    ctx = make_ctx(dry_run=True)
    ctx.execute_task("recorder.apply", {"manifest": "web.yaml"}, name="apply")
    assert "would run recorder.apply with {'manifest': 'web.yaml'}" in reporter.messages()


def test_dry_run_still_reports_task_events(
    make_ctx: Callable[..., WorkflowContext], reporter: MemoryReporter, recorder: Recorder
) -> None:
    make_ctx(dry_run=True).execute_task("recorder.apply", name="apply")
    assert reporter.kinds("apply") == ["task_started", "task_succeeded"]
