"""The reference scenarios of admission (DESIGN.md, "Admission rules"), driven through the API with
kubectl and the official client against a running operator. Executions are completed by the
worker stand-in (see conftest) until the workers land."""

from __future__ import annotations

from operator_harness import Cluster, OperatorThread, WorkerStandIn, wait_for

BUSY = (
    "The following executions are currently running for this deployment: [{names}]. "
    "Set force: true to run this workflow anyway."
)


def test_an_execution_that_may_start_is_admitted_pending_with_its_lease_held(
    cluster: Cluster, operator: OperatorThread
) -> None:
    cluster.deployment()
    name = cluster.execution()
    cluster.wait_phase(name, "pending")
    assert cluster.lease_holders() == [name]
    obj = wait_for(
        lambda: (
            (o := cluster.get(name))
            and "conveyor.dev/cancel-on-delete" in (o["metadata"].get("finalizers") or [])
            and o
        ),
        what="the finalizer",
    )
    assert obj["metadata"]["labels"]["conveyor.dev/deployment"] == "web"
    assert "Admitted" in wait_for(lambda: cluster.events_for(name), what="an Admitted event")


def test_each_status_change_is_an_event(
    cluster: Cluster, operator: OperatorThread, worker: WorkerStandIn
) -> None:
    cluster.deployment()
    name = cluster.execution()
    worker.run(name)
    expected = ["Admitted", "Started", "Succeeded"]
    wait_for(
        lambda: cluster.events_for(name) == expected,
        what=f"events {expected} (are {cluster.events_for(name)})",
    )


def test_busy_deployment_rejects_a_request_with_the_reference_message(
    cluster: Cluster, operator: OperatorThread
) -> None:
    cluster.deployment()
    first = cluster.execution()
    cluster.wait_phase(first, "pending")
    second = cluster.execution()
    obj = cluster.wait_phase(second, "failed")
    assert obj["status"]["error"] == BUSY.format(names=first)
    reasons = {c["type"]: c["reason"] for c in obj["status"]["conditions"]}
    assert reasons == {"Admitted": "Rejected", "Succeeded": "Rejected"}
    assert cluster.lease_holders() == [first]


def test_forced_execution_runs_beside_a_running_one(cluster: Cluster, operator: OperatorThread) -> None:
    cluster.deployment()
    first = cluster.execution()
    cluster.wait_phase(first, "pending")
    forced = cluster.execution(force=True)
    cluster.wait_phase(forced, "pending")
    assert cluster.lease_holders() == [first, forced]


def test_queued_execution_waits_and_starts_by_itself_when_the_running_one_ends(
    cluster: Cluster, operator: OperatorThread, worker: WorkerStandIn
) -> None:
    cluster.deployment()
    first = cluster.execution()
    worker.claim(first)
    queued = cluster.execution(queue=True)
    obj = cluster.wait_phase(queued, "queued")
    assert first in obj["status"]["waitingFor"]
    worker.finish(first)
    cluster.wait_phase(queued, "pending")
    assert cluster.lease_holders() == [queued]


def test_queued_executions_start_in_creation_order(
    cluster: Cluster, operator: OperatorThread, worker: WorkerStandIn
) -> None:
    cluster.deployment()
    first = cluster.execution()
    cluster.wait_phase(first, "pending")
    queued = [cluster.execution(queue=True) for _ in range(4)]
    for name in queued:
        cluster.wait_phase(name, "queued")
    order = []
    running = first
    for _ in queued:
        worker.run(running)
        running = wait_for(
            lambda: next((n for n in queued if cluster.phase(n) == "pending"), None), what="the next start"
        )
        order.append(running)
    assert order == queued


def test_system_wide_execution_waits_for_running_ones_and_blocks_others(
    cluster: Cluster, operator: OperatorThread, worker: WorkerStandIn
) -> None:
    cluster.deployment()
    running = cluster.execution()
    cluster.wait_phase(running, "pending")
    system = cluster.execution(deployment=None, workflow="create_snapshot", queue=True)
    obj = cluster.wait_phase(system, "queued")
    assert running in obj["status"]["waitingFor"]
    worker.run(running)
    cluster.wait_phase(system, "pending")
    assert cluster.lease_holders(None) == [system]
    blocked = cluster.execution()
    obj = cluster.wait_phase(blocked, "failed")
    assert obj["status"]["error"] == (
        "You cannot start an execution if there is a running system-wide execution "
        f"(id: {cluster.namespace}/{system})"
    )


def test_system_wide_request_while_others_run_is_rejected_with_the_reference_message(
    cluster: Cluster, operator: OperatorThread
) -> None:
    cluster.deployment()
    running = cluster.execution()
    cluster.wait_phase(running, "pending")
    system = cluster.execution(deployment=None, workflow="create_snapshot")
    obj = cluster.wait_phase(system, "failed")
    assert obj["status"]["error"] == (
        "You cannot start a system-wide execution if there are other executions running. "
        f"Currently running executions: [{cluster.namespace}/{running}]"
    )


def test_a_queued_system_wide_execution_makes_requests_without_queue_fail(
    cluster: Cluster, operator: OperatorThread
) -> None:
    cluster.deployment()
    cluster.deployment("db")
    running = cluster.execution()
    cluster.wait_phase(running, "pending")
    system = cluster.execution(deployment=None, workflow="create_snapshot", queue=True)
    cluster.wait_phase(system, "queued")
    other = cluster.execution(deployment="db")
    obj = cluster.wait_phase(other, "failed")
    assert obj["status"]["error"] == (
        "You cannot start an execution while a system-wide execution is waiting in the queue "
        f"(id: {cluster.namespace}/{system}). Set queue: true to run after it."
    )
    behind = cluster.execution(deployment="db", queue=True)
    cluster.wait_phase(behind, "queued")


def test_cancelling_a_queued_execution_ends_it_cancelled_at_once(
    cluster: Cluster, operator: OperatorThread
) -> None:
    cluster.deployment()
    running = cluster.execution()
    cluster.wait_phase(running, "pending")
    queued = cluster.execution(queue=True)
    cluster.wait_phase(queued, "queued")
    cluster.set_cancel(queued, "graceful")
    obj = cluster.wait_phase(queued, "cancelled")
    assert obj["status"]["conditions"][-1]["reason"] == "Cancelled"
    assert cluster.lease_holders() == [running]


def test_a_queued_execution_carries_its_label_and_finalizer_from_its_first_decision(
    cluster: Cluster, operator: OperatorThread
) -> None:
    """Written with the queued decision, so its admission later writes only lease and status."""
    cluster.deployment()
    running = cluster.execution()
    cluster.wait_phase(running, "pending")
    queued = cluster.execution(queue=True)
    obj = cluster.wait_phase(queued, "queued")
    assert "conveyor.dev/cancel-on-delete" in obj["metadata"]["finalizers"]
    assert obj["metadata"]["labels"]["conveyor.dev/deployment"] == "web"


def test_deleting_a_queued_execution_removes_it_and_it_never_starts(
    cluster: Cluster, operator: OperatorThread, worker: WorkerStandIn
) -> None:
    cluster.deployment()
    running = cluster.execution()
    worker.claim(running)
    queued = cluster.execution(queue=True)
    cluster.wait_phase(queued, "queued")
    cluster.delete(queued)
    wait_for(lambda: cluster.get(queued) is None, what="the deleted queued execution to go")
    worker.finish(running)
    cluster.wait_phase(running, "terminated")
    wait_for(lambda: cluster.lease_holders() == [], what="the lease to be released")


def test_deleting_a_running_execution_releases_its_lease_and_starts_the_next(
    cluster: Cluster, operator: OperatorThread, worker: WorkerStandIn
) -> None:
    cluster.deployment()
    running = cluster.execution()
    worker.claim(running)
    queued = cluster.execution(queue=True)
    cluster.wait_phase(queued, "queued")
    cluster.delete(running)
    wait_for(lambda: cluster.get(running) is None, what="the deleted execution to go")
    cluster.wait_phase(queued, "pending")
    assert cluster.lease_holders() == [queued]


def test_invalid_request_names_the_missing_deployment(cluster: Cluster, operator: OperatorThread) -> None:
    name = cluster.execution(deployment="nowhere")
    obj = cluster.wait_phase(name, "failed")
    assert obj["status"]["conditions"][0]["reason"] == "Invalid"
    assert "nowhere" in obj["status"]["error"]


def test_a_worker_that_stops_renewing_its_lease_is_lost(
    cluster: Cluster, start_operator: object, worker: WorkerStandIn
) -> None:
    start_operator(lease_duration_seconds=1)  # type: ignore[operator]
    cluster.deployment()
    name = cluster.execution()
    worker.claim(name)
    obj = cluster.wait_phase(name, "failed", timeout=10)
    assert "worker lost" in obj["status"]["error"]
    wait_for(lambda: cluster.lease_holders() == [], what="the lease to be released")
