"""The floor: the API writes one execution costs, issued by a minimal asyncio script, no operator.

The write profile (writes per execution, by resource) is the one measured in the same run from
the watch while the operator and its workers ran the throughput phase. Here each deployment is one
chain that issues its executions' writes back to back (the same concurrency the real path has: S1
serializes a deployment's non-forced executions, deployments run in parallel). Every update is a
compare-and-swap on resourceVersion, as the operator's and worker's are. So `floor_ratio` =
throughput / floor throughput says how much of the API server's capacity Conveyor turns into
executions: 1.0 would mean the operator and workers add nothing but their writes.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kube import GROUP_PATH, Kube

FLOOR_NAMESPACE = "bench-floor"


@dataclass(frozen=True)
class FloorResult:
    executions: int
    seconds: float
    writes: int

    @property
    def throughput(self) -> float:
        return self.executions / self.seconds


def _share(per_execution: float, index: int) -> int:
    """How many writes of a resource execution `index` issues, so that the chain's total matches a
    fractional per-execution rate exactly (no rounding bias)."""
    return math.floor((index + 1) * per_execution) - math.floor(index * per_execution)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class _Chain:
    """One deployment's objects in the floor namespace: its Lease, its Deployment, its Executions."""

    def __init__(self, kube: Kube, name: str) -> None:
        self.kube = kube
        self.name = name
        self.lease: dict[str, Any] = {}
        self.deployment: dict[str, Any] = {}
        self.writes = 0
        self.status_writes = 0

    async def prepare(self, workflows: dict[str, Any]) -> None:
        ns = FLOOR_NAMESPACE
        self.lease = await self.kube.create(
            f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases",
            {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": f"floor-{self.name}"},
                "spec": {"leaseDurationSeconds": 30},
            },
        )
        self.deployment = await self.kube.create(
            f"{GROUP_PATH}/namespaces/{ns}/deployments",
            {
                "apiVersion": "conveyor.dev/v1alpha1",
                "kind": "Deployment",
                "metadata": {"name": self.name},
                "spec": {"workflows": workflows},
            },
        )

    async def _lease(self, holder: str) -> None:
        self.lease["spec"]["holderIdentity"] = holder
        self.lease["spec"]["renewTime"] = _now()
        self.lease = await self.kube.call(
            "PUT",
            f"/apis/coordination.k8s.io/v1/namespaces/{FLOOR_NAMESPACE}/leases/{self.lease['metadata']['name']}",
            self.lease,
        )

    async def _deployment_status(self) -> None:
        self.status_writes += 1
        patch = {
            "metadata": {"resourceVersion": self.deployment["metadata"]["resourceVersion"]},
            "status": {"observedGeneration": self.status_writes},
        }
        self.deployment = await self.kube.merge_patch(
            f"{GROUP_PATH}/namespaces/{FLOOR_NAMESPACE}/deployments/{self.name}/status", patch
        )

    async def _event(self, execution: str, reason: str) -> None:
        await self.kube.create(
            f"/api/v1/namespaces/{FLOOR_NAMESPACE}/events",
            {
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {"generateName": f"{execution}-"},
                "involvedObject": {
                    "apiVersion": "conveyor.dev/v1alpha1",
                    "kind": "Execution",
                    "name": execution,
                    "namespace": FLOOR_NAMESPACE,
                },
                "reason": reason,
                "message": f"{reason} (floor)",
                "type": "Normal",
                "firstTimestamp": _now(),
                "lastTimestamp": _now(),
                "count": 1,
                "source": {"component": "floor"},
            },
        )

    async def execution(self, index: int, profile: Mapping[str, float]) -> None:
        """The writes of one execution: its creation, then its updates (status CAS), lease updates,
        Deployment status updates and Events, interleaved as the real path interleaves them."""
        path = f"{GROUP_PATH}/namespaces/{FLOOR_NAMESPACE}/executions"
        obj = await self.kube.create(
            path,
            {
                "apiVersion": "conveyor.dev/v1alpha1",
                "kind": "Execution",
                "metadata": {"generateName": f"{self.name}-"},
                "spec": {"deployment": self.name, "workflow": "noop"},
            },
        )
        name = obj["metadata"]["name"]
        updates = _share(profile.get("executions", 1.0), index) - 1
        leases = _share(profile.get("leases", 0.0), index)
        deployments = _share(profile.get("deployments", 0.0), index)
        events = _share(profile.get("events", 0.0), index)
        phases = ["pending", "started", "terminated"]
        steps: list[tuple[str, int]] = []
        for kind, count in (
            ("execution", updates),
            ("lease", leases),
            ("deployment", deployments),
            ("event", events),
        ):
            steps += [(kind, i) for i in range(count)]
        steps.sort(key=lambda step: step[1])
        for kind, i in steps:
            if kind == "execution":
                patch = {
                    "metadata": {"resourceVersion": obj["metadata"]["resourceVersion"]},
                    "status": {"phase": phases[min(i, len(phases) - 1)], "observedGeneration": i + 1},
                }
                obj = await self.kube.merge_patch(f"{path}/{name}/status", patch)
            elif kind == "lease":
                await self._lease(name if i % 2 == 0 else "")
            elif kind == "deployment":
                await self._deployment_status()
            else:
                await self._event(name, f"Step{i}")
        self.writes += 1 + len(steps)


async def measure_floor(
    kube: Kube,
    deployments: int,
    per_deployment: int,
    profile: Mapping[str, float],
    workflows: dict[str, Any],
    prefix: str = "f",
) -> FloorResult:
    """`deployments` chains of `per_deployment` executions each, all chains at once; `prefix` names
    this measurement's objects (each round of the benchmark makes its own)."""
    await kube.namespace(FLOOR_NAMESPACE)
    chains = [_Chain(kube, f"{prefix}{i}") for i in range(deployments)]
    await asyncio.gather(*(chain.prepare(workflows) for chain in chains))

    async def run(chain: _Chain) -> None:
        for index in range(per_deployment):
            await chain.execution(index, profile)

    began = time.monotonic()
    await asyncio.gather(*(run(chain) for chain in chains))
    elapsed = time.monotonic() - began
    return FloorResult(deployments * per_deployment, elapsed, sum(chain.writes for chain in chains))
