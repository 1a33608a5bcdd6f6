"""The operator process: kopf's watches, leader election, the admission loop and the metrics server,
on one asyncio loop, started and stopped together.

What must hold on shutdown: the admission loop stops before the leader Lease is released (a
successor must never admit beside a loop still writing), and the Lease is released so the
successor does not wait a whole lease duration.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import tempfile
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import kopf

from conveyor.api.names import DEFAULT_METRICS_PORT, DEFAULT_OPERATOR_NAMESPACE, DEFAULT_WORKER_IMAGE
from conveyor.controller.admission_loop import AdmissionLoop, LoopSettings
from conveyor.controller.handlers import build_registry
from conveyor.controller.leadership import Leadership
from conveyor.controller.login import connection_from_kubeconfig
from conveyor.controller.metrics import OperatorMetrics, bound_port, serve_metrics
from conveyor.controller.webhook import WebhookEndpoint, WebhookOptions, build_endpoint, register_webhooks
from conveyor.controller.webhook_state import WebhookReader
from conveyor.kube.api import KubeApi, load_client
from conveyor.locks.leases import DEFAULT_LEASE_DURATION_SECONDS, LeaseLocks

logger = logging.getLogger(__name__)



def default_identity() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass
class OperatorOptions:
    operator_namespace: str = DEFAULT_OPERATOR_NAMESPACE
    namespaces: list[str] | None = None
    """Watched namespaces; None: all namespaces. The operator's namespace is always watched too: the
    system-wide executions live there."""
    kubeconfig: str | None = None
    """None: in-cluster credentials."""
    metrics_port: int | None = DEFAULT_METRICS_PORT
    """None: no metrics server; 0: any free port."""
    identity: str = field(default_factory=default_identity)
    leader_election: bool = True
    """Off only in tests that run two admitters at once on purpose."""
    create_worker_jobs: bool = True
    worker_image: str = DEFAULT_WORKER_IMAGE
    lease_duration_seconds: int = DEFAULT_LEASE_DURATION_SECONDS
    lease_check_interval: float = 5.0
    config_reload_interval: float = 5.0
    """How often the ConfigMap `conveyor-config` is read again (its changes apply live)."""
    webhook: WebhookOptions | None = None
    """The validating admission webhook (`controller.webhook`); None: off (the default)."""
    handle_signals: bool = False
    """SIGINT/SIGTERM set `stop` (the `conveyor operator` command). kopf takes these signals over
    when it starts in the main thread and would stop only itself, leaving admission and the leader
    Lease to linger; so the operator takes them back once kopf is up."""


def watched_namespaces(options: OperatorOptions) -> list[str] | None:
    if options.namespaces is None:
        return None
    return sorted({*options.namespaces, options.operator_namespace})


class Operator:
    """One operator instance; `run` until `stop` is set."""

    def __init__(self, options: OperatorOptions) -> None:
        self.options = options
        self.metrics = OperatorMetrics()
        self.metrics_port: int | None = None
        self.loop: AdmissionLoop | None = None
        self.leadership: Leadership | None = None
        self.webhook: WebhookEndpoint | None = None
        self.ready = asyncio.Event()

    def _login(self, **kwargs: Any) -> kopf.ConnectionInfo:
        if self.options.kubeconfig is None:
            info: kopf.ConnectionInfo | None = kopf.login_with_service_account(**kwargs)
            if info is None:
                raise kopf.LoginError("no kubeconfig given and no in-cluster service account")
            return info
        return connection_from_kubeconfig(self.options.kubeconfig)

    async def run(self, stop: asyncio.Event) -> None:
        options = self.options
        namespaces = watched_namespaces(options)
        api_client = await load_client(options.kubeconfig)
        api = KubeApi(api_client)
        locks = LeaseLocks(api, duration_seconds=options.lease_duration_seconds)
        settings = LoopSettings(
            operator_namespace=options.operator_namespace,
            namespaces=namespaces,
            identity=options.identity,
            worker_image=options.worker_image,
            create_worker_jobs=options.create_worker_jobs,
            lease_check_interval=options.lease_check_interval,
            config_reload_interval=options.config_reload_interval,
        )
        loop = self.loop = AdmissionLoop(api, locks, settings, self.metrics)
        leadership = self.leadership = Leadership(
            api_client, api, options.operator_namespace, options.identity
        )
        self.metrics.attach(
            loop.phase_counts,
            lambda: loop.policy.queued_count,
            lambda: dict(api.writes),
            lambda: loop.running,
        )
        runner = None
        if options.metrics_port is not None:
            runner = await serve_metrics(self.metrics, options.metrics_port)
            self.metrics_port = bound_port(runner)
        registry = build_registry(loop, self._login)
        scratch: tempfile.TemporaryDirectory[str] | None = None
        if options.webhook is not None:
            scratch = tempfile.TemporaryDirectory(prefix="conveyor-webhook-")  # a self-signed pair, if any
            self.webhook = build_endpoint(options.webhook, Path(scratch.name))
            # Its own LeaseLocks: the webhook only reads, and must not touch the admission loop's copies.
            reader = WebhookReader(api, LeaseLocks(api), options.operator_namespace, namespaces)
            register_webhooks(registry, reader, self.webhook, options.webhook.read_timeout)
        kopf_ready = asyncio.Event()
        kopf_stop = asyncio.Event()  # set only once admission has stopped: kopf waits for the tasks it sees
        kopf_task = asyncio.create_task(
            kopf.operator(
                registry=registry,
                namespaces=namespaces or [],
                clusterwide=namespaces is None,
                standalone=True,
                stop_flag=kopf_stop,
                ready_flag=kopf_ready,
            ),
            name="kopf",
        )
        admission: asyncio.Task[None] | None = None
        try:
            await _first(kopf_ready.wait(), kopf_task)
            if options.handle_signals:
                loop_ = asyncio.get_running_loop()
                for signum in (signal.SIGINT, signal.SIGTERM):
                    loop_.add_signal_handler(signum, stop.set)
            if options.leader_election:
                admission = asyncio.create_task(leadership.lead_forever(loop.run), name="leadership")
            else:
                admission = asyncio.create_task(loop.run(), name="admission")
            self.ready.set()
            await _first(stop.wait(), kopf_task, admission)
        finally:
            if admission is not None:
                admission.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await admission
            if options.leader_election:
                with contextlib.suppress(Exception):
                    await leadership.release()
            kopf_stop.set()
            await asyncio.wait([kopf_task], timeout=10)
            if not kopf_task.done():
                kopf_task.cancel()
                await asyncio.wait([kopf_task], timeout=5)
            if runner is not None:
                await runner.cleanup()
            await api.close()
            if scratch is not None:
                scratch.cleanup()


async def _first(*awaitables: Awaitable[object]) -> None:
    """Wait until the first of these is done (the helpers made here are cancelled); a task that
    failed re-raises its error."""
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    made_here = [t for t, a in zip(tasks, awaitables, strict=True) if t is not a]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in made_here:
            task.cancel()
    for task in done:
        if not task.cancelled() and (error := task.exception()) is not None:
            raise error
