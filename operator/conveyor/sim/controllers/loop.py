"""The level-based controller machinery: a work queue of object keys fed by watches and timers.

What must hold (as for client-go's controllers): a key queued many times is reconciled once, never
by two workers at once; a reconcile that fails is retried with back-off; a reconcile may ask to be
looked at again after a delay (deadlines, TTLs); every watch starts with a full list (so a restart
or a 410 Gone loses nothing) and every object is re-queued on a periodic resync, so a missed event
only delays convergence. Reconcile functions are idempotent: they read the current state and act.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from conveyor.sim.controllers.client import Client, Resource

log = logging.getLogger(__name__)

Key = tuple[str, str]  # (namespace, name)
Reconcile = Callable[[Key], Awaitable[float | None]]  # returns "look again in N seconds" or None
Mapper = Callable[[dict[str, Any]], Iterable[Key]]


def own_key(obj: dict[str, Any]) -> list[Key]:
    meta = obj["metadata"]
    return [(meta.get("namespace") or "", meta["name"])]


def owner_keys(kind: str) -> Mapper:
    """Map a dependent to its controller owner of `kind` (same namespace)."""

    def mapper(obj: dict[str, Any]) -> list[Key]:
        meta = obj["metadata"]
        return [
            (meta.get("namespace") or "", ref["name"])
            for ref in meta.get("ownerReferences") or ()
            if ref.get("kind") == kind and ref.get("controller")
        ]

    return mapper


class WorkQueue:
    def __init__(self) -> None:
        self._queue: asyncio.Queue[Key] = asyncio.Queue()
        self._queued: set[Key] = set()
        self._timers: dict[Key, asyncio.TimerHandle] = {}

    def add(self, key: Key) -> None:
        if key not in self._queued:
            self._queued.add(key)
            self._queue.put_nowait(key)

    def add_after(self, key: Key, delay: float) -> None:
        """Queue `key` after `delay`; an earlier timer for the same key wins over a later one."""
        loop = asyncio.get_running_loop()
        when = loop.time() + delay
        old = self._timers.get(key)
        if old is not None:
            if old.when() <= when:
                return
            old.cancel()
        self._timers[key] = loop.call_at(when, self._fire, key)

    def _fire(self, key: Key) -> None:
        self._timers.pop(key, None)
        self.add(key)

    async def get(self) -> Key:
        key = await self._queue.get()
        self._queued.discard(key)
        return key

    def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()


class Controller:
    """Watches sources, queues keys, and runs `reconcile` for each key, one at a time per key."""

    def __init__(
        self,
        name: str,
        client: Client,
        reconcile: Reconcile,
        sources: list[tuple[Resource, Mapper]],
        resync: float = 30.0,
        workers: int = 2,
    ) -> None:
        self.name = name
        self.client = client
        self.reconcile = reconcile
        self.sources = sources
        self.resync = resync
        self.workers = workers
        self.queue = WorkQueue()
        self._busy: set[Key] = set()
        self._failures: dict[Key, int] = {}

    async def run(self) -> None:
        tasks = [
            asyncio.create_task(self._watch(res, mapper), name=f"{self.name} watch {res.plural}")
            for res, mapper in self.sources
        ]
        tasks += [asyncio.create_task(self._work(), name=f"{self.name} worker") for _ in range(self.workers)]
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.gather(*tasks, return_exceptions=True)
            self.queue.close()

    async def _watch(self, res: Resource, mapper: Mapper) -> None:
        while True:
            try:
                async for _event, obj in self.client.list_and_watch(res, resync_seconds=self.resync):
                    for key in mapper(obj):
                        self.queue.add(key)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("%s: watch of %s failed; re-listing", self.name, res.plural)
                await asyncio.sleep(1.0)

    async def _work(self) -> None:
        while True:
            key = await self.queue.get()
            if key in self._busy:  # another worker has it: look again once it is done
                self.queue.add_after(key, 0.05)
                continue
            self._busy.add(key)
            try:
                again = await self.reconcile(key)
                self._failures.pop(key, None)
                if again is not None:
                    self.queue.add_after(key, max(again, 0.0))
            except asyncio.CancelledError:
                raise
            except Exception:
                failures = self._failures.get(key, 0) + 1
                self._failures[key] = failures
                log.exception("%s: reconcile of %s/%s failed (%d)", self.name, key[0], key[1], failures)
                self.queue.add_after(key, min(0.05 * 2**failures, 30.0))
            finally:
                self._busy.discard(key)
