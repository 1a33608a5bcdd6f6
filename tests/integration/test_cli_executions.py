"""`conveyor executions ...` against a cluster with the operator running.

The operator runs without worker Jobs (the integration harness); where an execution must start and
end, the harness's WORKER STAND-IN plays the worker's part through the API (claim, then a final
status), as the worker would. Everything the CLI reads and writes goes through the API.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml
from click.testing import CliRunner, Result
from operator_harness import Cluster, OperatorThread, WorkerStandIn, wait_for

from conveyor.admission import messages
from conveyor.api.names import GROUP, VERSION
from conveyor.cli.executions import executions
from conveyor.cli.snapshots import snapshots
from conveyor.controller.requests import unknown_deployment

BOOT = (
    "from conveyor.cli.main import main\n"
    "from conveyor.cli.executions import executions\n"
    "if 'executions' not in main.commands: main.add_command(executions)\n"
    "main(prog_name='conveyor')\n"
)
"""`conveyor` in a subprocess, with the executions commands registered even before main.py has them."""


@pytest.fixture
def target(kubeconfig: str, namespace: str) -> list[str]:
    """The options that point a command at the test's cluster, namespace and operator namespace."""
    return ["--kubeconfig", kubeconfig, "-n", namespace, "--operator-namespace", namespace]


@pytest.fixture
def cli(target: list[str]) -> Callable[..., Result]:
    """Run an `executions` command in-process; returns click's Result (exit_code, stdout, stderr)."""

    def run(*args: str, group: Any = executions) -> Result:
        return CliRunner().invoke(group, [*args, *target], catch_exceptions=False)

    return run


@pytest.fixture
def cli_process(target: list[str]) -> Callable[..., subprocess.CompletedProcess[str]]:
    def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        argv = [sys.executable, "-c", BOOT, "executions", *args, *target]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)

    return run


@pytest.fixture
def web(cluster: Cluster, operator: OperatorThread) -> Cluster:
    """Deployment `web` (workflow `install`, parameter `target`, default "x") with the operator running."""
    cluster.deployment("web")
    return cluster


def running(cluster: Cluster, worker: WorkerStandIn, deployment: str = "web") -> str:
    """An execution of `deployment` that the stand-in worker has started and keeps running."""
    name = cluster.execution(deployment)
    worker.claim(name)
    return name


@pytest.fixture
def finish_next(web: Cluster, worker: WorkerStandIn) -> Iterator[Callable[[str], None]]:
    """`finish_next(phase)`: in the background, the stand-in worker runs the next execution the
    CLI creates and ends it with `phase`."""
    threads: list[threading.Thread] = []

    def arm(phase: str) -> None:
        known = {o["metadata"]["name"] for o in web.list_executions()}

        def play() -> None:
            fresh = wait_for(
                lambda: [o for o in web.list_executions() if o["metadata"]["name"] not in known],
                timeout=30, what="the CLI to create an execution",
            )
            name = fresh[0]["metadata"]["name"]
            worker.claim(name)
            worker.finish(name, phase, error="workflow failed: boom" if phase == "failed" else None)

        thread = threading.Thread(target=play, daemon=True)
        thread.start()
        threads.append(thread)

    yield arm
    for thread in threads:
        thread.join(30)


def test_start_follows_the_execution_and_exits_0_when_it_terminates(
    cli: Callable[..., Result], finish_next: Callable[[str], None], web: Cluster
) -> None:
    finish_next("terminated")
    result = cli("start", "install", "-d", "web", "-p", "target=prod", "--timeout", "30")
    assert result.exit_code == 0, result.stderr
    (created,) = web.list_executions()
    name = created["metadata"]["name"]
    assert created["spec"]["parameters"] == {"target": "prod"}
    assert f"{name} terminated" in result.stdout.splitlines()


def test_start_exits_1_with_the_workflow_error_when_it_fails(
    cli: Callable[..., Result], finish_next: Callable[[str], None]
) -> None:
    finish_next("failed")
    result = cli("start", "install", "-d", "web", "--timeout", "30")
    assert result.exit_code == 1
    assert result.stderr.strip() == "workflow failed: boom"


def test_rejected_start_exits_1_with_the_reference_sentence_on_stderr(
    cli_process: Callable[..., subprocess.CompletedProcess[str]], web: Cluster, worker: WorkerStandIn
) -> None:
    busy = running(web, worker)
    proc = cli_process("start", "install", "-d", "web")
    assert proc.returncode == 1
    assert proc.stderr.strip() == messages.deployment_busy([busy])


def test_undeclared_parameters_are_refused_before_anything_is_created(
    cli: Callable[..., Result], web: Cluster
) -> None:
    result = cli("start", "install", "-d", "web", "-p", "colour=red")
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        'Workflow "install" does not have the following parameters declared: colour. '
        "Remove these parameters or set allowCustomParameters: true"
    )
    assert web.list_executions() == []


def test_unknown_deployment_is_refused_with_the_operators_message(
    cli: Callable[..., Result], web: Cluster, namespace: str
) -> None:
    result = cli("start", "install", "-d", "nope")
    assert result.exit_code == 1
    assert result.stderr.strip() == unknown_deployment(namespace, "nope")
    assert web.list_executions() == []


def test_no_wait_returns_once_queued_printing_name_and_status(
    cli: Callable[..., Result], web: Cluster, worker: WorkerStandIn
) -> None:
    running(web, worker)
    result = cli("start", "install", "-d", "web", "--queue", "--no-wait")
    assert result.exit_code == 0, result.stderr
    name, status = result.stdout.split()
    assert status == "queued"
    assert web.phase(name) == "queued"


def test_no_wait_returns_once_admitted(cli: Callable[..., Result], web: Cluster) -> None:
    result = cli("start", "install", "-d", "web", "--no-wait")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.split()[1] == "pending"


def test_list_shows_queued_executions_with_their_place_in_the_queue(
    cli: Callable[..., Result], web: Cluster, worker: WorkerStandIn
) -> None:
    busy = running(web, worker)
    first = web.execution(queue=True)
    web.wait_phase(first, "queued")
    second = web.execution(queue=True)
    web.wait_phase(second, "queued")
    result = cli("list")
    assert result.exit_code == 0, result.stderr
    rows = {line.split()[0]: line.split() for line in result.stdout.splitlines()[1:]}
    header = result.stdout.splitlines()[0].split()
    queue_column = header.index("QUEUE")
    assert rows[first][queue_column] == "1"
    assert rows[second][queue_column] == "2"
    assert rows[busy][queue_column] == "-"


def test_list_filters_by_status_and_prints_json(
    cli: Callable[..., Result], web: Cluster, worker: WorkerStandIn
) -> None:
    busy = running(web, worker)
    queued = web.execution(queue=True)
    web.wait_phase(queued, "queued")
    result = cli("list", "--status", "started", "-o", "json")
    assert result.exit_code == 0, result.stderr
    listed = json.loads(result.stdout)
    assert listed["kind"] == "List"
    assert [item["metadata"]["name"] for item in listed["items"]] == [busy]


def test_get_prints_the_object_as_yaml(cli: Callable[..., Result], web: Cluster) -> None:
    name = web.execution()
    web.wait_phase(name, "pending")
    result = cli("get", name, "-o", "yaml")
    assert result.exit_code == 0, result.stderr
    shown = yaml.safe_load(result.stdout)
    assert (shown["metadata"]["name"], shown["status"]["phase"]) == (name, "pending")


def test_get_shows_why_a_queued_execution_waits(
    cli: Callable[..., Result], web: Cluster, worker: WorkerStandIn
) -> None:
    running(web, worker)
    queued = web.execution(queue=True)
    web.wait_phase(queued, "queued")
    result = cli("get", queued)
    assert result.exit_code == 0, result.stderr
    assert "Queue position:" in result.stdout
    assert "Waiting for:" in result.stdout


def test_cancelling_a_queued_execution_ends_it_and_wait_exits_3(
    cli: Callable[..., Result], web: Cluster, worker: WorkerStandIn
) -> None:
    running(web, worker)
    queued = web.execution(queue=True)
    web.wait_phase(queued, "queued")
    assert cli("cancel", queued).exit_code == 0
    result = cli("wait", queued, "--timeout", "20")
    assert result.exit_code == 3
    assert web.phase(queued) == "cancelled"


def test_cancel_sets_the_requested_mode(
    cli: Callable[..., Result], web: Cluster, worker: WorkerStandIn
) -> None:
    busy = running(web, worker)
    assert cli("cancel", busy, "--kill").exit_code == 0
    assert (web.get(busy) or {})["spec"]["cancel"] == "kill"


def test_cancel_of_a_final_execution_is_refused(
    cli: Callable[..., Result], web: Cluster, worker: WorkerStandIn
) -> None:
    name = web.execution()
    worker.run(name)
    result = cli("cancel", name)
    assert result.exit_code == 1
    assert "already terminated" in result.stderr


def test_wait_times_out_with_exit_code_4(
    cli_process: Callable[..., subprocess.CompletedProcess[str]], web: Cluster
) -> None:
    pending = web.execution()  # no worker takes it: it stays pending
    web.wait_phase(pending, "pending")
    began = time.monotonic()
    proc = cli_process("wait", pending, "--timeout", "1")
    assert proc.returncode == 4
    assert "timed out after 1s" in proc.stderr
    assert time.monotonic() - began < 30


def test_resume_is_refused_unless_the_execution_failed_or_was_cancelled(
    cli: Callable[..., Result], web: Cluster, worker: WorkerStandIn
) -> None:
    name = web.execution()
    worker.run(name)
    result = cli("resume", name)
    assert result.exit_code == 1
    assert result.stderr.strip() == (
        f"execution {name} is terminated: only a failed or cancelled execution can be resumed"
    )


def stand_in_worker_pod(web: Cluster, namespace: str, script: str) -> None:
    """A Job named as the deployment's worker whose pod prints what `script` prints (the stand-in
    worker of these tests has no pod of its own)."""
    web.apply({
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "conveyor-worker-web", "namespace": namespace},
        "spec": {"backoffLimit": 0, "template": {"spec": {
            "restartPolicy": "Never",
            "containers": [
                {"name": "worker", "image": "python:3.11-slim", "command": ["python", "-u", "-c", script]}
            ],
        }}},
    })


def worker_pod_phase(web: Cluster, namespace: str) -> str | None:
    pods = web.core.list_namespaced_pod(namespace, label_selector="job-name=conveyor-worker-web").items
    return pods[0].status.phase if pods else None


def test_logs_print_only_the_lines_of_the_execution(
    cli: Callable[..., Result], web: Cluster, namespace: str
) -> None:
    name = web.execution()
    script = f"print('[{name}] hello from the workflow'); print('[other-1] not mine'); print('[worker] idle')"
    stand_in_worker_pod(web, namespace, script)
    wait_for(lambda: worker_pod_phase(web, namespace) == "Succeeded", timeout=60, what="the pod to finish")
    result = cli("logs", name)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.splitlines() == ["hello from the workflow"]


def test_logs_follow_streams_lines_until_the_execution_ends(
    target: list[str], web: Cluster, worker: WorkerStandIn, namespace: str
) -> None:
    name = web.execution()
    worker.claim(name)
    stand_in_worker_pod(web, namespace, f"import time; print('[{name}] first', flush=True); time.sleep(300)")
    wait_for(lambda: worker_pod_phase(web, namespace) == "Running", timeout=60, what="the worker pod to run")
    follower = subprocess.Popen(
        [sys.executable, "-c", BOOT, "executions", "logs", name, "-f", *target],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        assert follower.stdout is not None
        assert follower.stdout.readline() == "first\n"
        worker.finish(name)
        assert follower.wait(30) == 0
    finally:
        follower.kill()
        web.kubectl("delete", "job", "conveyor-worker-web", "-n", namespace, "--wait=false", check=False)


def test_a_scheduled_start_returns_scheduled_with_no_wait(cli: Callable[..., Result], web: Cluster) -> None:
    result = cli("start", "install", "-d", "web", "--schedule", "+1h", "--no-wait")
    assert result.exit_code == 0, result.stderr
    name, status = result.stdout.split()
    assert status == "scheduled"
    assert (web.get(name) or {})["spec"]["scheduledTime"].endswith("Z")


def test_a_system_wide_start_goes_to_the_operators_namespace(
    cli: Callable[..., Result], web: Cluster, namespace: str, kubeconfig: str
) -> None:
    other = ["--kubeconfig", kubeconfig, "-n", "default", "--operator-namespace", namespace]
    result = CliRunner().invoke(snapshots, ["create", "--no-wait", *other], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    name, status = result.stdout.split()
    assert status == "pending"
    created = web.custom.get_namespaced_custom_object(GROUP, VERSION, namespace, "executions", name)
    assert created["spec"]["workflow"] == "create_snapshot"
    assert "deployment" not in created["spec"]


def test_unknown_system_wide_workflow_is_refused_before_creating(
    cli: Callable[..., Result], web: Cluster
) -> None:
    result = cli("start", "maintenance")
    assert result.exit_code == 1
    assert result.stderr.startswith("Workflow maintenance is not declared by the operator's system workflows")
    assert web.list_executions() == []
