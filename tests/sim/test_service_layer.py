"""The in-process ApiService, as the sim's controllers and kubelet use it (no HTTP)."""

from __future__ import annotations

import asyncio

import pytest

CONFIGMAPS = ("", "v1", "configmaps")


@pytest.mark.sim_only
def test_in_process_reads_return_private_copies(sim, namespace):
    sim.call(sim.api.create(CONFIGMAPS, namespace, {"metadata": {"name": "mine"}, "data": {"a": "1"}}))
    first = sim.call(sim.api.get(CONFIGMAPS, namespace, "mine"))
    first["data"]["a"] = "changed"
    assert sim.call(sim.api.get(CONFIGMAPS, namespace, "mine"))["data"]["a"] == "1"


@pytest.mark.sim_only
def test_in_process_watch_yields_events_after_a_resource_version(sim, namespace):
    async def scenario() -> list[tuple[str, str]]:
        rv = (await sim.api.list(CONFIGMAPS, namespace))["metadata"]["resourceVersion"]
        stream = await sim.api.watch(CONFIGMAPS, namespace, resource_version=rv, timeout_seconds=5)
        await sim.api.create(CONFIGMAPS, namespace, {"metadata": {"name": "w"}})
        await sim.api.delete(CONFIGMAPS, namespace, "w")
        seen: list[tuple[str, str]] = []
        async for batch in stream:
            seen += [(kind, obj["metadata"]["name"]) for kind, obj, _ in batch]
            if len(seen) >= 2:
                stream.close()
        return seen

    assert sim.call(scenario()) == [("ADDED", "w"), ("DELETED", "w")]


@pytest.mark.sim_only
def test_slow_watcher_is_closed_instead_of_blocking_writers(sim, namespace):
    async def scenario() -> bool:
        stream = await sim.api.watch(CONFIGMAPS, namespace, resource_version=str(
            sim.api.store.resource_version), timeout_seconds=5)
        stream.watcher.buffer = 10
        for i in range(20):
            await sim.api.create(CONFIGMAPS, namespace, {"metadata": {"name": f"s{i}"}})
        batches = [batch async for batch in stream]
        return stream.watcher.closed and batches == []

    assert sim.call(asyncio.wait_for(scenario(), 10))
