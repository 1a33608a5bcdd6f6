"""`kubectl apply -R -f examples/` on the local control plane runs every example to `terminated`.

The whole path as a user drives it: kubectl alone, an operator admitting the executions, workers
running them with workflow code from the examples' ConfigMaps, the `kubernetes` plugin applying a
real apps/v1 Deployment that the sim's controllers roll out. Two variants: worker Jobs whose pods
the sim's kubelet runs (what `conveyor dev` does), and the same workers on threads of this process
(the operator told not to create Jobs), which needs neither the CLI command nor installed entry points.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import io
import json
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubetest import wait_for
from operator_harness import OperatorThread

from conveyor.controller.runtime import OperatorOptions
from conveyor.plugins import kubernetes
from conveyor.sim.kubelet.logs import serve_pod_log
from conveyor.worker.logs import PrefixedLog
from conveyor.worker.process import serve
from conveyor.worker.settings import WorkerSettings
from conveyor.workflows import register_plugin, unregister_plugin
from conveyor.workflows.plugins import ENTRY_POINT_GROUP

REPO = Path(__file__).resolve().parents[2]
EXAMPLES_NAMESPACE = "conveyor-examples"
OPERATOR_NAMESPACE = "conveyor-system"
EXECUTIONS = {
    (EXAMPLES_NAMESPACE, "web-install"),
    (EXAMPLES_NAMESPACE, "hello-greet"),
    (OPERATOR_NAMESPACE, "snapshot-examples"),
}
FINAL = {"terminated", "failed", "cancelled"}


def _missing_pieces() -> list[str]:
    """What the worker-Job run needs that may not be wired yet (the skip says which, not a timeout)."""
    from conveyor.cli.main import main

    missing = []
    if not any(ep.name == "kubernetes" for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP)):
        missing.append("the `kubernetes` plugin's entry point (pyproject.toml, then `pip install -e .`)")
    if "worker" not in main.commands:
        missing.append("the `conveyor worker` command (conveyor.cli.main)")
    return missing


pytestmark = pytest.mark.sim_only
needs_worker_jobs = pytest.mark.skipif(
    bool(_missing_pieces()), reason="not wired yet: " + "; ".join(_missing_pieces())
)


@pytest.fixture
def wired(sim: Any) -> None:
    """Until SimServer does it: pods' kubeconfigs need the server URL, and `kubectl logs` a handler."""
    if not getattr(sim.api, "server_url", None):
        sim.api.server_url = sim.url
    if sim.app.log_handler is None:
        sim.app.register_log_handler(serve_pod_log)


def start_operator(kubeconfig: str, kubectl: Any, create_worker_jobs: bool) -> OperatorThread:
    kubectl("create", "namespace", OPERATOR_NAMESPACE, check=False)
    options = OperatorOptions(
        operator_namespace=OPERATOR_NAMESPACE,
        namespaces=[EXAMPLES_NAMESPACE],
        kubeconfig=kubeconfig,
        metrics_port=0,
        identity="examples",
        lease_check_interval=0.5,
        create_worker_jobs=create_worker_jobs,
    )
    return OperatorThread(options).start()


def remove_examples(kubectl: Any) -> None:
    """Delete what the examples made and wait for their namespace to go, so a next run starts clean."""
    kubectl("delete", "-R", "-f", str(REPO / "examples"), "--ignore-not-found", "--wait=false", check=False)
    kubectl("delete", "namespace", EXAMPLES_NAMESPACE, "--ignore-not-found", "--timeout=60s", check=False)
    kubectl("delete", "configmaps", "-n", OPERATOR_NAMESPACE, "-l", "conveyor.dev/snapshot", check=False)


class InProcessWorker:
    """`conveyor worker` on a thread of this process: what a worker Job's pod runs."""

    def __init__(self, kubeconfig: str, namespace: str, deployment: str | None) -> None:
        self.settings = WorkerSettings(
            namespace=namespace,
            deployment=deployment,
            operator_namespace=OPERATOR_NAMESPACE,
            pod_name=f"examples-{deployment or 'system'}",
            idle_timeout=300,
            progress_interval=0.2,
        )
        self.kubeconfig = kubeconfig
        self.output = io.StringIO()
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, daemon=True)

    def _main(self) -> None:
        async def run() -> int:
            self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
            self._ready.set()
            return await serve(self.settings, self.kubeconfig, self._stop, PrefixedLog(self.output))

        asyncio.run(run())

    def start(self) -> InProcessWorker:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)


@pytest.fixture
def operator_with_jobs(kubeconfig: str, kubectl: Any, crds: None, wired: None) -> Iterator[OperatorThread]:
    thread = start_operator(kubeconfig, kubectl, create_worker_jobs=True)
    yield thread
    remove_examples(kubectl)
    thread.stop()


@pytest.fixture
def in_process_workers(
    kubeconfig: str, kubectl: Any, crds: None, wired: None, monkeypatch: pytest.MonkeyPatch
) -> Iterator[list[InProcessWorker]]:
    """An operator that leaves worker Jobs to the test, and the three workers the examples need on
    threads: the `kubernetes` plugin registered directly, the workflows' API client from $KUBECONFIG."""
    monkeypatch.setenv("KUBECONFIG", kubeconfig)
    register_plugin("kubernetes", kubernetes)
    thread = start_operator(kubeconfig, kubectl, create_worker_jobs=False)
    workers = [
        InProcessWorker(kubeconfig, EXAMPLES_NAMESPACE, "web").start(),
        InProcessWorker(kubeconfig, EXAMPLES_NAMESPACE, "hello").start(),
        InProcessWorker(kubeconfig, OPERATOR_NAMESPACE, None).start(),
    ]
    yield workers
    remove_examples(kubectl)
    for worker in workers:
        worker.stop()
    thread.stop()
    unregister_plugin("kubernetes")


def executions(kubectl: Any) -> list[dict[str, Any]]:
    listed = json.loads(kubectl("get", "executions.conveyor.dev", "-A", "-o", "json").stdout)["items"]
    return [
        item for item in listed if (item["metadata"]["namespace"], item["metadata"]["name"]) in EXECUTIONS
    ]


def diagnostics(kubectl: Any) -> str:
    """What a failure report needs: the executions' statuses and the worker Jobs' logs."""
    out = [
        json.dumps({item["metadata"]["name"]: item.get("status") for item in executions(kubectl)}, indent=1)
    ]
    for namespace in (EXAMPLES_NAMESPACE, OPERATOR_NAMESPACE):
        out.append(kubectl("get", "jobs,pods", "-n", namespace, check=False).stdout)
        for job in ("conveyor-worker-web", "conveyor-worker-hello", "conveyor-worker-system"):
            logs = kubectl("logs", "-n", namespace, f"job/{job}", "--tail=40", check=False)
            out.append(f"--- {namespace}/{job}:\n{logs.stdout}{logs.stderr}")
    return "\n".join(out)


def apply_examples_and_wait(kubectl: Any, logs: Callable[[], str] = lambda: "") -> None:
    kubectl("apply", "-R", "-f", str(REPO / "examples"))

    def all_final() -> list[dict[str, Any]] | None:
        current = executions(kubectl)
        ended = [item for item in current if (item.get("status") or {}).get("phase") in FINAL]
        return current if len(ended) == len(EXECUTIONS) else None

    timeout = float(os.environ.get("CONVEYOR_EXAMPLES_TIMEOUT", "120"))
    try:
        ended = wait_for(all_final, timeout=timeout, what="every example execution to end")
    except AssertionError as error:
        raise AssertionError(f"{error}\n{diagnostics(kubectl)}\n{logs()}") from None
    outcomes = {
        item["metadata"]["name"]: (item["status"]["phase"], item["status"].get("error")) for item in ended
    }
    assert {phase for phase, _ in outcomes.values()} == {"terminated"}, f"{outcomes}\n{logs()}"
    rollout = kubectl("rollout", "status", "-n", EXAMPLES_NAMESPACE, "deployment/web-app", "--timeout=5s")
    assert "successfully rolled out" in rollout.stdout


@needs_worker_jobs
def test_every_example_execution_ends_terminated_on_worker_jobs(
    operator_with_jobs: OperatorThread, kubectl: Any
) -> None:
    apply_examples_and_wait(kubectl)


def test_every_example_execution_ends_terminated_with_in_process_workers(
    in_process_workers: list[InProcessWorker], kubectl: Any
) -> None:
    apply_examples_and_wait(kubectl, lambda: "\n".join(w.output.getvalue() for w in in_process_workers))
