"""Prometheus metrics of the operator, served with /healthz on `--metrics-port`.

One registry per operator instance (two operators in one process, as the tests run them, must not
share counters). Gauges that describe the current state (executions by phase, queue depth, API
writes) are read from the admission loop at scrape time rather than kept in step on every change:
nothing to drift, and no cost on the hot path.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


class _StateCollector(Collector):
    def __init__(
        self,
        phases: Callable[[], Mapping[str, int]],
        queue_depth: Callable[[], int],
        writes: Callable[[], Mapping[str, int]],
        leader: Callable[[], bool],
    ) -> None:
        self._phases, self._queue_depth, self._writes, self._leader = phases, queue_depth, writes, leader

    def collect(self) -> Iterable[Metric]:
        by_phase = GaugeMetricFamily("conveyor_executions", "Executions by status phase.", labels=["phase"])
        for phase, count in sorted(self._phases().items()):
            by_phase.add_metric([phase], count)
        yield by_phase
        yield GaugeMetricFamily(
            "conveyor_queue_depth", "Executions waiting in the queue.", value=self._queue_depth()
        )
        writes = GaugeMetricFamily(
            "conveyor_api_writes", "API writes made by this operator, by kind of write.", labels=["kind"]
        )
        for kind, count in sorted(self._writes().items()):
            writes.add_metric([kind], count)
        yield writes
        yield GaugeMetricFamily(
            "conveyor_leader",
            "1 while this replica is the leader and runs admission.",
            value=int(self._leader()),
        )


class OperatorMetrics:
    """The operator's metrics; `attach` connects the state gauges to their sources."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.decisions = Counter(
            "conveyor_admission_decisions",
            "Admission decisions by outcome (admitted, queued, scheduled, rejected, invalid, cancelled).",
            ["outcome"],
            registry=self.registry,
        )
        self.admission_latency = Histogram(
            "conveyor_admission_latency_seconds",
            "From the request (first seen) to its admission (status pending written).",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.start_latency = Histogram(
            "conveyor_start_latency_seconds",
            "From the request (status.createdAt) to its start by a worker (status.startedAt).",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def attach(
        self,
        phases: Callable[[], Mapping[str, int]],
        queue_depth: Callable[[], int],
        writes: Callable[[], Mapping[str, int]],
        leader: Callable[[], bool],
    ) -> None:
        self.registry.register(_StateCollector(phases, queue_depth, writes, leader))


async def serve_metrics(metrics: OperatorMetrics, port: int, host: str = "0.0.0.0") -> web.AppRunner:
    """Start /metrics and /healthz; the caller cleans the returned runner up. Port 0: any free one
    (read it back with `bound_port`)."""

    async def scrape(_: web.Request) -> web.Response:
        body = generate_latest(metrics.registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def healthz(_: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_get("/metrics", scrape)
    app.router.add_get("/healthz", healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    return runner


def bound_port(runner: web.AppRunner) -> int:
    for address in runner.addresses:
        return int(address[1])
    raise RuntimeError("the metrics server is not listening")
