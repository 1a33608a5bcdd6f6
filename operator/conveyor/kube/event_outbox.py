"""Posting Events off the critical path: the operator's admission loop hands each Event to an outbox
and goes on with the next decision.

Why: an Event is a report of a transition that is already written. Awaiting its POST in the
admission loop put one round trip per transition on the path every execution waits behind (two of
the loop's fourteen per execution, docs/benchmarks.md). A failed Event was only ever logged, so
posting it later changes nothing a client can rely on, except its timing.

What must hold:
- Events are posted in the order they were handed in (one writer), so `kubectl describe` reads the
  story in order even where two Events share a timestamp;
- the outbox is bounded: when the API falls far behind, new Events are dropped and counted (a
  warning in the log), never the loop's memory;
- `close()` posts what is queued, within a deadline, so a clean shutdown loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Protocol

logger = logging.getLogger(__name__)

DEFAULT_CAPACITY = 5000


class EventSink(Protocol):
    async def create_event(self, namespace: str, event: dict[str, Any]) -> None: ...


class EventOutbox:
    """A bounded queue of Events and the one task that posts them."""

    def __init__(self, sink: EventSink, capacity: int = DEFAULT_CAPACITY) -> None:
        self._sink = sink
        self._queue: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue(maxsize=capacity)
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0

    def post(self, namespace: str, event: dict[str, Any]) -> None:
        """Queue an Event; starts the writer on first use (it needs a running loop)."""
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._write())
        try:
            self._queue.put_nowait((namespace, event))
        except asyncio.QueueFull:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 100 == 0:
                logger.warning("the API falls behind: %d Events not posted so far", self.dropped)

    async def _write(self) -> None:
        while True:
            namespace, event = await self._queue.get()
            try:
                await self._sink.create_event(namespace, event)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # an Event is a report: a failed one is logged, never retried
                name = (event.get("involvedObject") or {}).get("name")
                logger.warning("could not post Event %s on %s: %s", event.get("reason"), name, error)
            finally:
                self._queue.task_done()

    async def drain(self) -> None:
        """Wait until everything queued so far is posted (or failed)."""
        if self._task is not None and not self._task.done():
            await self._queue.join()

    async def close(self, within: float = 5.0) -> None:
        """Post what is queued, within `within` seconds, then stop the writer."""
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.drain(), within)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
