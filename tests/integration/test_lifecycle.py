"""Cancellation, schedules, Deployment deletion and the operator's metrics, through the API."""

from __future__ import annotations

import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from operator_harness import Cluster, OperatorThread, WorkerStandIn, wait_for

from conveyor.api.names import GROUP, VERSION


def test_graceful_cancel_of_a_started_execution_asks_the_worker_by_cancelling(
    cluster: Cluster, operator: OperatorThread, worker: WorkerStandIn
) -> None:
    cluster.deployment()
    name = cluster.execution()
    worker.claim(name)
    cluster.set_cancel(name, "graceful")
    cluster.wait_phase(name, "cancelling")
    worker.finish(name, "cancelled")
    wait_for(lambda: cluster.lease_holders() == [], what="the lease to be released")


def test_kill_ends_a_started_execution_cancelled_and_releases_its_lease(
    cluster: Cluster, operator: OperatorThread, worker: WorkerStandIn
) -> None:
    cluster.deployment()
    name = cluster.execution()
    worker.claim(name)
    cluster.set_cancel(name, "kill")
    cluster.wait_phase(name, "cancelled")
    wait_for(lambda: cluster.lease_holders() == [], what="the lease to be released")


def test_a_scheduled_execution_waits_for_its_time_then_starts(
    cluster: Cluster, operator: OperatorThread
) -> None:
    cluster.deployment()
    at = (datetime.now(UTC) + timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    name = cluster.execution(scheduledTime=at)
    cluster.wait_phase(name, "scheduled")
    cluster.wait_phase(name, "pending", timeout=10)


def test_cancelling_a_scheduled_execution_ends_it_at_once(cluster: Cluster, operator: OperatorThread) -> None:
    cluster.deployment()
    at = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    name = cluster.execution(scheduledTime=at)
    cluster.wait_phase(name, "scheduled")
    cluster.set_cancel(name, "graceful")
    cluster.wait_phase(name, "cancelled")


def test_deleting_a_deployment_cancels_its_running_executions_before_it_goes(
    cluster: Cluster, operator: OperatorThread, worker: WorkerStandIn
) -> None:
    cluster.deployment()
    name = cluster.execution()
    worker.claim(name)
    wait_for(
        lambda: (
            "conveyor.dev/cancel-on-delete"
            in (
                cluster.custom.get_namespaced_custom_object(
                    GROUP, VERSION, cluster.namespace, "deployments", "web"
                )["metadata"].get("finalizers")
                or []
            )
        ),
        what="the deployment finalizer",
    )
    cluster.custom.delete_namespaced_custom_object(GROUP, VERSION, cluster.namespace, "deployments", "web")
    cluster.wait_phase(name, "cancelled")
    wait_for(
        lambda: (
            not cluster.custom.list_namespaced_custom_object(
                GROUP, VERSION, cluster.namespace, "deployments"
            )["items"]
        ),
        what="the deployment to go",
    )
    assert cluster.lease_holders() == []


def _scrape(port: int, path: str = "/metrics") -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
        assert response.status == 200
        return str(response.read().decode())


def test_metrics_count_decisions_and_healthz_answers(cluster: Cluster, operator: OperatorThread) -> None:
    cluster.deployment()
    first = cluster.execution()
    cluster.wait_phase(first, "pending")
    cluster.wait_phase(cluster.execution(), "failed")
    assert operator.operator is not None and operator.operator.metrics_port is not None
    port = operator.operator.metrics_port
    assert _scrape(port, "/healthz") == "ok"
    expected = [
        'conveyor_admission_decisions_total{outcome="admitted"} 1.0',
        'conveyor_admission_decisions_total{outcome="rejected"} 1.0',
        "conveyor_admission_latency_seconds_count 1.0",
        'conveyor_executions{phase="pending"} 1.0',
        "conveyor_queue_depth 0.0",
    ]

    def scraped() -> str | None:
        text = _scrape(port)
        return text if all(line in text for line in expected) else None

    wait_for(scraped, what=f"metrics {expected}")


def _configure(cluster: Cluster, config_yaml: str) -> None:
    cluster.apply(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "conveyor-config", "namespace": cluster.namespace},
            "data": {"config.yaml": config_yaml},
        }
    )


def test_the_running_cap_from_the_configmap_queues_and_raising_it_starts_the_waiting(
    cluster: Cluster, start_operator: Callable[..., OperatorThread]
) -> None:
    _configure(cluster, "maxRunningExecutions: 1\n")
    start_operator()
    cluster.deployment()
    cluster.deployment("db")
    running = cluster.execution()
    cluster.wait_phase(running, "pending")
    waiting = cluster.execution(deployment="db", queue=True)
    obj = cluster.wait_phase(waiting, "queued")
    assert "maxRunningExecutions: 1" in obj["status"]["waitingFor"]
    _configure(cluster, "maxRunningExecutions: 0\n")
    cluster.wait_phase(waiting, "pending")


def test_the_deployment_status_shows_its_workflows_and_how_busy_it_is(
    cluster: Cluster, operator: OperatorThread
) -> None:
    cluster.deployment()
    cluster.wait_phase(cluster.execution(), "pending")
    cluster.wait_phase(cluster.execution(queue=True), "queued")

    def status() -> dict | None:
        obj = cluster.custom.get_namespaced_custom_object(
            GROUP, VERSION, cluster.namespace, "deployments", "web"
        )
        found = obj.get("status") or {}
        return found if (found.get("running"), found.get("queued")) == (1, 1) else None

    found = wait_for(status, what="running 1, queued 1 on the deployment")
    assert found["workflows"] == ["install", "maintain"] and found["phase"] == "Ready"
    assert found["worker"] == "conveyor-worker-web"
