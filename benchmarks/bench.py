"""`make bench`: Conveyor's performance figures on the local control plane (issue 8), in one run.

Three processes are measured apart: the local control plane (`python -m conveyor.sim`), the
operator (`conveyor operator`, its CPU and RSS read from /proc, its writes from its metrics) and
the worker pods the operator's Jobs start (run by the sim's kubelet as local processes). This
script only creates requests and watches. Phases, in order:

1. warm-up: one execution per deployment, so every worker Job is up (warm workers);
2. throughput: N deployments x M no-op executions created at once (`queue: true`), create → final;
   the watch counts every write (Executions, Leases, Events, Deployments, Jobs, Pods) meanwhile;
3. floor (floor.py): the same writes per execution from a minimal aiohttp script, no operator;
   phases 2 and 3 alternate for `--rounds` rounds and the median round of each is reported (one
   round lasts seconds, so a single one moves by a third between runs on a shared machine);
4. chaos: a random mix of plain, forced, queued and system-wide requests; S1/S2/S3 checked on the
   watch history, and every execution must reach exactly one final status;
5. latency, first with an empty queue, then with 1,000 executions queued behind a held deployment:
   paced probes (a steady rate, round-robin over idle deployments) give create → pending
   (admission) and create → started; then a saturated closed loop (every deployment: create, wait
   for final, again) gives the most the operator turns around and the latency at saturation;
6. scale: Executions are added (queued) until 10,000 exist; the operator's RSS then.

Figures are printed and written to benchmarks/results/latest.json. Every process started here is
stopped at the end, also on Ctrl-C or failure (processes.py).

Usage: python benchmarks/bench.py [--deployments 10] [--executions 40] [--queued 1000] [--total 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import platform
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(1, str(REPO / "tests" / "integration"))

from floor import FLOOR_NAMESPACE, measure_floor  # noqa: E402
from history import check_invariants  # noqa: E402
from kube import GROUP_PATH, STAMPS, ExecutionTimeline, Kube, WatchRecorder, WriteCounter  # noqa: E402
from processes import (  # noqa: E402
    ProcessCost,
    Processes,
    conveyor_command,
    free_port,
    process_cost,
    start_profiler,
    start_sim,
)
from workload import (  # noqa: E402
    WORKFLOWS,
    configure_system_workflows,
    create_deployment,
    create_execution,
    install_source,
)

OPERATOR_NAMESPACE = "conveyor-system"
BENCH_NAMESPACE = "bench"
FINAL = frozenset({"terminated", "failed", "cancelled"})
PENDING = frozenset({"pending"})
STARTED = frozenset({"started"})
WATCHED = {
    "executions": f"{GROUP_PATH}/executions",
    "deployments": f"{GROUP_PATH}/deployments",
    "leases": "/apis/coordination.k8s.io/v1/leases",
    "events": "/api/v1/events",
    "jobs": "/apis/batch/v1/jobs",
    "pods": "/api/v1/pods",
}
TARGETS = {
    "throughput_executions_per_s": (">=", 35.0),
    "floor_ratio": (">=", 0.5),
    "admission_latency_p99_ms": ("<=", 500.0),
    "operator_rss_mb_at_10000": ("<=", 200.0),
    "invariant_violations": ("<=", 0),
    "lost_executions": ("<=", 0),
}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (no interpolation: p99 of 100 samples is the 99th)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, int(len(ordered) * share + 0.999999) - 1))]


@dataclass
class Operator:
    """The operator process as the benchmark sees it: its pid, its metrics, its cost over time."""

    pid: int
    metrics_url: str
    peak_rss_mb: float = 0.0
    samples: list[tuple[float, ProcessCost]] = field(default_factory=list)

    def cost(self) -> ProcessCost:
        cost = process_cost(self.pid)
        self.peak_rss_mb = max(self.peak_rss_mb, cost.rss_mb)
        return cost

    async def sample_forever(self, interval: float = 0.5) -> None:
        while True:
            self.samples.append((time.monotonic(), self.cost()))
            await asyncio.sleep(interval)

    async def metrics(self, session: aiohttp.ClientSession) -> dict[str, float]:
        async with session.get(self.metrics_url) as response:
            text = await response.text()
        values: dict[str, float] = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                values[name] = float(value)
        return values


def api_writes(metrics: dict[str, float]) -> dict[str, float]:
    prefix = 'conveyor_api_writes{kind="'
    return {name[len(prefix) : -2]: value for name, value in metrics.items() if name.startswith(prefix)}


async def gather_limited(calls: Iterable[Callable[[], Awaitable[Any]]], limit: int) -> list[Any]:
    """Run the calls `limit` at a time (as a handful of concurrent clients would), results in order."""
    semaphore = asyncio.Semaphore(limit)

    async def one(call: Callable[[], Awaitable[Any]]) -> Any:
        async with semaphore:
            return await call()

    return await asyncio.gather(*(one(call) for call in calls))


class Bench:
    def __init__(
        self, args: argparse.Namespace, kube: Kube, operator: Operator, sim_pid: int, processes: Processes
    ) -> None:
        self.args = args
        self.processes = processes
        self.kube = kube
        self.operator = operator
        self.sim_pid = sim_pid
        self.timeline = ExecutionTimeline()
        self.writes = WriteCounter()
        self.created_at: dict[str, float] = {}
        self.created_wall: dict[str, float] = {}
        self.results: dict[str, Any] = {}
        self.deployments = [f"d{i}" for i in range(args.deployments)]
        self.http = aiohttp.ClientSession()

    async def create(
        self, namespace: str, deployment: str | None, workflow: str = "noop", **spec: Any
    ) -> str:
        began, wall = time.monotonic(), time.time()
        key = await create_execution(self.kube, namespace, deployment, workflow, **spec)
        self.created_at[key] = began
        self.created_wall[key] = wall
        return key

    async def wait_all(self, keys: list[str], phases: frozenset[str], within: float) -> list[str]:
        """The keys that did not reach `phases` within `within` seconds (all waited on together)."""
        reached = await asyncio.gather(*(self.timeline.wait_for(key, phases, within) for key in keys))
        return [key for key, ok in zip(keys, reached, strict=True) if not ok]

    def latencies_ms(self, keys: list[str], phases: frozenset[str]) -> list[float]:
        found = []
        for key in keys:
            seen = self.timeline.executions[key].seen if key in self.timeline.executions else {}
            times = [seen[p] for p in phases if p in seen]
            if times:
                found.append((min(times) - self.created_at[key]) * 1000)
        return found

    @contextlib.asynccontextmanager
    async def profiled(self, phase: str) -> AsyncIterator[None]:
        """With --profile DIR: py-spy samples the operator and the sim during `phase`."""
        if self.args.profile is None:
            yield
            return
        self.args.profile.mkdir(parents=True, exist_ok=True)
        profilers = [
            start_profiler(self.processes, f"{who}-{phase}", pid, self.args.profile / f"{who}-{phase}.txt")
            for who, pid in (("operator", self.operator.pid), ("sim", self.sim_pid))
        ]
        try:
            yield
        finally:
            for profiler in profilers:
                self.processes.stop(profiler, grace=30, signum=signal.SIGINT)

    def breakdown_ms(self, keys: list[str]) -> dict[str, float]:
        """Median of each leg of an execution's path, from the status timestamps (ms resolution):
        create → operator first sees it (watch + kopf + the loop getting to it) → admitted (its
        decision and lease writes) → started (the pending write reaching the worker, its claim) →
        ended (source load, the no-op run, the final write)."""
        legs: dict[str, list[float]] = {
            "create_to_seen": [],
            "seen_to_admitted": [],
            "admitted_to_started": [],
            "started_to_ended": [],
        }
        for key in keys:
            stamps = self.timeline.executions[key].stamps
            points = [self.created_wall.get(key)] + [stamps.get(s) for s in STAMPS]
            for name, start, end in zip(legs, points, points[1:], strict=False):
                if start is not None and end is not None:
                    legs[name].append((end - start) * 1000)
        return {name: round(percentile(values, 0.5), 1) for name, values in legs.items() if values}

    def slowest(self, keys: list[str], count: int = 3) -> list[dict[str, Any]]:
        """The slowest admissions with their legs (ms) and wall-clock creation time, to look for
        what the operator was doing then (a periodic lease check, a resync, the machine)."""
        admitted = [(ms, key) for key in keys for ms in self.latencies_ms([key], PENDING)]
        found = []
        for ms, key in sorted(admitted, reverse=True)[:count]:
            found.append(
                {
                    "name": key,
                    "admission_ms": round(ms, 1),
                    "created": time.strftime("%H:%M:%S", time.gmtime(self.created_wall[key])),
                    "legs_ms": self.breakdown_ms([key]),
                }
            )
        return found

    def handoff_ms(self, keys: list[str]) -> float:
        """Median time from one execution's end to the next one's admission on the same deployment,
        when the next was already waiting: the operator's share of a busy deployment's cycle."""
        by_deployment: dict[str, list[tuple[float, float]]] = {}
        for key in keys:
            times = self.timeline.executions[key]
            if "admittedAt" in times.stamps and "endedAt" in times.stamps:
                by_deployment.setdefault(times.spec.get("deployment", ""), []).append(
                    (times.stamps["admittedAt"], times.stamps["endedAt"])
                )
        gaps = []
        for runs in by_deployment.values():
            runs.sort()
            for (_, ended), (admitted, _) in itertools.pairwise(runs):
                if admitted >= ended:
                    gaps.append((admitted - ended) * 1000)
        return round(percentile(gaps, 0.5), 1)

    # ----- phases -------------------------------------------------------------------------------

    async def warm_up(self) -> None:
        keys = [await self.create(BENCH_NAMESPACE, d) for d in self.deployments]
        keys.append(await self.create(OPERATOR_NAMESPACE, None))
        missing = await self.wait_all(keys, FINAL, 120)
        if missing:
            raise RuntimeError(f"warm-up executions did not finish: {missing}")

    async def throughput(self) -> dict[str, float]:
        m = self.args.executions
        writes_before = Counter(self.writes.counts)
        metric_before = api_writes(await self.operator.metrics(self.http))
        cost_before, cost_since = self.operator.cost(), time.monotonic()
        calls = [
            (lambda d=d: self.create(BENCH_NAMESPACE, d, queue=True))
            for _ in range(m)
            for d in self.deployments
        ]
        began = time.monotonic()
        keys: list[str] = await gather_limited(calls, 8)
        missing = await self.wait_all(keys, FINAL, self.args.timeout)
        ended = max(
            (
                self.timeline.executions[k].seen[p]
                for k in keys
                for p in FINAL
                if p in self.timeline.executions[k].seen
            ),
            default=time.monotonic(),
        )
        await asyncio.sleep(1.0)  # let trailing writes (lease releases, Events) land in the count
        cost_after = self.operator.cost()
        metric_after = api_writes(await self.operator.metrics(self.http))
        done = len(keys) - len(missing)
        watched = self.writes.counts - writes_before
        per_resource = {resource: count / done for resource, count in sorted(watched.items()) if count}
        operator_writes = {k: (metric_after.get(k, 0) - metric_before.get(k, 0)) / done for k in metric_after}
        failed = sum(1 for k in keys if "failed" in self.timeline.executions[k].seen)
        self.results["throughput"] = {
            "executions": len(keys),
            "finished": done,
            "failed": failed,
            "seconds": ended - began,
            "executions_per_s": done / (ended - began),
            "writes_per_execution_by_resource": per_resource,
            "operator_writes_per_execution_by_kind": {k: v for k, v in sorted(operator_writes.items()) if v},
            "operator_cpu_ms_per_execution": (cost_after.cpu_seconds - cost_before.cpu_seconds) / done * 1000,
            "operator_cpu_share_of_one_core": (cost_after.cpu_seconds - cost_before.cpu_seconds)
            / (time.monotonic() - cost_since),
            "start_latency_p50_ms_burst": percentile(self.latencies_ms(keys, STARTED), 0.5),
            "median_leg_ms": self.breakdown_ms(keys),
            "handoff_end_to_next_admission_p50_ms": self.handoff_ms(keys),
            "final_latency_p99_ms_burst": percentile(self.latencies_ms(keys, FINAL), 0.99),
        }
        return per_resource

    async def floor(self, profile: dict[str, float], prefix: str = "f") -> None:
        floor_profile = {
            k: v for k, v in profile.items() if k in ("executions", "leases", "events", "deployments")
        }
        per_deployment = max(5, self.args.executions // 2)
        result = await measure_floor(
            self.kube, self.args.deployments, per_deployment, floor_profile, WORKFLOWS, prefix
        )
        self.results["floor"] = {
            "profile_writes_per_execution": floor_profile,
            "executions": result.executions,
            "writes": result.writes,
            "seconds": result.seconds,
            "executions_per_s": result.throughput,
        }

    async def chaos(self) -> None:
        """A random mix of requests over a few deployments of the operator's namespace (where the
        system-wide ones live), paced so that they overlap and conflict."""
        rng = random.Random(self.args.seed)
        chaos_deployments = [f"c{i}" for i in range(3)]
        for name in chaos_deployments:
            await create_deployment(self.kube, OPERATOR_NAMESPACE, name)
        kinds: Counter[str] = Counter()
        keys: list[str] = []
        for _ in range(self.args.chaos):
            roll = rng.random()
            sleep = rng.choice([0.0, 0.05, 0.2])
            spec: dict[str, Any]
            if roll < 0.06:
                kind, deployment, spec = "system", None, {"queue": rng.random() < 0.7}
            elif roll < 0.36:
                kind, deployment, spec = "plain", rng.choice(chaos_deployments), {}
            elif roll < 0.51:
                kind, deployment, spec = "forced", rng.choice(chaos_deployments), {"force": True}
            else:
                kind, deployment, spec = "queued", rng.choice(chaos_deployments), {"queue": True}
            kinds[kind] += 1
            spec["parameters"] = {"sleep": sleep}
            keys.append(await self.create(OPERATOR_NAMESPACE, deployment, "noop", **spec))
            await asyncio.sleep(rng.expovariate(1 / 0.03))
        lost = await self.wait_all(keys, FINAL, self.args.timeout)
        prefix = f"{OPERATOR_NAMESPACE}/"
        history = [
            event for event in self.timeline.history if event[1]["metadata"]["name"].startswith(prefix)
        ]
        violations = check_invariants(history)
        finals_twice = [
            k for k in keys if sum(1 for p in self.timeline.executions[k].phases if p in FINAL) > 1
        ]
        outcomes = Counter(
            next((p for p in self.timeline.executions[k].phases if p in FINAL), "none") for k in keys
        )
        self.results["chaos"] = {
            "requests": dict(kinds),
            "outcomes": dict(outcomes),
            "lost": len(lost),
            "lost_names": lost[:10],
            "violations": {"S1": violations.s1[:5], "S2": violations.s2[:5], "S3": violations.s3[:5]},
            "invariant_violations": violations.total + len(finals_twice),
        }

    async def paced(self, label: str) -> None:
        """Probes at a steady `--probe-rate`, round-robin over the deployments (each deployment is
        idle again long before its next probe): create → pending is then the operator's reaction
        to one request, not a wait behind a saturated loop (closed_loop measures that)."""
        keys: list[str] = []
        waits: list[asyncio.Task[bool]] = []
        began = time.monotonic()
        for index in range(self.args.probes):
            await asyncio.sleep(max(0.0, began + index / self.args.probe_rate - time.monotonic()))
            key = await self.create(
                BENCH_NAMESPACE, self.deployments[index % len(self.deployments)], queue=True
            )
            keys.append(key)
            waits.append(asyncio.create_task(self.timeline.wait_for(key, FINAL, self.args.timeout)))
        if not all(await asyncio.gather(*waits)):
            raise RuntimeError("a probe did not finish")
        self.results[f"latency_{label}"] = self._latencies(keys) | {"probe_rate_per_s": self.args.probe_rate}

    async def closed_loop(self, label: str, per_deployment: int) -> None:
        """Each deployment: create one no-op execution, wait for its final status, again, all
        deployments at once: the most the operator turns around when every deployment always has
        one request ready, and the admission latency at that saturation."""
        keys: list[str] = []
        cost_before = self.operator.cost()

        async def loop(deployment: str) -> None:
            for _ in range(per_deployment):
                key = await self.create(BENCH_NAMESPACE, deployment, queue=True)
                keys.append(key)
                if not await self.timeline.wait_for(key, FINAL, self.args.timeout):
                    raise RuntimeError(f"{key} did not finish")

        began = time.monotonic()
        await asyncio.gather(*(loop(d) for d in self.deployments))
        elapsed = time.monotonic() - began
        cost_after = self.operator.cost()
        self.results[f"saturated_{label}"] = self._latencies(keys) | {
            "closed_loop_executions_per_s": len(keys) / elapsed,
            "operator_cpu_ms_per_execution": (cost_after.cpu_seconds - cost_before.cpu_seconds)
            / len(keys)
            * 1000,
        }

    def _latencies(self, keys: list[str]) -> dict[str, Any]:
        admission = self.latencies_ms(keys, PENDING)
        started = self.latencies_ms(keys, STARTED)
        queued_first = sum(1 for k in keys if self.timeline.executions[k].phases[:1] == ["queued"])
        return {
            "executions": len(keys),
            "admitted_after_queueing": queued_first,
            "admission_latency_p50_ms": percentile(admission, 0.5),
            "admission_latency_p99_ms": percentile(admission, 0.99),
            "start_latency_p50_ms": percentile(started, 0.5),
            "start_latency_p99_ms": percentile(started, 0.99),
            "median_leg_ms": self.breakdown_ms(keys),
            "slowest_admissions": self.slowest(keys),
        }

    async def backlog(self) -> None:
        """One held execution on `backlog` and `--queued` more queued behind it."""
        await create_deployment(self.kube, BENCH_NAMESPACE, "backlog")
        hold = await self.create(BENCH_NAMESPACE, "backlog", "hold")
        if await self.wait_all([hold], STARTED, 120):
            raise RuntimeError("the held execution did not start")
        queued, seconds = await self.add_queued(self.args.queued)
        if queued < self.args.queued:
            raise RuntimeError(f"only {queued} of {self.args.queued} executions were queued")
        self.results["backlog"] = {"queued": queued, "executions_per_s": queued / seconds}

    async def add_queued(self, count: int, within: float | None = None) -> tuple[int, float]:
        """Create `count` queued executions on `backlog`; (how many were queued in time, seconds)."""
        calls = [(lambda: self.create(BENCH_NAMESPACE, "backlog", queue=True)) for _ in range(count)]
        began = time.monotonic()
        keys: list[str] = await gather_limited(calls, 8)
        missing = await self.wait_all(keys, frozenset({"queued"}), within or self.args.timeout)
        return count - len(missing), time.monotonic() - began

    async def scale(self, budget: float) -> None:
        """Queued executions are added in chunks until `--total` exist or `budget` seconds are spent.
        The rate of each chunk shows whether a decision costs more as more exists; the operator's RSS
        after each chunk gives its memory per Execution, and so its RSS at `--total` when the budget
        ran out first (marked as extrapolated)."""
        chunks: list[dict[str, float]] = []
        began = time.monotonic()
        existing = self.existing()
        points = [(existing, self.operator.cost().rss_mb)]
        while existing < self.args.total:
            left = budget - (time.monotonic() - began)
            count = min(self.args.chunk, self.args.total - existing)
            if chunks:  # what the last chunk's rate fits in the time left, with room to spare
                count = min(count, int(chunks[-1]["executions_per_s"] * left * 0.6))
                if left <= 5 or count < min(50, self.args.total - existing):
                    break
            # The first chunk runs even when earlier phases used up the budget: without two
            # points there is no memory-per-Execution figure at all.
            queued, seconds = await self.add_queued(count, within=max(left, 60.0))
            existing = self.existing()
            rss = self.operator.cost().rss_mb
            points.append((existing, rss))
            chunks.append(
                {
                    "existing_after": existing,
                    "created": count,
                    "queued": queued,
                    "executions_per_s": round(queued / seconds, 1),
                    "operator_rss_mb": round(rss, 1),
                }
            )
            log(f"  {existing} Executions exist; the last {count} queued at {queued / seconds:.0f}/s")
            if queued < count:
                break
        undecided = sum(
            1 for t in self.timeline.executions.values() if t.namespace != FLOOR_NAMESPACE and not t.seen
        )
        await asyncio.sleep(2.0)  # a quiet moment: the steady-state footprint, not a transient
        cost = self.operator.cost()
        sim = process_cost(self.sim_pid)
        slope = _slope(points)
        sample = await self.object_size()
        at_total = cost.rss_mb + slope * max(0, self.args.total - existing)
        self.results["scale"] = {
            "executions_existing": existing,
            "undecided_at_measurement": undecided,
            "queueing_rate_by_chunk": chunks,
            "operator_rss_mb": cost.rss_mb,
            "operator_rss_mb_per_1000_executions": slope * 1000,
            "operator_rss_mb_at_total": at_total,
            "operator_rss_at_total_extrapolated": existing < self.args.total,
            "operator_peak_rss_mb": self.operator.peak_rss_mb,
            "sim_rss_mb": sim.rss_mb,
            "queued_execution_json_bytes": sample,
        }

    async def object_size(self) -> dict[str, int]:
        """How big one queued Execution is as the API serves it, and how much of that is
        managedFields (which an operator's cache need not keep)."""
        listed = await self.kube.call("GET", f"{GROUP_PATH}/namespaces/{BENCH_NAMESPACE}/executions?limit=50")
        queued = [o for o in listed["items"] if (o.get("status") or {}).get("phase") == "queued"] or listed[
            "items"
        ]
        obj = queued[-1]
        managed = obj["metadata"].get("managedFields") or []
        return {"total": len(json.dumps(obj)), "managedFields": len(json.dumps(managed))}

    def existing(self) -> int:
        """Executions the operator watches (the floor's namespace is not watched)."""
        return sum(1 for t in self.timeline.executions.values() if t.namespace != FLOOR_NAMESPACE)


def median_round(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The round whose rate is the median (the lower middle one for an even count)."""
    ordered = sorted(results, key=lambda r: r["executions_per_s"])
    return ordered[(len(ordered) - 1) // 2]


def _slope(points: list[tuple[int, float]]) -> float:
    """Least-squares slope of RSS (MB) over Executions existing."""
    if len(points) < 2:
        return 0.0
    mean_x = sum(x for x, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    spread = sum((x - mean_x) ** 2 for x, _ in points)
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread if spread else 0.0


def summary(results: dict[str, Any]) -> dict[str, Any]:
    throughput = results["throughput"]
    loaded = results["latency_queued"]
    saturated = results["saturated_queued"]
    figures = {
        "throughput_executions_per_s": round(throughput["executions_per_s"], 2),
        "floor_executions_per_s": round(results["floor"]["executions_per_s"], 2),
        "floor_ratio": round(throughput["executions_per_s"] / results["floor"]["executions_per_s"], 3),
        "admission_latency_p50_ms": round(loaded["admission_latency_p50_ms"], 1),
        "admission_latency_p99_ms": round(loaded["admission_latency_p99_ms"], 1),
        "admission_latency_p50_ms_empty_queue": round(
            results["latency_empty"]["admission_latency_p50_ms"], 1
        ),
        "admission_latency_p99_ms_empty_queue": round(
            results["latency_empty"]["admission_latency_p99_ms"], 1
        ),
        "admission_latency_p50_ms_saturated": round(saturated["admission_latency_p50_ms"], 1),
        "admission_latency_p99_ms_saturated": round(saturated["admission_latency_p99_ms"], 1),
        "closed_loop_executions_per_s": round(saturated["closed_loop_executions_per_s"], 2),
        "start_latency_p50_ms": round(loaded["start_latency_p50_ms"], 1),
        "start_latency_p99_ms": round(loaded["start_latency_p99_ms"], 1),
        "handoff_end_to_next_admission_p50_ms": throughput["handoff_end_to_next_admission_p50_ms"],
        "api_writes_per_execution": round(sum(throughput["writes_per_execution_by_resource"].values()), 2),
        "operator_cpu_ms_per_execution": round(throughput["operator_cpu_ms_per_execution"], 2),
        "operator_cpu_share_of_one_core_in_burst": round(throughput["operator_cpu_share_of_one_core"], 2),
        "operator_rss_mb": round(results["scale"]["operator_rss_mb"], 1),
        "executions_existing_at_rss": results["scale"]["executions_existing"],
        "operator_rss_mb_at_10000": round(results["scale"]["operator_rss_mb_at_total"], 1),
        "operator_rss_at_10000_extrapolated": results["scale"]["operator_rss_at_total_extrapolated"],
        "operator_rss_mb_per_1000_executions": round(
            results["scale"]["operator_rss_mb_per_1000_executions"], 2
        ),
        "operator_peak_rss_mb": round(results["scale"]["operator_peak_rss_mb"], 1),
        "invariant_violations": results["chaos"]["invariant_violations"],
        "lost_executions": results["chaos"]["lost"],
    }
    figures["targets_met"] = {
        name: (figures[name] >= bound if op == ">=" else figures[name] <= bound)
        for name, (op, bound) in TARGETS.items()
    }
    return figures


def print_figures(figures: dict[str, Any]) -> None:
    print("\nConveyor benchmark (local control plane, warm workers)")
    for name, value in figures.items():
        if name == "targets_met":
            continue
        target = TARGETS.get(name)
        mark = ""
        if target is not None:
            mark = (
                f"   target {target[0]} {target[1]}: {'met' if figures['targets_met'][name] else 'NOT met'}"
            )
        print(f"  {name:42} {value:>10}{mark}")


async def prepare(kube: Kube) -> None:
    for path in sorted((REPO / "crds").glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        await kube.ensure("/apis/apiextensions.k8s.io/v1/customresourcedefinitions", crd)
    for plural in ("deployments", "executions"):
        deadline = time.monotonic() + 30
        while True:
            crd = await kube.call(
                "GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{plural}.conveyor.dev"
            )
            conditions = (crd.get("status") or {}).get("conditions") or []
            if any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"CRD {plural} not established")
            await asyncio.sleep(0.1)
    for namespace in (OPERATOR_NAMESPACE, BENCH_NAMESPACE):
        await kube.namespace(namespace)
        await install_source(kube, namespace)
    await configure_system_workflows(kube, OPERATOR_NAMESPACE)


async def start_operator(processes: Processes, kubeconfig: Path, env: dict[str, str]) -> Operator:
    """`env`: extra environment of the operator only (e.g. PYTHONPATH to try a change)."""
    port = free_port()
    proc = processes.start(
        "operator",
        [
            conveyor_command(),
            "operator",
            "-n",
            BENCH_NAMESPACE,
            "--operator-namespace",
            OPERATOR_NAMESPACE,
            "--metrics-port",
            str(port),
            "--kubeconfig",
            str(kubeconfig),
        ],
        env=env,
    )
    operator = Operator(proc.pid, f"http://127.0.0.1:{port}/metrics")
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession() as session:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the operator exited:\n{processes.log_tail('operator')}")
            try:
                if (await operator.metrics(session)).get("conveyor_leader") == 1.0:
                    return operator
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the operator did not lead within 60 s:\n{processes.log_tail('operator')}"
                )
            await asyncio.sleep(0.1)


def _source_state() -> dict[str, Any]:
    """The commit measured, and how many files differ from it (the tree may be mid-change)."""

    def git(*argv: str) -> str:
        done = subprocess.run(["git", *argv], cwd=REPO, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    return {
        "commit": git("rev-parse", "HEAD"),
        "changed_files": len(git("status", "--porcelain").splitlines()),
    }


async def run(args: argparse.Namespace, processes: Processes, work: Path) -> dict[str, Any]:
    began = time.monotonic()
    load_at_start = os.getloadavg()
    sim_pid, kubeconfig = start_sim(processes, work)
    kube = Kube(kubeconfig)
    recorders: list[WatchRecorder] = []
    sampler: asyncio.Task[None] | None = None
    bench: Bench | None = None
    try:
        await prepare(kube)
        log(f"local control plane up ({kube.server}); starting the operator")
        operator_env = dict(item.split("=", 1) for item in args.operator_env)
        operator = await start_operator(processes, kubeconfig, operator_env)
        bench = Bench(args, kube, operator, sim_pid, processes)
        sampler = asyncio.create_task(operator.sample_forever())
        count_execution = bench.writes.recorder("executions")

        def on_execution(kind: str, obj: dict[str, Any], now: float) -> None:
            count_execution(kind, obj, now)
            bench.timeline.on_event(kind, obj, now)

        # One watch per resource (Executions: one for both the timeline and the count), so the
        # benchmark adds as few streams to the server as it can.
        recorders.append(await WatchRecorder(kube, WATCHED["executions"], on_execution).start())
        for resource, path in WATCHED.items():
            if resource != "executions":
                recorders.append(await WatchRecorder(kube, path, bench.writes.recorder(resource)).start())
        for name in bench.deployments:
            await create_deployment(kube, BENCH_NAMESPACE, name)
        log(f"warming {len(bench.deployments)} workers (and the system worker)")
        await bench.warm_up()
        bench.results["operator_rss_mb_after_warm_up"] = operator.cost().rss_mb
        rounds: dict[str, list[dict[str, Any]]] = {"throughput": [], "floor": []}
        for round_number in range(1, args.rounds + 1):
            log(f"throughput, round {round_number}: "
                f"{args.deployments} deployments x {args.executions} executions")
            async with bench.profiled(f"throughput-{round_number}" if round_number > 1 else "throughput"):
                profile = await bench.throughput()
            rounds["throughput"].append(bench.results["throughput"])
            log(f"  {bench.results['throughput']['executions_per_s']:.1f} executions/s; floor next")
            await bench.floor(profile, prefix=f"f{round_number}-")
            rounds["floor"].append(bench.results["floor"])
            log(f"  floor {bench.results['floor']['executions_per_s']:.1f} executions/s")
        for phase, results in rounds.items():
            bench.results[phase] = median_round(results)
            bench.results[f"{phase}_rounds_executions_per_s"] = [
                round(r["executions_per_s"], 2) for r in results
            ]
        log("chaos pass next")
        await bench.chaos()
        log(f"  chaos: {bench.results['chaos']['outcomes']}; latency with an empty queue next")
        await bench.paced("empty")
        await bench.closed_loop("empty", args.loops)
        log(f"queueing {args.queued} executions behind a held one")
        await bench.backlog()
        log(f"latency with {args.queued} queued")
        async with bench.profiled("latency-queued"):
            await bench.paced("queued")
            await bench.closed_loop("queued", args.loops)
        log(f"scale: up to {args.total} Executions")
        async with bench.profiled("scale"):
            await bench.scale(budget=args.budget - (time.monotonic() - began) - 15)
        figures = summary(bench.results)
        return {
            "figures": figures,
            "details": bench.results,
            "parameters": vars(args),
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "platform": platform.platform(),
                "load_average_at_start": load_at_start,
                "load_average_at_end": os.getloadavg(),
            },
            "source": _source_state(),
            "wall_seconds": round(time.monotonic() - began, 1),
            "workers": "worker Jobs created by the operator, run by the sim's kubelet as local processes",
        }
    finally:
        if sampler is not None:
            sampler.cancel()
        for recorder in recorders:
            await recorder.stop()
        if bench is not None:
            await bench.http.close()
        await kube.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--deployments", type=int, default=10)
    parser.add_argument("--executions", type=int, default=40, help="per deployment, throughput phase")
    parser.add_argument("--rounds", type=int, default=3, help="throughput and floor rounds (median reported)")
    parser.add_argument("--probes", type=int, default=120, help="paced probes in each latency phase")
    parser.add_argument("--probe-rate", type=float, default=8.0, help="paced probes per second")
    parser.add_argument("--loops", type=int, default=8, help="per deployment, each saturated closed loop")
    parser.add_argument("--queued", type=int, default=1000)
    parser.add_argument("--total", type=int, default=10000, help="Executions existing for the RSS figure")
    parser.add_argument("--chunk", type=int, default=1000, help="executions per chunk of the scale phase")
    parser.add_argument(
        "--budget",
        type=float,
        default=270.0,
        help="seconds the whole run may take: the scale phase gets what is left (make bench: 5 min)",
    )
    parser.add_argument("--profile", type=Path, default=None, help="py-spy the operator and sim into DIR")
    parser.add_argument(
        "--operator-env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment of the operator process (repeatable), e.g. to try a change",
    )
    parser.add_argument("--chaos", type=int, default=150, help="requests in the chaos pass")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds any one phase may wait")
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--output", type=Path, default=HERE / "results" / "latest.json")
    parser.add_argument("--keep-logs", type=Path, default=None, help="copy the processes' logs here")
    args = parser.parse_args()
    # SIGTERM ends the run as Ctrl-C does, so the `finally` below stops every child either way.
    # SIGINT is set too: a shell starts background jobs with SIGINT ignored, and Python keeps that.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with tempfile.TemporaryDirectory(prefix="conveyor-bench-") as tmp:
        work = Path(tmp)
        processes = Processes(work)
        try:
            report = asyncio.run(run(args, processes, work))
        except KeyboardInterrupt:
            processes.stop_all()
            print("\ninterrupted: every process the benchmark started is stopped", file=sys.stderr)
            raise SystemExit(130) from None
        except BaseException:
            for name in ("operator", "sim"):
                tail = processes.log_tail(name)
                if tail:
                    print(f"--- last lines of the {name} log ---\n{tail}", file=sys.stderr)
            raise
        finally:
            processes.stop_all()
            if args.keep_logs is not None:
                args.keep_logs.mkdir(parents=True, exist_ok=True)
                for path in work.glob("*.log"):
                    (args.keep_logs / path.name).write_bytes(path.read_bytes())
    args.output.parent.mkdir(parents=True, exist_ok=True)
    report["parameters"] = {k: str(v) if isinstance(v, Path) else v for k, v in report["parameters"].items()}
    args.output.write_text(json.dumps(report, indent=2, sort_keys=False, default=str) + "\n")
    print_figures(report["figures"])
    details = report["details"]
    for label, phase in (
        ("burst", "throughput"),
        ("paced probes, 1,000 queued", "latency_queued"),
        ("saturated closed loop, 1,000 queued", "saturated_queued"),
    ):
        legs = ", ".join(f"{k} {v}" for k, v in details[phase]["median_leg_ms"].items())
        print(f"  where the time goes ({label}), median ms: {legs}")
    print(
        f"  end of one execution to admission of the next (same deployment), median ms: "
        f"{details['throughput']['handoff_end_to_next_admission_p50_ms']}"
    )
    print(f"\nwritten: {args.output}  ({report['wall_seconds']} s)")


if __name__ == "__main__":
    main()
