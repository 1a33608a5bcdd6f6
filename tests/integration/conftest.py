"""Integration fixtures: Conveyor's CRDs on the cluster under test, an operator per test watching
that test's namespace (which is also its operator namespace, so system-wide executions and the
system lease stay inside the test), the official client, and a stand-in for the worker.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config
from operator_harness import Cluster, OperatorThread, WorkerStandIn

from conveyor.controller.runtime import OperatorOptions

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def crds(kubectl: Any) -> None:
    kubectl("apply", "-f", str(REPO / "crds"))
    for name in ("deployments.conveyor.dev", "executions.conveyor.dev"):
        kubectl("wait", "--for=condition=Established", f"crd/{name}", "--timeout=30s")


@pytest.fixture(scope="session")
def api_client(kubeconfig: str) -> Iterator[client.ApiClient]:
    api = config.new_client_from_config(config_file=kubeconfig)
    yield api
    api.close()


@pytest.fixture
def start_operator(
    kubeconfig: str, namespace: str, cluster: Cluster
) -> Iterator[Callable[..., OperatorThread]]:
    """`start_operator(**options)` runs an operator watching the test's namespace; all are stopped
    at the end, after the test's objects lose their finalizers (so the namespace can go)."""
    started: list[OperatorThread] = []

    def start(**overrides: Any) -> OperatorThread:
        options = OperatorOptions(
            operator_namespace=namespace,
            namespaces=[namespace],
            kubeconfig=kubeconfig,
            metrics_port=0,
            identity=f"test-{len(started)}",
            create_worker_jobs=False,
            lease_check_interval=0.5,
            config_reload_interval=0.3,
        )
        for name, value in overrides.items():
            setattr(options, name, value)
        thread = OperatorThread(options).start()
        started.append(thread)
        return thread

    yield start
    for thread in started:
        thread.stop()


@pytest.fixture
def operator(start_operator: Callable[..., OperatorThread]) -> OperatorThread:
    return start_operator()


@pytest.fixture
def cluster(api_client: client.ApiClient, namespace: str, kubectl: Any, crds: None) -> Iterator[Cluster]:
    cluster = Cluster(api_client, namespace, kubectl)
    yield cluster
    cluster.clear_finalizers()


@pytest.fixture
def worker(cluster: Cluster) -> WorkerStandIn:
    return WorkerStandIn(cluster)
