"""Two admission loops at once against one API server (DESIGN.md asks for this test): leader
election is off, so both admit every request; the Lease protocol alone must keep S1 and S2, and
every execution must still end (nothing lost, nothing stuck)."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from history import FINAL, RUNNING, ExecutionRecorder, check_invariants
from kubernetes import client
from operator_harness import Cluster, OperatorThread, WorkerStandIn, wait_for

DEPLOYMENTS = ("web", "db", "cache")


def _random_history(cluster: Cluster, worker: WorkerStandIn, rng: random.Random, steps: int) -> list[str]:
    created: list[str] = []
    for _ in range(steps):
        action = rng.random()
        phases = {name: cluster.phase(name) for name in created}
        running = [n for n, p in phases.items() if p in RUNNING]
        queued = [n for n, p in phases.items() if p == "queued"]
        if action < 0.55 or not created:
            if rng.random() < 0.12:
                created.append(
                    cluster.execution(deployment=None, workflow="create_snapshot", queue=rng.random() < 0.7)
                )
            else:
                force = rng.random() < 0.2
                created.append(
                    cluster.execution(
                        deployment=rng.choice(DEPLOYMENTS),
                        force=force,
                        queue=not force and rng.random() < 0.6,
                    )
                )
        elif action < 0.9 and running:
            name = rng.choice(running)
            if phases[name] == "pending":
                try:
                    worker.claim(name)
                except client.ApiException:
                    continue  # the other admitter or a cancel moved it first: a lost CAS, as a worker sees
            worker.finish(name)
        elif queued:
            cluster.set_cancel(rng.choice(queued), "graceful")
    return created


def _drain(cluster: Cluster, worker: WorkerStandIn, created: list[str]) -> None:
    """Finish whatever runs until every execution is final."""

    def settled() -> bool:
        phases = {name: cluster.phase(name) for name in created}
        for name, phase in phases.items():
            if phase in RUNNING:
                if phase == "pending":
                    try:
                        worker.claim(name)
                    except client.ApiException:
                        return False
                worker.finish(name)
        return all(phase in FINAL for phase in phases.values())

    wait_for(settled, timeout=60, what="every execution to end")


@pytest.mark.parametrize("seed", [7, 2024])
def test_two_admission_loops_at_once_never_break_s1_or_s2(
    seed: int,
    cluster: Cluster,
    start_operator: Callable[..., OperatorThread],
    worker: WorkerStandIn,
    api_client: client.ApiClient,
) -> None:
    for name in DEPLOYMENTS:
        cluster.deployment(name)
    recorder = ExecutionRecorder(api_client, cluster.namespace).start()
    first = start_operator(leader_election=False, identity="admitter-a")
    second = start_operator(leader_election=False, identity="admitter-b")
    try:
        created = _random_history(cluster, worker, random.Random(seed), steps=40)
        _drain(cluster, worker, created)
    finally:
        recorder.stop()
    violations = check_invariants(recorder.events)
    assert (violations.s1, violations.s2, violations.s3) == ([], [], [])
    assert cluster.lease_holders("web") == cluster.lease_holders("db") == cluster.lease_holders(None) == []
    assert first.operator is not None and second.operator is not None
    print("resyncs", first.operator.loop.resyncs, second.operator.loop.resyncs, first.writes, second.writes)
