"""Posting Events off the critical path: the operator's admission loop hands each Event to an outbox
and goes on with the next decision.

Why: an Event is a report of a transition that is already written. Awaiting its POST in the
admission loop put one round trip per transition on the path every execution waits behind (two of
the loop's fourteen per execution, docs/benchmarks.md). A failed Event was only ever logged, so
posting it later changes nothing a client can rely on, except its timing.

What must hold:
- the Events of one object are posted in the order they were handed in (each object's Events go
  through the same one of a few writers), so `kubectl describe` reads its story in order even where
  two Events share a timestamp; several writers keep a burst (10,000 queued requests, each with a
  Queued Event) from piling up in memory;
- the outbox is bounded: when the API falls far behind, new Events are dropped and counted (a
  warning in the log), never the loop's memory;
- `close()` posts what is queued, within a deadline, so a clean shutdown loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import zlib
from typing import Any, Protocol

logger = logging.getLogger(__name__)

DEFAULT_CAPACITY = 4000
DEFAULT_WRITERS = 4


class EventSink(Protocol):
    async def create_event(self, namespace: str, event: dict[str, Any]) -> None: ...


class EventOutbox:
    """Bounded queues of Events, one per writer task."""

    def __init__(
        self, sink: EventSink, capacity: int = DEFAULT_CAPACITY, writers: int = DEFAULT_WRITERS
    ) -> None:
        self._sink = sink
        per_writer = max(1, capacity // writers)
        self._queues: list[asyncio.Queue[tuple[str, dict[str, Any]]]] = [
            asyncio.Queue(maxsize=per_writer) for _ in range(writers)
        ]
        self._tasks: list[asyncio.Task[None]] = []
        self.dropped = 0

    def post(self, namespace: str, event: dict[str, Any]) -> None:
        """Queue an Event; starts the writers on first use (they need a running loop)."""
        if not self._tasks or any(task.done() for task in self._tasks):
            loop = asyncio.get_running_loop()
            self._tasks = [loop.create_task(self._write(queue)) for queue in self._queues]
        involved = event.get("involvedObject") or {}
        key = f"{involved.get('namespace')}/{involved.get('name')}".encode()
        queue = self._queues[zlib.crc32(key) % len(self._queues)]
        try:
            queue.put_nowait((namespace, event))
        except asyncio.QueueFull:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 100 == 0:
                logger.warning("the API falls behind: %d Events not posted so far", self.dropped)

    async def _write(self, queue: asyncio.Queue[tuple[str, dict[str, Any]]]) -> None:
        while True:
            namespace, event = await queue.get()
            try:
                await self._sink.create_event(namespace, event)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # an Event is a report: a failed one is logged, never retried
                name = (event.get("involvedObject") or {}).get("name")
                logger.warning("could not post Event %s on %s: %s", event.get("reason"), name, error)
            finally:
                queue.task_done()

    async def drain(self) -> None:
        """Wait until everything queued so far is posted (or failed)."""
        if self._tasks and not any(task.done() for task in self._tasks):
            for queue in self._queues:
                await queue.join()

    async def close(self, within: float = 5.0) -> None:
        """Post what is queued, within `within` seconds, then stop the writers."""
        if not self._tasks:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.drain(), within)
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
