"""`run_workflow`: every ending maps to exactly one final status; the built-in execute_operation."""

from __future__ import annotations

import types
from collections.abc import Iterator

import pytest

from conveyor.workflows import (
    CancelMode,
    MemoryReporter,
    NonRecoverableError,
    WorkflowContext,
    register_plugin,
    resolve_mapping,
    run_workflow,
    unregister_plugin,
    workflow,
)
from conveyor.workflows.builtin import BUILTIN_WORKFLOWS


@workflow
def greet(ctx: WorkflowContext, name: str) -> str:
    return f"hello {name}"


@workflow
def broken(ctx: WorkflowContext) -> None:
    raise ValueError("the chart is missing")


def test_a_workflow_that_returns_ends_terminated(ctx: WorkflowContext) -> None:
    outcome = run_workflow(greet, ctx, {"name": "web"})
    assert (outcome.status, outcome.result) == ("terminated", "hello web")


def test_an_exception_ends_failed_with_message_and_traceback(ctx: WorkflowContext) -> None:
    outcome = run_workflow(broken, ctx, {})
    assert (outcome.status, outcome.error) == ("failed", "ValueError: the chart is missing")
    assert outcome.traceback is not None and "in broken" in outcome.traceback


def test_a_failed_task_ends_the_workflow_failed_naming_the_task(ctx: WorkflowContext) -> None:
    def bad(ctx: object) -> None:
        raise NonRecoverableError("no such namespace")

    @workflow
    def install(ctx: WorkflowContext) -> None:
        ctx.execute_task(bad, name="apply")

    outcome = run_workflow(install, ctx, {})
    assert outcome.status == "failed"
    assert "apply: NonRecoverableError: no such namespace" in (outcome.error or "")


def test_a_cancel_request_ends_cancelled_even_if_the_workflow_completed(ctx: WorkflowContext) -> None:
    @workflow
    def quick(ctx: WorkflowContext) -> None:
        ctx.cancel_token.request(CancelMode.GRACEFUL)

    assert run_workflow(quick, ctx, {}).status == "cancelled"


def test_workflow_start_and_end_are_events(ctx: WorkflowContext, reporter: MemoryReporter) -> None:
    run_workflow(greet, ctx, {"name": "web"})
    assert [e.fields["message"] for e in reporter.events()] == [
        "Workflow install started", "Workflow install terminated",
    ]


def test_wrong_parameters_end_failed_rather_than_raise(ctx: WorkflowContext) -> None:
    assert run_workflow(greet, ctx, {"nme": "web"}).status == "failed"


@pytest.fixture
def echo_plugin() -> Iterator[None]:
    module = types.ModuleType("echo_plugin")
    exec("def say(ctx, **kwargs):\n    return kwargs\n", module.__dict__)
    register_plugin("echo", module)
    yield
    unregister_plugin("echo")


def test_execute_operation_merges_operation_kwargs_and_extra_parameters(
    ctx: WorkflowContext, echo_plugin: None
) -> None:
    execute_operation = resolve_mapping(BUILTIN_WORKFLOWS["execute_operation"])
    outcome = run_workflow(
        execute_operation, ctx, {"operation": "echo.say", "operation_kwargs": {"a": 1, "b": 1}, "b": 2}
    )
    assert (outcome.status, outcome.result) == ("terminated", {"a": 1, "b": 2})


def test_execute_operation_with_an_unknown_operation_fails_naming_it(ctx: WorkflowContext) -> None:
    execute_operation = resolve_mapping(BUILTIN_WORKFLOWS["execute_operation"])
    outcome = run_workflow(execute_operation, ctx, {"operation": "nosuch.op"})
    assert outcome.status == "failed" and "unknown plugin 'nosuch'" in (outcome.error or "")
