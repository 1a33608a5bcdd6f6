"""What the reporter sees: task events in order, progress, logs carrying the execution, events."""

from __future__ import annotations

import logging

from conveyor.workflows import MemoryReporter, NonRecoverableError, OperationContext, WorkflowContext

TASK_EVENTS = {"task_started", "task_succeeded", "task_failed", "task_retrying", "task_skipped"}


def step(ctx: OperationContext) -> None:
    return None


def test_task_events_arrive_in_execution_order(ctx: WorkflowContext, reporter: MemoryReporter) -> None:
    graph = ctx.graph()
    graph.sequence(graph.add_task(step, name="a"), graph.add_task(step, name="b"))
    graph.execute()
    events = [(r.kind, r.task_id) for r in reporter.records if r.kind in TASK_EVENTS]
    assert events == [
        ("task_started", "a"), ("task_succeeded", "a"), ("task_started", "b"), ("task_succeeded", "b"),
    ]


def test_progress_counts_total_and_finished_operations(
    ctx: WorkflowContext, reporter: MemoryReporter
) -> None:
    graph = ctx.graph()
    first = graph.add_task(step, name="first")
    deploy = graph.add_subgraph("deploy")
    deploy.add_task(step, name="inner")
    graph.sequence(first, deploy)
    graph.execute()
    figures = [(r.fields["total"], r.fields["finished"]) for r in reporter.records if r.kind == "progress"]
    assert figures == [(2, 0), (2, 1), (2, 2)]  # the subgraph itself is not an operation


def test_progress_does_not_count_tasks_that_never_ran_as_finished(
    ctx: WorkflowContext, reporter: MemoryReporter
) -> None:
    def broken(ctx: OperationContext) -> None:
        raise NonRecoverableError("bad")

    graph = ctx.graph()
    graph.sequence(graph.add_task(broken, name="a"), graph.add_task(step, name="b"))
    try:
        graph.execute()
    except Exception:
        pass
    assert reporter.last_progress == (2, 1)


def test_log_records_carry_the_execution_and_task(ctx: WorkflowContext, reporter: MemoryReporter) -> None:
    ctx.execute_task(lambda ctx: ctx.logger.info("applying %s", "web"), name="apply")
    record = next(r for r in reporter.log_records if r.getMessage() == "applying web")
    assert (getattr(record, "execution", None), getattr(record, "task", None)) == ("install-x7k2p", "apply")


def test_workflow_logger_is_a_logging_logger_with_the_execution_name(
    ctx: WorkflowContext, reporter: MemoryReporter
) -> None:
    assert isinstance(ctx.logger, logging.Logger)
    ctx.logger.info("hello")
    assert getattr(reporter.log_records[-1], "execution", None) == "install-x7k2p"


def test_warnings_in_the_log_also_become_events(ctx: WorkflowContext, reporter: MemoryReporter) -> None:
    ctx.logger.info("routine")
    ctx.logger.warning("disk almost full")
    assert [(e.fields["message"], e.fields["level"]) for e in reporter.events()] == [
        ("disk almost full", "warning"),
    ]


def test_send_event_reports_message_level_and_data(ctx: WorkflowContext, reporter: MemoryReporter) -> None:
    ctx.send_event("rolled out", "info", replicas=3)
    event = reporter.events()[-1]
    assert (event.fields["message"], event.fields["level"], event.fields["data"]) == (
        "rolled out", "info", {"replicas": 3},
    )


def test_context_exposes_deployment_and_execution(ctx: WorkflowContext) -> None:
    assert ctx.deployment is not None
    assert (ctx.deployment.name, ctx.namespace, ctx.inputs["replicas"]) == ("web", "shop", 3)
    assert (ctx.execution_name, ctx.workflow_name, ctx.system_wide) == ("install-x7k2p", "install", False)
