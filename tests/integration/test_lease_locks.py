"""The Lease protocol's memory of the last version it wrote: it saves reads, never correctness.

Two `LeaseLocks` over two clients play two writers (an admitter and a worker renewing, or two
admitters during a leader change), each with its own remembered copy that the other makes stale.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from conveyor.kube.api import KubeApi, load_client
from conveyor.locks.leases import Acquired, Busy, LeaseLocks, LeaseRef
from conveyor.worker.heartbeat import keep_renewed


class CountingApi:
    """The real client, with its Lease reads counted."""

    def __init__(self, api: KubeApi) -> None:
        self._api = api
        self.reads = 0

    async def get_lease(self, namespace: str, name: str) -> dict[str, Any] | None:
        self.reads += 1
        return await self._api.get_lease(namespace, name)

    async def create_lease(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._api.create_lease(namespace, body)

    async def replace_lease(self, namespace: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self._api.replace_lease(namespace, name, body)

    async def list_leases(self, namespace: str | None, label_selector: str) -> list[dict[str, Any]]:
        return await self._api.list_leases(namespace, label_selector)


Scenario = Callable[[LeaseLocks, LeaseLocks, CountingApi, LeaseRef], Awaitable[None]]


def run_with_two_writers(kubeconfig: str, namespace: str, scenario: Scenario) -> None:
    async def main() -> None:
        clients = [KubeApi(await load_client(kubeconfig)) for _ in range(2)]
        counting = CountingApi(clients[0])
        try:
            ref = LeaseRef.of_deployment(namespace, "web")
            await scenario(LeaseLocks(counting), LeaseLocks(clients[1]), counting, ref)
        finally:
            for api in clients:
                await api.close()

    asyncio.run(main())


@pytest.mark.usefixtures("crds")
def test_a_release_on_a_copy_another_writer_made_stale_removes_only_its_holder(
    kubeconfig: str, namespace: str
) -> None:
    async def scenario(a: LeaseLocks, b: LeaseLocks, _: CountingApi, ref: LeaseRef) -> None:
        assert isinstance(await a.acquire(ref, "first", exclusive=True), Acquired)
        assert isinstance(await b.acquire(ref, "forced", exclusive=False), Acquired)  # a's copy is stale
        await a.release(ref, "first")
        assert (await b.read(ref)).holders == ("forced",)

    run_with_two_writers(kubeconfig, namespace, scenario)


@pytest.mark.usefixtures("crds")
def test_busy_is_answered_only_after_a_fresh_read(kubeconfig: str, namespace: str) -> None:
    async def scenario(a: LeaseLocks, b: LeaseLocks, _: CountingApi, ref: LeaseRef) -> None:
        assert isinstance(await a.acquire(ref, "first", exclusive=True), Acquired)
        await b.release(ref, "first")  # a still remembers the Lease held
        result = await a.acquire(ref, "second", exclusive=True)
        assert isinstance(result, Acquired), result
        assert isinstance(await b.acquire(ref, "third", exclusive=True), Busy)

    run_with_two_writers(kubeconfig, namespace, scenario)


@pytest.mark.usefixtures("crds")
def test_a_release_the_other_writer_already_made_is_not_undone(kubeconfig: str, namespace: str) -> None:
    async def scenario(a: LeaseLocks, b: LeaseLocks, _: CountingApi, ref: LeaseRef) -> None:
        assert isinstance(await a.acquire(ref, "first", exclusive=True), Acquired)
        await b.release(ref, "first")
        assert isinstance(await b.acquire(ref, "second", exclusive=True), Acquired)
        await a.release(ref, "first")  # stale copy says "first" holds it: the CAS fails, re-read
        assert (await b.read(ref)).holders == ("second",)

    run_with_two_writers(kubeconfig, namespace, scenario)


@pytest.mark.usefixtures("crds")
def test_the_sole_writer_hands_a_lease_on_without_reading_it(kubeconfig: str, namespace: str) -> None:
    async def scenario(a: LeaseLocks, _: LeaseLocks, counting: CountingApi, ref: LeaseRef) -> None:
        holders = ["first", "second", "third", "fourth"]
        assert isinstance(await a.acquire(ref, holders[0], exclusive=True), Acquired)
        reads = counting.reads
        for before, after in itertools.pairwise(holders):
            await a.release(ref, before)
            assert isinstance(await a.acquire(ref, after, exclusive=True), Acquired)
        assert counting.reads == reads

    run_with_two_writers(kubeconfig, namespace, scenario)


async def _first_step_reads(locks: LeaseLocks, counting: CountingApi, ref: LeaseRef) -> int:
    """How many Lease reads the heartbeat of an execution admitted just now makes before it first
    waits (counted when issued, so one loop step shows it)."""
    reads = counting.reads
    task = asyncio.create_task(
        keep_renewed(locks, ref, "first", lambda: None, interval=30.0, renewed_at=datetime.now(UTC))
    )
    await asyncio.sleep(0)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    return counting.reads - reads


@pytest.mark.usefixtures("crds")
def test_a_heartbeat_does_not_read_a_lease_renewed_at_admission_moments_ago(
    kubeconfig: str, namespace: str
) -> None:
    async def scenario(a: LeaseLocks, b: LeaseLocks, counting: CountingApi, ref: LeaseRef) -> None:
        assert isinstance(await b.acquire(ref, "first", exclusive=True), Acquired)
        await a.read(ref)  # this worker has seen the lease (its duration) before
        assert await _first_step_reads(a, counting, ref) == 0

    run_with_two_writers(kubeconfig, namespace, scenario)


@pytest.mark.usefixtures("crds")
def test_a_heartbeat_reads_a_lease_whose_duration_it_does_not_know_yet(
    kubeconfig: str, namespace: str
) -> None:
    async def scenario(a: LeaseLocks, b: LeaseLocks, counting: CountingApi, ref: LeaseRef) -> None:
        assert isinstance(await b.acquire(ref, "first", exclusive=True), Acquired)
        assert await _first_step_reads(a, counting, ref) == 1

    run_with_two_writers(kubeconfig, namespace, scenario)
