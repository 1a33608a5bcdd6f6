"""The worker process (`conveyor worker`) against a cluster: the tests play the operator's part.

Each test creates a Deployment whose workflows come from a source ConfigMap, admits Executions as
the operator would (label, deployment Lease held by the execution, status `pending`), runs the
worker in a thread (or the CLI in a subprocess) pointed at the kubeconfig, and checks what the
worker wrote back. Workflows leave marker files in a per-test folder, so the tests can count side
effects and prove overlap without timing.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar, cast

import pytest
from kubernetes import client, config, watch

from conveyor.api.names import (
    CONFIG_MAP_KEY,
    CONFIG_MAP_NAME,
    GROUP,
    LABEL_DEPLOYMENT,
    SYSTEM_LEASE_NAME,
    VERSION,
    deployment_lease_name,
    label_value,
)
from conveyor.locks.holders import LeaseHolders, build_lease
from conveyor.worker.logs import PrefixedLog
from conveyor.worker.process import serve
from conveyor.worker.settings import WorkerSettings

REPO = Path(__file__).resolve().parents[2]
T = TypeVar("T")
DEPLOYMENT = "web"
SOURCE = "web-workflows"

FLOWS = """
import pathlib
import threading
import time

from conveyor.workflows import NonRecoverableError, workflow

VERSION = "one"


def mark(folder, name):
    with open(pathlib.Path(folder) / name, "a") as handle:
        handle.write("x\\n")


def step(ctx, folder, name):
    ctx.logger.info("doing %s", name)
    mark(folder, name)


@workflow
def install(ctx, folder, count=3):
    graph = ctx.graph()
    steps = [graph.add_task(step, {"folder": folder, "name": f"s{i}"}, name=f"step{i}") for i in range(count)]
    graph.sequence(*steps)
    graph.execute()


@workflow
def broken(ctx, folder):
    raise RuntimeError("kaboom in workflow code")


def wait_for_cancel(ctx, folder):
    mark(folder, "running")
    ctx.cancel_token.wait(30)


@workflow
def polite(ctx, folder):
    graph = ctx.graph()
    first = graph.add_task(wait_for_cancel, {"folder": folder}, name="wait")
    after = graph.add_task(step, {"folder": folder, "name": "after"}, name="after")
    graph.sequence(first, after)
    graph.execute()


def block_until_forced(ctx, folder):
    mark(folder, "running")
    ctx.cancel_token.wait_forced(30)
    ctx.cancel_token.raise_if_forced()
    mark(folder, "finished")


@workflow
def stubborn(ctx, folder):
    ctx.execute_task(block_until_forced, {"folder": folder}, name="block")


def rendezvous(ctx, folder, me, other):
    mark(folder, "arrived-" + me)
    deadline = time.monotonic() + 30
    while not (pathlib.Path(folder) / ("arrived-" + other)).exists():
        if time.monotonic() > deadline:
            raise NonRecoverableError("the other execution never ran alongside this one")
        ctx.cancel_token.wait_forced(0.02)


@workflow
def meet(ctx, folder, me, other):
    ctx.execute_task(rendezvous, {"folder": folder, "me": me, "other": other}, name="meet")


@workflow
def once(ctx, folder):
    mark(folder, "ran")


@workflow
def version(ctx, folder):
    mark(folder, VERSION)


def deaf(ctx, folder):
    mark(folder, "running")
    threading.Event().wait(30)
    mark(folder, "finished")


@workflow
def deaf_task(ctx, folder):
    ctx.execute_task(deaf, {"folder": folder}, name="deaf")


@workflow
def deaf_workflow(ctx, folder):
    deaf(ctx, folder)


def not_a_workflow(ctx):
    pass
"""


def wait_for(predicate: Callable[[], T | None], timeout: float = 20.0, what: str = "condition") -> T:
    """Poll `predicate` until truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


# ----- the cluster side ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def api_client(kubeconfig: str) -> Iterator[client.ApiClient]:
    api = config.new_client_from_config(config_file=kubeconfig)
    yield api
    api.close()


@pytest.fixture(scope="module")
def crds(kubeconfig: str) -> None:
    """Conveyor's CRDs, installed (idempotently) and established."""
    env = {**os.environ, "KUBECONFIG": kubeconfig}
    for path in sorted((REPO / "crds").glob("*.yaml")):
        subprocess.run(
            ["kubectl", "apply", "--server-side", "--force-conflicts", "-f", str(path)],
            check=True,
            capture_output=True,
            env=env,
            timeout=60,
        )
    subprocess.run(
        [
            "kubectl",
            "wait",
            "--for=condition=Established",
            "--timeout=30s",
            f"crd/executions.{GROUP}",
            f"crd/deployments.{GROUP}",
        ],
        check=True,
        capture_output=True,
        env=env,
        timeout=60,
    )


class Cluster:
    """The operator's part, played by hand: objects, admission, reads."""

    def __init__(self, api_client: client.ApiClient, namespace: str, folder: Path) -> None:
        self.namespace = namespace
        self.folder = folder
        self.custom = client.CustomObjectsApi(api_client)
        self.core = client.CoreV1Api(api_client)
        self.leases = client.CoordinationV1Api(api_client)

    def source(self, text: str = FLOWS) -> None:
        body: Any = {"metadata": {"name": SOURCE}, "data": {"flows.py": text}}
        try:
            self.core.replace_namespaced_config_map(SOURCE, self.namespace, body)
        except client.ApiException as error:
            if error.status != 404:
                raise
            self.core.create_namespaced_config_map(self.namespace, body)

    def deployment(self, workflows: dict[str, str] | None = None) -> None:
        names = workflows or {
            n: f"flows.{n}"
            for n in (
                "install",
                "broken",
                "polite",
                "stubborn",
                "meet",
                "once",
                "version",
                "deaf_task",
                "deaf_workflow",
            )
        }
        body = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "Deployment",
            "metadata": {"name": DEPLOYMENT},
            "spec": {
                "inputs": {"replicas": 3},
                "source": {"configMap": SOURCE},
                "workflows": {name: {"mapping": mapping} for name, mapping in names.items()},
            },
        }
        self.custom.create_namespaced_custom_object(GROUP, VERSION, self.namespace, "deployments", body)

    def _hold_lease(self, execution: str, name: str = deployment_lease_name(DEPLOYMENT)) -> None:
        while True:
            try:
                lease = self.leases.read_namespaced_lease(name, self.namespace)
                current = client.ApiClient().sanitize_for_serialization(lease)
            except client.ApiException as error:
                if error.status != 404:
                    raise
                current = None
            state = LeaseHolders.from_lease(current).with_holder(execution, datetime.now(UTC), 30)
            body: Any = build_lease(name, self.namespace, state, {})
            try:
                if current is None:
                    self.leases.create_namespaced_lease(self.namespace, body)
                else:
                    self.leases.replace_namespaced_lease(name, self.namespace, body)
                return
            except client.ApiException as error:
                if error.status != 409:
                    raise

    def admit(
        self,
        workflow: str,
        parameters: dict[str, Any] | None = None,
        *,
        force: bool = False,
        system: bool = False,
    ) -> str:
        """Create an Execution and admit it as the operator does: label, lease, then `pending`.
        A system-wide one has no deployment and no label, and holds the system lease."""
        name = f"{workflow.replace('_', '-')}-{uuid.uuid4().hex[:6]}"
        spec: dict[str, Any] = {
            "workflow": workflow,
            "force": force,
            "allowCustomParameters": True,
            "parameters": {"folder": str(self.folder), **(parameters or {})},
        }
        metadata: dict[str, Any] = {"name": name}
        if not system:
            spec["deployment"] = DEPLOYMENT
            metadata["labels"] = {LABEL_DEPLOYMENT: label_value(DEPLOYMENT)}
        body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Execution", "metadata": metadata, "spec": spec}
        self.custom.create_namespaced_custom_object(GROUP, VERSION, self.namespace, "executions", body)
        self._hold_lease(name, SYSTEM_LEASE_NAME if system else deployment_lease_name(DEPLOYMENT))
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        status = {
            "status": {
                "phase": "pending",
                "admittedAt": now,
                "createdAt": now,
                "conditions": [
                    {
                        "type": "Admitted",
                        "status": "True",
                        "reason": "Admitted",
                        "message": "Admitted",
                        "lastTransitionTime": now,
                    }
                ],
            }
        }
        self.custom.patch_namespaced_custom_object_status(
            GROUP, VERSION, self.namespace, "executions", name, status
        )
        return name

    def execution(self, name: str) -> dict[str, Any]:
        found = self.custom.get_namespaced_custom_object(GROUP, VERSION, self.namespace, "executions", name)
        return cast(dict[str, Any], found)

    def status(self, name: str) -> dict[str, Any]:
        return self.execution(name).get("status") or {}

    def wait_phase(self, name: str, *phases: str, timeout: float = 30) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            status = self.status(name)
            return status if status.get("phase") in phases else None

        return wait_for(reached, timeout, f"{name} to reach {phases}")

    def cancel(self, name: str, mode: str) -> None:
        self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, "executions", name, {"spec": {"cancel": mode}}
        )

    def events(self, name: str) -> list[Any]:
        items = self.core.list_namespaced_event(self.namespace).items
        return [e for e in items if e.involved_object.name == name]

    def lease_renew_time(self) -> Any:
        lease = self.leases.read_namespaced_lease(deployment_lease_name(DEPLOYMENT), self.namespace)
        assert lease.spec is not None
        return lease.spec.renew_time

    def markers(self, name: str) -> int:
        path = self.folder / name
        return len(path.read_text().splitlines()) if path.exists() else 0


@pytest.fixture
def cluster(api_client: client.ApiClient, crds: None, namespace: str, tmp_path: Path) -> Cluster:
    folder = tmp_path / "markers"
    folder.mkdir()
    made = Cluster(api_client, namespace, folder)
    made.source()
    made.deployment()
    return made


# ----- the worker side -----------------------------------------------------------------------------


class WorkerThread:
    """`conveyor worker` in a thread of this process: its own asyncio loop, its own pod name."""

    def __init__(
        self,
        kubeconfig: str,
        namespace: str,
        *,
        idle: float,
        pod: str | None = None,
        renew_interval: float | None = None,
        system: bool = False,
        grace: float | None = None,
    ) -> None:
        self.settings = WorkerSettings(
            namespace=namespace,
            deployment=None if system else DEPLOYMENT,
            operator_namespace=namespace if system else "conveyor-system",
            pod_name=pod or f"worker-{uuid.uuid4().hex[:5]}",
            idle_timeout=idle,
            progress_interval=0.2,
            renew_interval=renew_interval,
            force_grace_period=grace,
        )
        self.kubeconfig = kubeconfig
        self.output = io.StringIO()
        self.exit_code: int | None = None
        self.error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, daemon=True)

    def _main(self) -> None:
        async def run() -> int:
            self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
            self._ready.set()
            return await serve(self.settings, self.kubeconfig, self._stop, PrefixedLog(self.output))

        try:
            self.exit_code = asyncio.run(run())
        except BaseException as error:
            self.error = error
            self._ready.set()

    def start(self) -> WorkerThread:
        self._thread.start()
        self._ready.wait(10)
        return self

    def join(self, timeout: float = 30) -> int | None:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the worker did not exit"
        if self.error is not None:
            raise self.error
        return self.exit_code

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)


@pytest.fixture
def workers(kubeconfig: str, cluster: Cluster) -> Iterator[Callable[..., WorkerThread]]:
    started: list[WorkerThread] = []

    def start(**kwargs: Any) -> WorkerThread:
        worker = WorkerThread(kubeconfig, cluster.namespace, **kwargs).start()
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


# ----- running ---------------------------------------------------------------------------------------


def test_admitted_execution_runs_to_terminated_with_times_and_progress(
    cluster: Cluster, workers: Any
) -> None:
    name = cluster.admit("install", {"count": 3})
    worker = workers(idle=0.5)
    status = cluster.wait_phase(name, "terminated")
    assert status["worker"] == worker.settings.pod_name
    assert status["startedAt"] <= status["endedAt"]
    assert status["operations"] == {"total": 3, "finished": 3}
    assert [c["status"] for c in status["conditions"] if c["type"] == "Succeeded"] == ["True"]
    assert [cluster.markers(f"s{i}") for i in range(3)] == [1, 1, 1]


def test_worker_exits_0_after_idle_timeout(cluster: Cluster, workers: Any) -> None:
    worker = workers(idle=0.3)
    assert worker.join() == 0


def test_failing_workflow_ends_failed_with_error_and_traceback(cluster: Cluster, workers: Any) -> None:
    name = cluster.admit("broken")
    workers(idle=0.5)
    status = cluster.wait_phase(name, "failed")
    assert status["error"].startswith("RuntimeError: kaboom in workflow code")
    assert "Traceback" in status["error"] and "flows.py" in status["error"]
    succeeded = [c for c in status["conditions"] if c["type"] == "Succeeded"]
    assert succeeded[0]["status"] == "False" and succeeded[0]["reason"] == "WorkflowFailed"


def test_mapping_that_does_not_resolve_ends_failed_naming_it(
    api_client: Any, crds: None, namespace: str, tmp_path: Path, kubeconfig: str
) -> None:
    cluster = Cluster(api_client, namespace, tmp_path)
    cluster.source()
    cluster.deployment({"missing": "flows.no_such_function"})
    name = cluster.admit("missing")
    worker = WorkerThread(kubeconfig, namespace, idle=0.5).start()
    try:
        status = cluster.wait_phase(name, "failed")
    finally:
        worker.stop()
    assert "flows.no_such_function" in status["error"]
    assert "no attribute 'no_such_function'" in status["error"]
    wait_for(lambda: "Failed" in [event.reason for event in cluster.events(name)], what="a Failed event")


def test_module_that_fails_to_import_ends_failed_naming_it(cluster: Cluster, workers: Any) -> None:
    cluster.source("import no_such_dependency_anywhere\n")
    name = cluster.admit("install")
    workers(idle=0.5)
    status = cluster.wait_phase(name, "failed")
    assert "importing module 'flows' failed" in status["error"]
    assert "no_such_dependency_anywhere" in status["error"]


def test_events_are_posted_for_the_workflow_and_each_task(cluster: Cluster, workers: Any) -> None:
    name = cluster.admit("install", {"count": 2})
    workers(idle=0.5)
    cluster.wait_phase(name, "terminated")
    reasons = wait_for(
        lambda: [e.reason for e in cluster.events(name)] if any(
            e.reason == "Succeeded" for e in cluster.events(name)) else None,
        what="the Succeeded event",
    )
    assert reasons.count("TaskStarted") == 2 and reasons.count("TaskSucceeded") == 2
    assert reasons.count("Started") == 1 and reasons.count("Succeeded") == 1


def test_source_config_map_update_reaches_the_next_execution(cluster: Cluster, workers: Any) -> None:
    workers(idle=10)
    first = cluster.admit("version")
    cluster.wait_phase(first, "terminated")
    cluster.source(FLOWS.replace('VERSION = "one"', 'VERSION = "two"'))
    second = cluster.admit("version")
    cluster.wait_phase(second, "terminated")
    assert (cluster.markers("one"), cluster.markers("two")) == (1, 1)


def test_worker_renews_the_lease_of_a_running_execution(cluster: Cluster, workers: Any) -> None:
    name = cluster.admit("stubborn")
    workers(idle=0.5, renew_interval=0.5)
    wait_for(lambda: cluster.markers("running"), what="the task to run")
    before = cluster.lease_renew_time()
    wait_for(lambda: cluster.lease_renew_time() > before, what="a renewal")
    cluster.cancel(name, "force")
    cluster.wait_phase(name, "cancelled")


# ----- cancelling --------------------------------------------------------------------------------------


def test_graceful_cancel_lets_the_running_task_finish_and_starts_no_more(
    cluster: Cluster, workers: Any
) -> None:
    name = cluster.admit("polite")
    workers(idle=0.5)
    wait_for(lambda: cluster.markers("running"), what="the first task to run")
    cluster.cancel(name, "graceful")
    status = cluster.wait_phase(name, "cancelled")
    assert cluster.markers("after") == 0
    assert [c["reason"] for c in status["conditions"] if c["type"] == "Succeeded"] == ["Cancelled"]


def test_force_cancel_stops_the_running_task_and_ends_cancelled(cluster: Cluster, workers: Any) -> None:
    name = cluster.admit("stubborn")
    workers(idle=0.5)
    wait_for(lambda: cluster.markers("running"), what="the task to run")
    cluster.cancel(name, "force")
    cluster.wait_phase(name, "cancelled", timeout=10)
    assert cluster.markers("finished") == 0


@pytest.mark.parametrize("workflow", ["deaf_task", "deaf_workflow"])
def test_force_cancel_abandons_code_that_ignores_it_and_ends_cancelled(
    cluster: Cluster, workers: Any, workflow: str
) -> None:
    name = cluster.admit(workflow)
    worker = workers(idle=0.3, grace=0.2)
    wait_for(lambda: cluster.markers("running"), what="the code to run")
    cluster.cancel(name, "force")
    status = cluster.wait_phase(name, "cancelled", timeout=15)
    assert "abandoned" in status["error"]
    assert worker.join() == 0
    assert cluster.markers("finished") == 0


# ----- concurrency -------------------------------------------------------------------------------------


def test_forced_executions_run_concurrently_in_one_worker(cluster: Cluster, workers: Any) -> None:
    worker = workers(idle=5)
    first = cluster.admit("meet", {"me": "a", "other": "b"}, force=True)
    second = cluster.admit("meet", {"me": "b", "other": "a"}, force=True)
    for name in (first, second):
        status = cluster.wait_phase(name, "terminated", "failed", timeout=40)
        assert status["phase"] == "terminated", status.get("error")
        assert status["worker"] == worker.settings.pod_name


def test_two_workers_racing_for_an_execution_run_it_once(cluster: Cluster, workers: Any) -> None:
    racers = [workers(idle=5, pod="racer-a"), workers(idle=5, pod="racer-b")]
    names = [cluster.admit("once", force=True) for _ in range(3)]
    for name in names:
        assert cluster.wait_phase(name, "terminated")["worker"] in {r.settings.pod_name for r in racers}
    assert cluster.markers("ran") == len(names)


# ----- the command line ----------------------------------------------------------------------------------


def test_cli_worker_prefixes_log_lines_with_the_execution_name(cluster: Cluster, kubeconfig: str) -> None:
    name = cluster.admit("install", {"count": 2})
    code = "from conveyor.cli.worker import worker; worker()"
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            code,
            "--namespace",
            cluster.namespace,
            "--deployment",
            DEPLOYMENT,
            "--kubeconfig",
            kubeconfig,
            "--idle-timeout",
            "0.5",
            "--pod-name",
            "cli-worker",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert cluster.status(name)["phase"] == "terminated"
    mine = [line for line in proc.stdout.splitlines() if line.startswith(f"[{name}] ")]
    assert any("step0: doing s0" in line for line in mine)
    assert any("Task step1" in line and line.endswith("succeeded") for line in mine)
    others = [line for line in proc.stdout.splitlines() if not line.startswith(f"[{name}] ")]
    assert all(line.startswith("[worker] ") for line in others), others


def test_worker_ignores_the_executions_of_other_deployments(cluster: Cluster, workers: Any) -> None:
    name = cluster.admit("once")
    cluster.custom.patch_namespaced_custom_object(
        GROUP,
        VERSION,
        cluster.namespace,
        "executions",
        name,
        {"metadata": {"labels": {LABEL_DEPLOYMENT: "other"}}},
    )
    worker = workers(idle=0.3)
    assert worker.join() == 0
    assert cluster.status(name)["phase"] == "pending"
    assert json.dumps(cluster.status(name)).count("worker") == 0


def test_progress_writes_are_throttled_for_a_large_graph(cluster: Cluster, workers: Any) -> None:
    """200 tasks would be 400 progress writes unthrottled; count the Execution's modifications."""
    name = cluster.admit("install", {"count": 200})
    seen: list[str] = []
    done = threading.Event()

    def count_modifications() -> None:
        stream = watch.Watch()
        for event in stream.stream(
            cluster.custom.list_namespaced_custom_object,
            GROUP,
            VERSION,
            cluster.namespace,
            "executions",
            field_selector=f"metadata.name={name}",
            timeout_seconds=60,
        ):
            seen.append(event["type"])
            if (event["object"].get("status") or {}).get("phase") == "terminated":
                break
        done.set()

    watcher = threading.Thread(target=count_modifications, daemon=True)
    watcher.start()
    workers(idle=0.5)
    assert cluster.wait_phase(name, "terminated", timeout=60)["operations"] == {"total": 200, "finished": 200}
    assert done.wait(30)
    assert seen.count("MODIFIED") < 60, f"{seen.count('MODIFIED')} writes"


def test_worker_leaves_a_status_the_operator_made_final(cluster: Cluster, workers: Any) -> None:
    """kill: the operator ends the execution (and deletes the pod unless it is shared); the worker
    stops the workflow and writes nothing over the operator's final status."""
    name = cluster.admit("stubborn")
    worker = workers(idle=0.3)
    wait_for(lambda: cluster.markers("running"), what="the task to run")
    cluster.cancel(name, "kill")
    cluster.custom.patch_namespaced_custom_object_status(
        GROUP,
        VERSION,
        cluster.namespace,
        "executions",
        name,
        {"status": {"phase": "cancelled", "error": "Cancelled (kill)"}},
    )
    assert worker.join() == 0
    status = cluster.status(name)
    assert (status["phase"], status["error"]) == ("cancelled", "Cancelled (kill)")
    assert cluster.markers("finished") == 0


def test_system_worker_runs_system_wide_executions(cluster: Cluster, kubeconfig: str) -> None:
    config_yaml = f"systemWorkflows:\n  once:\n    mapping: flows.once\n    source: {{configMap: {SOURCE}}}\n"
    body: Any = {"metadata": {"name": CONFIG_MAP_NAME}, "data": {CONFIG_MAP_KEY: config_yaml}}
    cluster.core.create_namespaced_config_map(cluster.namespace, body)
    name = cluster.admit("once", system=True)
    worker = WorkerThread(kubeconfig, cluster.namespace, idle=0.3, system=True).start()
    assert worker.join() == 0
    assert cluster.status(name)["phase"] == "terminated"
    assert cluster.markers("ran") == 1
