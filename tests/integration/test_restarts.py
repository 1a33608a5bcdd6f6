"""Operator restarts: the state lives in statuses and Leases, never in the operator's memory, so a
restart mid-queue loses and doubles nothing, and half-done admissions are repaired."""

from __future__ import annotations

from collections.abc import Callable

from history import ExecutionRecorder, check_invariants
from kubernetes import client
from operator_harness import Cluster, OperatorThread, WorkerStandIn, wait_for

from conveyor.api.names import GROUP, VERSION


def test_restart_mid_queue_loses_and_doubles_nothing(
    cluster: Cluster,
    start_operator: Callable[..., OperatorThread],
    worker: WorkerStandIn,
    api_client: client.ApiClient,
) -> None:
    cluster.deployment()
    recorder = ExecutionRecorder(api_client, cluster.namespace).start()
    first = start_operator(identity="before")
    running = cluster.execution()
    worker.claim(running)
    queued = [cluster.execution(queue=True) for _ in range(3)]
    for name in queued:
        cluster.wait_phase(name, "queued")
    first.stop()
    worker.finish(running)  # ends while no operator runs
    late = [cluster.execution(queue=True) for _ in range(3)]  # arrive while no operator runs
    start_operator(identity="after")
    order = []
    current = None
    for _ in range(len(queued) + len(late)):
        current = wait_for(
            lambda: next((n for n in [*queued, *late] if cluster.phase(n) == "pending"), None),
            what="the next start",
        )
        order.append(current)
        worker.run(current)
    recorder.stop()
    assert order == [*queued, *late]
    assert check_invariants(recorder.events).total == 0
    wait_for(lambda: cluster.lease_holders() == [], what="the last lease to be released")


def _hold_lease(cluster: Cluster, holder: str) -> None:
    cluster.apply(
        {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {
                "name": "conveyor-deployment-web",
                "namespace": cluster.namespace,
                "labels": {
                    "app.kubernetes.io/managed-by": "conveyor",
                    "app.kubernetes.io/name": "conveyor",
                    "app.kubernetes.io/component": "deployment-lock",
                },
            },
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": 60},
        }
    )


def test_restart_completes_an_admission_whose_lease_was_taken_but_status_not_written(
    cluster: Cluster, start_operator: Callable[..., OperatorThread]
) -> None:
    cluster.deployment("other")  # the execution below must not be admitted by a running operator
    cluster.deployment()
    name = cluster.execution()
    _hold_lease(cluster, name)
    start_operator()
    cluster.wait_phase(name, "pending")
    assert cluster.lease_holders() == [name]


def test_restart_releases_a_lease_held_by_an_execution_that_ended(
    cluster: Cluster, start_operator: Callable[..., OperatorThread]
) -> None:
    cluster.deployment()
    _hold_lease(cluster, "gone-long-ago")
    start_operator()
    wait_for(lambda: cluster.lease_holders() == [], what="the stale holder to be released")
    name = cluster.execution()
    cluster.wait_phase(name, "pending")


def test_kopf_writes_nothing_on_executions(cluster: Cluster, operator: OperatorThread) -> None:
    cluster.deployment()
    name = cluster.execution()
    cluster.wait_phase(name, "pending")
    obj = cluster.custom.get_namespaced_custom_object(GROUP, VERSION, cluster.namespace, "executions", name)
    assert not [k for k in (obj["metadata"].get("annotations") or {}) if "kopf" in k]
    assert [f for f in obj["metadata"].get("finalizers") or [] if "kopf" in f] == []
