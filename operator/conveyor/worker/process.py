"""The `conveyor worker` process: watch, claim, run, cancel, exit when idle.

Why the asyncio client (`kubernetes.aio`): one loop multiplexes the watch, every execution's lease
renewal, throttled progress writes and Events, with no thread per concern; only workflow code, which
may block, gets threads. It is also the operator's client (`conveyor.kube.api`), whose
JSON calls and Lease API the worker reuses rather than duplicates.

What must hold:
- a worker serves one deployment's executions (or, as the system worker, the system-wide ones of
  the operator's namespace) and ignores every other execution it may see;
- each pending execution it sees is claimed by CAS (`claim.py`) and run in its own thread
  (`runner.py`), concurrently with the others it runs (forced executions run side by side);
- a cancel request reaches the running workflow's CancelToken from the watch (`cancel.py`);
- nothing running for `idle_timeout` seconds: exit 0 (after one last look for pending work).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from kubernetes.aio import client as aio_client

from conveyor.api.names import LABEL_DEPLOYMENT, label_value
from conveyor.kube.api import KubeApi, load_client
from conveyor.locks.api import ApiError
from conveyor.locks.leases import LeaseLocks
from conveyor.worker.cancel import requested_cancel
from conveyor.worker.claim import claim, is_claimable
from conveyor.worker.idle import IdleClock
from conveyor.worker.logs import PrefixedLog
from conveyor.worker.runner import ExecutionRun, RunningExecution
from conveyor.worker.settings import WorkerSettings
from conveyor.worker.watch import ExecutionWatch, WatchEvent

logger = logging.getLogger(__name__)


class Worker:
    def __init__(
        self, settings: WorkerSettings, api: KubeApi, api_client: aio_client.ApiClient, log: PrefixedLog
    ) -> None:
        self.settings = settings
        self._api = api
        self._locks = LeaseLocks(api)
        self._log = log
        selector = None if settings.system else f"{LABEL_DEPLOYMENT}={label_value(settings.deployment or '')}"
        self._watch = ExecutionWatch(api, api_client, settings.namespace, selector)
        self._idle = IdleClock(settings.idle_timeout)
        self._running: dict[str, RunningExecution] = {}
        self._claiming: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def serves(self, execution: dict[str, Any]) -> bool:
        """Whether `execution` is this worker's to run (the label selector is only a first cut:
        label values are bounded, names are not)."""
        deployment = (execution.get("spec") or {}).get("deployment")
        return deployment is None if self.settings.system else deployment == self.settings.deployment

    async def run(self, stop: asyncio.Event | None = None) -> int:
        """Serve until idle (0) or `stop` is set (0); running executions are not waited for on stop:
        a stopped worker's pod is going away, and its leases run out."""
        stop = stop or asyncio.Event()
        self._log.line(None, f"worker {self.settings.pod_name} serving {self.settings.label} "
                             f"(idle timeout {self.settings.idle_timeout:g}s)")
        consume = asyncio.create_task(self._consume())
        stopped = asyncio.create_task(stop.wait())
        try:
            while True:
                idle = asyncio.create_task(self._idle.wait_idle())
                await asyncio.wait({consume, stopped, idle}, return_when=asyncio.FIRST_COMPLETED)
                idle.cancel()
                if consume.done():
                    consume.result()  # the watch never ends by itself: re-raise what ended it
                if stopped.done():
                    self._log.line(None, "stopping")
                    return 0
                if await self._claim_listed():
                    continue
                self._log.line(None, f"idle for {self.settings.idle_timeout:g}s: exiting")
                return 0
        finally:
            for task in (consume, stopped, *self._tasks):
                task.cancel()
            for task in (consume, stopped, *self._tasks):
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _claim_listed(self) -> bool:
        """The last look before exiting: start whatever pending work the watch has not delivered yet."""
        try:
            items, _ = await self._watch.list()
        except (ApiError, OSError, TimeoutError) as error:
            self._log.line(None, f"cannot list executions before exiting ({error}): staying")
            return True
        found = False
        for item in items:
            if self.serves(item) and is_claimable(item):
                found = True
                self._handle(WatchEvent("ADDED", item))
        return found

    async def _consume(self) -> None:
        async for event in self._watch.events():
            if self.serves(event.object):
                self._handle(event)

    def _handle(self, event: WatchEvent) -> None:
        name = (event.object.get("metadata") or {}).get("name", "")
        running = self._running.get(name)
        if running is not None:
            mode = requested_cancel(None if event.type == "DELETED" else event.object)
            if mode is not None and running.token.mode is not mode:
                running.token.request(mode)
            return
        if event.type != "DELETED" and name not in self._claiming and is_claimable(event.object):
            self._claiming.add(name)
            self._idle.busy()
            self._spawn(self._claim_and_run(event.object))

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _claim_and_run(self, execution: dict[str, Any]) -> None:
        name = execution["metadata"]["name"]
        try:
            claimed = await claim(self._api, execution, self.settings.pod_name)
            if claimed is None:
                return
            running = RunningExecution(name)
            self._running[name] = running
            try:
                await ExecutionRun(self._api, self._locks, self.settings, self._log, claimed, running).run()
            finally:
                del self._running[name]
        except Exception:
            logger.exception("execution %s/%s", self.settings.namespace, name)
            self._log.line(name, "worker error while running it; see the worker's log")
        finally:
            self._claiming.discard(name)
            self._idle.done()


async def serve(
    settings: WorkerSettings,
    kubeconfig: str | None,
    stop: asyncio.Event | None = None,
    log: PrefixedLog | None = None,
) -> int:
    """Connect (kubeconfig, else the pod's service account) and run the worker until it is idle."""
    api_client = await load_client(kubeconfig)
    api = KubeApi(api_client)
    try:
        return await Worker(settings, api, api_client, log or PrefixedLog()).run(stop)
    finally:
        await api.close()
