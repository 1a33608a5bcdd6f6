"""`ExecutionReporter`: the framework's Reporter, writing to the cluster and the pod log.

Task threads call it; the writes happen on the worker's asyncio loop. What must hold:
- no method blocks a task thread on the network, and none raises (reporting.py's contract): calls
  are handed to the loop with `call_soon_threadsafe`, and a failed write is logged, not raised;
- progress and checkpoints are coalesced: at most one status write per `progress_interval` per
  execution, carrying the newest figures, so a 1,000-task graph does not make 2,000 writes; the
  final figures go out with the final status (`close()` hands them over);
- Events are posted in the order they were reported, by a few writers; if the API falls far behind,
  further Events are dropped and counted (a status write matters more than a story), and the count
  is reported in one last Event;
- every call is also a log line `[<execution>] ...`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from conveyor.admission.parameters import REDACTED
from conveyor.api.names import EXECUTION
from conveyor.kube.api import KubeApi
from conveyor.kube.events import WORKER_COMPONENT, build_event
from conveyor.locks.api import ApiError
from conveyor.worker import events
from conveyor.worker.logs import PrefixedLog
from conveyor.worker.status import progress_patch
from conveyor.workflows.reporting import SUCCEEDED, TaskInfo

logger = logging.getLogger(__name__)

MAX_PENDING_EVENTS = 2000
EVENT_WRITERS = 4


def _task_words(task: TaskInfo) -> str:
    what = f"Task {task.id}"
    return what if task.operation in ("", task.id) else f"{what} ({task.operation})"


class ExecutionReporter:
    """One per execution attempt. Create on the loop; `start()` there, `await close()` when the
    workflow thread has returned (or been abandoned)."""

    def __init__(
        self,
        api: KubeApi,
        execution: dict[str, Any],
        loop: asyncio.AbstractEventLoop,
        log: PrefixedLog,
        *,
        instance: str,
        progress_interval: float,
    ) -> None:
        self._api = api
        self._execution = execution
        self._loop = loop
        self._log = log
        self._instance = instance
        self._interval = progress_interval
        metadata = execution.get("metadata") or {}
        self.name: str = metadata.get("name", "")
        self.namespace: str = metadata.get("namespace", "")
        self.workflow: str = (execution.get("spec") or {}).get("workflow", "")
        previous = (execution.get("status") or {}).get("succeededTasks") or []
        self._lock = threading.Lock()
        self._checkpoints: dict[str, str] = {task_id: SUCCEEDED for task_id in previous}
        self._succeeded: list[str] = list(previous)
        self._checkpointed = False
        self._total = 0
        self._finished = 0
        self._pending_events = 0
        self._dropped_events = 0
        self._events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._dirty = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False
        self._secrets: tuple[str, ...] = ()
        self.latest: dict[str, Any] = execution
        """The newest version of the Execution this reporter wrote (or was given): the final status
        is a CAS on it first, and reads the Execution again only when that loses."""

    def mask(self, secrets: tuple[str, ...]) -> None:
        """From now on, these values are written as ****** in log lines and Events."""
        self._secrets = secrets

    def masked(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text

    # ----- lifecycle (on the loop) ----------------------------------------------------------------

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._write_progress())]
        self._tasks += [asyncio.create_task(self._write_events()) for _ in range(EVENT_WRITERS)]

    async def close(self) -> tuple[int, int, list[str] | None]:
        """Stop writing progress, post the Events still queued, and return the final
        (total, finished, succeededTasks or None) for the final status write."""
        with self._lock:
            self._closed = True
            dropped = self._dropped_events
            self._pending_events += 1 if dropped else 0
        if dropped:
            message = f"{dropped} events of this execution were not posted (the API fell behind)"
            self._events.put_nowait(self._event(events.WORKFLOW_EVENT, message, True))
        await self._events.join()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        with self._lock:
            succeeded = list(self._succeeded) if self._checkpointed else None
            return self._total, self._finished, succeeded

    def line(self, text: str) -> None:
        """A line of the pod log about this execution (the worker's own messages too)."""
        self._log.line(self.name, self.masked(text))

    # ----- handing work to the loop -------------------------------------------------------------

    def _soon(self, callback: Any, *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone: the process is exiting
            self._loop.call_soon_threadsafe(callback, *args)

    def _event(self, reason: str, message: str, warning: bool) -> dict[str, Any]:
        return build_event(
            self._execution, reason, self.masked(message), datetime.now(UTC),
            component=WORKER_COMPONENT, warning=warning, instance=self._instance,
        )

    def _post(self, reason: str, message: str, warning: bool = False) -> None:
        with self._lock:
            if self._closed or self._pending_events >= MAX_PENDING_EVENTS:
                self._dropped_events += 1
                return
            self._pending_events += 1
        self._soon(self._events.put_nowait, self._event(reason, message, warning))

    async def _write_events(self) -> None:
        while True:
            event = await self._events.get()
            try:
                await self._api.create_event(self.namespace, event)
            except (TimeoutError, ApiError, OSError) as error:
                logger.warning("event on %s/%s not posted: %s", self.namespace, self.name, error)
            finally:
                with self._lock:
                    self._pending_events -= 1
                self._events.task_done()

    async def _write_progress(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            with self._lock:
                patch = progress_patch(
                    self._total, self._finished, list(self._succeeded) if self._checkpointed else None
                )
            try:
                self.latest = await self._api.patch_custom(
                    EXECUTION.plural, self.namespace, self.name, patch, status=True, count_as="progress"
                )
            except (TimeoutError, ApiError, OSError) as error:
                logger.warning("progress of %s/%s not written: %s", self.namespace, self.name, error)
            await asyncio.sleep(self._interval)  # the throttle: newer figures wait for the next write

    # ----- the Reporter protocol (any thread) ---------------------------------------------------

    @property
    def checkpoints(self) -> Mapping[str, str]:
        with self._lock:
            return dict(self._checkpoints)

    def task_started(self, task: TaskInfo) -> None:
        attempt = f" (attempt {task.attempt})" if task.attempt > 1 else ""
        message = f"{_task_words(task)} started{attempt}"
        self.line(message)
        self._post(events.TASK_STARTED, message)

    def task_succeeded(self, task: TaskInfo) -> None:
        message = f"{_task_words(task)} succeeded"
        self.line(message)
        self._post(events.TASK_SUCCEEDED, message)

    def task_failed(self, task: TaskInfo, error: str) -> None:
        message = f"{_task_words(task)} failed: {error}"
        self.line(message)
        self._post(events.TASK_FAILED, message, warning=True)

    def task_retrying(self, task: TaskInfo, error: str, retry_in: float) -> None:
        message = f"{_task_words(task)} failed (attempt {task.attempt}), retrying in {retry_in:g}s: {error}"
        self.line(message)
        self._post(events.TASK_RETRYING, message, warning=True)

    def task_skipped(self, task: TaskInfo, reason: str) -> None:
        message = f"{_task_words(task)} skipped: {reason}"
        self.line(message)
        self._post(events.TASK_SKIPPED, message)

    def task_cancelled(self, task: TaskInfo, reason: str) -> None:
        message = f"{_task_words(task)} cancelled: {reason}"
        self.line(message)
        self._post(events.TASK_CANCELLED, message, warning=True)

    def progress(self, total: int, finished: int) -> None:
        with self._lock:
            self._total, self._finished = total, finished
        self._soon(self._dirty.set)

    def log(self, record: logging.LogRecord) -> None:
        task = getattr(record, "task", None)
        level = f"{record.levelname} " if record.levelno >= logging.WARNING else ""
        try:
            text = record.getMessage()
        except Exception as error:  # a bad format string in workflow code is its bug, not ours
            text = f"{record.msg!r} (unformattable: {error})"
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.line(f"{level}{task + ': ' if task else ''}{text}")

    def event(self, message: str, level: str, data: Mapping[str, Any]) -> None:
        warning = events.event_type(level) == "Warning"
        if events.is_workflow_lifecycle(self.workflow, message):
            self.line(message)  # the claim's and the final status's Events say it (kube.events)
            return
        if not warning:  # warnings and worse come from log records, which wrote their own line
            self.line(f"event: {message}")
        self._post(events.WORKFLOW_EVENT, message, warning=warning)

    def started(self, pod: str) -> None:
        """The claim's Event (pending → started), posted by the worker that won it."""
        self._post(events.STARTED, f"Started by worker {pod}")

    def checkpoint(self, task_id: str, state: str) -> None:
        with self._lock:
            self._checkpoints[task_id] = state
            self._checkpointed = True
            if state == SUCCEEDED and task_id not in self._succeeded:
                self._succeeded.append(task_id)
            elif state != SUCCEEDED and task_id in self._succeeded:
                self._succeeded.remove(task_id)
        self._soon(self._dirty.set)
