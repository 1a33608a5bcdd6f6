"""What the CLI shows: queue positions, tables that scripts can read, progress lines, outcomes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from conveyor.api.models import WorkflowDeclaration
from conveyor.cli.context import EXIT_CANCELLED, EXIT_FAILED, CommandFailed
from conveyor.cli.deployments import load_deployments
from conveyor.cli.execution_logs import execution_lines, worker_job_of
from conveyor.cli.following import final_exit
from conveyor.cli.queue_positions import queue_positions
from conveyor.cli.render import PlainProgress, age, print_table
from conveyor.cli.snapshots import snapshot_indexes
from conveyor.cli.workflows import workflow_rows

T0 = datetime(2030, 1, 1, tzinfo=UTC)


def execution(
    name: str, phase: str | None, deployment: str | None = "web", seconds: int = 0, namespace: str = "shop",
    force: bool = False, **status: Any,
) -> dict[str, Any]:
    created = (T0 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    spec: dict[str, Any] = {"workflow": "install"}
    if deployment:
        spec["deployment"] = deployment
    if force:
        spec["force"] = True
    return {
        "metadata": {"name": name, "namespace": namespace, "creationTimestamp": created},
        "spec": spec,
        "status": {"phase": phase, "createdAt": created, **status} if phase else {},
    }


def test_queue_positions_follow_creation_order_within_a_deployment() -> None:
    objects = [
        execution("c", "queued", seconds=3),
        execution("a", "queued", seconds=1),
        execution("run", "started", seconds=0),
        execution("b", "queued", seconds=2),
    ]
    assert queue_positions(objects) == {("shop", "a"): 1, ("shop", "b"): 2, ("shop", "c"): 3}


def test_each_deployment_has_its_own_queue_line() -> None:
    objects = [execution("a", "queued", "web", 1), execution("b", "queued", "db", 2)]
    assert queue_positions(objects) == {("shop", "a"): 1, ("shop", "b"): 1}


def test_system_wide_executions_queue_in_a_line_of_their_own() -> None:
    objects = [
        execution("dep", "queued", "web", 1),
        execution("snap1", "queued", None, 2, namespace="conveyor-system"),
        execution("snap2", "queued", None, 3, namespace="conveyor-system"),
    ]
    positions = queue_positions(objects)
    assert positions[("conveyor-system", "snap1")] == 1
    assert positions[("conveyor-system", "snap2")] == 2
    assert positions[("shop", "dep")] == 1


def test_only_queued_executions_have_a_position() -> None:
    objects = [execution("s", "scheduled"), execution("p", "pending"), execution("n", None)]
    assert queue_positions(objects) == {}


def test_age_is_kubectl_short() -> None:
    now = T0 + timedelta(hours=3)
    assert age("2030-01-01T02:59:30Z", now) == "30s"
    assert age("2030-01-01T02:50:00Z", now) == "10m"
    assert age("2030-01-01T00:00:00Z", now) == "3h"
    assert age(None, now) == "<unknown>"


def test_tables_on_a_pipe_are_never_cut(capsys: pytest.CaptureFixture[str]) -> None:
    long_name = "x" * 150
    print_table(["name", "status"], [[long_name, "queued"]], "none")
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if long_name in line)
    assert "queued" in line
    assert out.splitlines()[0].split() == ["NAME", "STATUS"]


def test_empty_table_says_so_on_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    print_table(["name"], [], "No executions found in namespace x.")
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "No executions found" in captured.err


def test_plain_progress_prints_one_line_per_change(capsys: pytest.CaptureFixture[str]) -> None:
    view = PlainProgress("install-1")
    view.update(execution("install-1", "pending"))
    view.update(execution("install-1", "pending"))
    view.update(execution("install-1", "started", operations={"total": 4, "finished": 1}))
    view.event({"reason": "TaskStarted", "message": "Task step1 started", "type": "Normal"})
    view.event({"reason": "TaskFailed", "message": "boom", "type": "Warning"})
    assert capsys.readouterr().out.splitlines() == [
        "install-1 pending",
        "install-1 started (operations 1/4)",
        "  TaskStarted: Task step1 started",
        "  ! TaskFailed: boom",
    ]


def test_failed_outcome_exits_1_with_the_operators_reason() -> None:
    reason = "The following executions are currently running for this deployment: [a]. Set force: true ..."
    with pytest.raises(CommandFailed) as failure:
        final_exit(execution("x", "failed", error=reason))
    assert (failure.value.exit_code, failure.value.message) == (EXIT_FAILED, reason)


def test_cancelled_outcome_exits_3() -> None:
    with pytest.raises(CommandFailed) as failure:
        final_exit(execution("x", "cancelled"))
    assert failure.value.exit_code == EXIT_CANCELLED


def test_terminated_outcome_does_not_fail() -> None:
    final_exit(execution("x", "terminated"))


def test_log_lines_of_one_execution_lose_their_prefix() -> None:
    text = "[a] one\n[worker] idle\n[b] other\n[a] two\n[ab] not mine\n"
    assert execution_lines(text, "a") == ["one", "two"]


def test_logs_come_from_the_deployments_worker_or_the_system_worker() -> None:
    assert worker_job_of(execution("x", "started", "web")) == "conveyor-worker-web"
    assert worker_job_of(execution("x", "started", None)) == "conveyor-worker-system"


def test_workflow_rows_one_per_parameter_with_the_required_rule() -> None:
    declared = {
        "install": WorkflowDeclaration.model_validate({
            "mapping": "m.install",
            "parameters": {"target": {"type": "string"}, "timeout": {"type": "integer", "default": 60}},
        }),
        "noop": WorkflowDeclaration.model_validate({"mapping": "m.noop"}),
    }
    rows = workflow_rows(declared, frozenset({"execute_operation"}))
    assert [row[:6] for row in rows] == [
        ["install", "m.install", "target", "string", "yes", "-"],
        ["install", "m.install", "timeout", "integer", "no", "60"],
        ["noop", "m.noop", "-", "", "", ""],
        ["execute_operation", "(built-in)", "-", "", "", ""],
    ]


def test_secret_defaults_are_masked() -> None:
    declared = {"x": WorkflowDeclaration.model_validate({
        "mapping": "m.x", "parameters": {"token": {"type": "string", "default": "hunter2", "secret": True}},
    })}
    assert "hunter2" not in str(workflow_rows(declared, frozenset()))


def test_deployment_file_is_checked_against_the_model_before_creating() -> None:
    text = (
        "apiVersion: conveyor.dev/v1alpha1\nkind: Deployment\nmetadata: {name: web}\n"
        "spec: {workflows: {install: {mapping: not a mapping}}}\n"
    )
    with pytest.raises(CommandFailed) as failure:
        load_deployments(text, "web.yaml", "shop")
    assert "web.yaml, document 1 (web): spec.workflows.install.mapping" in failure.value.message


def test_deployment_file_takes_the_namespace_of_the_command() -> None:
    text = "apiVersion: conveyor.dev/v1alpha1\nkind: Deployment\nmetadata: {name: web}\nspec: {}\n"
    assert load_deployments(text, "f", "shop")[0]["metadata"]["namespace"] == "shop"


def test_other_kinds_in_a_deployment_file_are_refused() -> None:
    with pytest.raises(CommandFailed):
        load_deployments("apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n", "f", "shop")


def test_snapshots_are_the_config_maps_with_an_index() -> None:
    index = SimpleNamespace(data={"snapshot.json": '{"name": "s1", "parts": 2}'}, metadata=None)
    part = SimpleNamespace(data={"objects.jsonl": ""}, metadata=None)
    assert snapshot_indexes([part, index]) == [(index, {"name": "s1", "parts": 2})]
