"""Fan-out of committed events to watchers, each with its own filter and bounded buffer.

What must hold:
- Writers never wait for watchers: the store calls `WatchHub.publish` inside its commit, which only
  appends to per-watcher buffers. A watcher whose buffer overflows is closed (kube's watch cache
  does the same to a consumer that cannot keep up); its client re-lists and watches again.
- A watcher sees every matching event after its starting resourceVersion exactly once and in
  order. With a selector, an object that starts (stops) matching arrives as ADDED (DELETED), as the
  apiserver's filtered watch reports it.
- Each event is serialised once per (type, apiVersion) however many watchers receive it.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from conveyor.sim.storage import Event, Store

DEFAULT_BUFFER = 10_000

Matcher = Callable[[dict[str, Any]], bool]
# (type, object, source event or None): BOOKMARK and initial ADDED items have no source event.
Item = tuple[str, dict[str, Any], Event | None]


class Watcher:
    """One watch: a filter, a buffer, and a wake-up flag for its consumer."""

    def __init__(
        self,
        hub: WatchHub,
        key: tuple[str, str],
        namespace: str | None,
        name: str | None,
        matcher: Matcher | None,
        api_version: str,
        kind: str,
        bookmarks: bool,
        buffer: int = DEFAULT_BUFFER,
    ) -> None:
        self.hub = hub
        self.key = key
        self.namespace = namespace
        self.name = name
        self.matcher = matcher
        self.api_version = api_version
        self.kind = kind
        self.bookmarks = bookmarks
        self.buffer = buffer
        self.items: deque[Item] = deque()
        self.closed = False
        self.overflowed = False
        self._wake = asyncio.Event()
        self.delivered_rv = 0

    def _matches(self, obj: dict[str, Any] | None) -> bool:
        if obj is None:
            return False
        meta = obj["metadata"]
        if self.namespace is not None and meta.get("namespace") != self.namespace:
            return False
        if self.name is not None and meta["name"] != self.name:
            return False
        return self.matcher is None or self.matcher(obj)

    def offer(self, event: Event) -> None:
        if self.closed:
            return
        if event.type == "ADDED":
            kind = "ADDED" if self._matches(event.obj) else None
        elif event.type == "DELETED":
            kind = "DELETED" if self._matches(event.old) else None
        else:
            now, before = self._matches(event.obj), self._matches(event.old)
            kind = ("MODIFIED" if before else "ADDED") if now else ("DELETED" if before else None)
        if kind is None:
            return
        if len(self.items) >= self.buffer:
            self.overflowed = True
            self.close()
            return
        self.items.append((kind, event.obj, event))
        self._wake.set()

    def push(self, item: Item) -> None:
        self.items.append(item)
        self._wake.set()

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.hub.remove(self)
            self._wake.set()

    async def next_batch(self, wait: float) -> list[Item] | None:
        """Everything buffered, waiting up to `wait` seconds; [] on timeout, None once closed and drained."""
        if not self.items and not self.closed:
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), wait)
            except TimeoutError:
                return []
        if not self.items:
            return None if self.closed else []
        if self.overflowed:  # a closed-for-lag watcher gets nothing more: the client must re-list
            self.items.clear()
            return None
        batch = list(self.items)
        self.items.clear()
        return batch

    def bookmark(self, rv: int, initial_events_end: bool = False) -> Item:
        meta: dict[str, Any] = {"resourceVersion": str(rv)}
        if initial_events_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        return ("BOOKMARK", {"kind": self.kind, "apiVersion": self.api_version, "metadata": meta}, None)

    def convert(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Objects are stored at one version; a watch of another version sees them relabelled."""
        if obj.get("apiVersion") != self.api_version and "kind" in obj:
            return {**obj, "apiVersion": self.api_version}
        return obj

    def encode(self, item: Item) -> bytes:
        """One watch line; shared across watchers through the event's cache."""
        kind, obj, event = item
        if event is None:
            return _line(kind, self.convert(obj))
        cache_key = kind + "\0" + self.api_version
        line = event.encoded.get(cache_key)
        if line is None:
            line = _line(kind, self.convert(obj))
            event.encoded[cache_key] = line
        return line


def _clone(obj: dict[str, Any]) -> dict[str, Any]:
    copied: dict[str, Any] = json.loads(json.dumps(obj))
    return copied


def _line(kind: str, obj: dict[str, Any]) -> bytes:
    return json.dumps({"type": kind, "object": obj}, separators=(",", ":")).encode() + b"\n"


class WatchHub:
    """Watchers indexed by (group, plural), fed by the store's commit hook."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._by_key: dict[tuple[str, str], set[Watcher]] = {}
        store.subscribe(self.publish)

    def publish(self, event: Event) -> None:
        watchers = self._by_key.get((event.group, event.plural))
        if watchers:
            for w in list(watchers):
                w.offer(event)

    def add(self, watcher: Watcher) -> None:
        self._by_key.setdefault(watcher.key, set()).add(watcher)

    def remove(self, watcher: Watcher) -> None:
        watchers = self._by_key.get(watcher.key)
        if watchers is not None:
            watchers.discard(watcher)

    def count(self) -> int:
        return sum(len(w) for w in self._by_key.values())

    def close_all(self) -> None:
        for watchers in list(self._by_key.values()):
            for w in list(watchers):
                w.close()


class WatchStream:
    """What a watch request gets: the initial items, then live batches, bookmarks, and a deadline.

    Iterate with `async for batch in stream` to receive lists of items; the iteration ends at the
    deadline, when the watcher is closed (overflow, shutdown) or when `close()` is called. With
    `copies`, each item's object is a private copy at the requested version (for in-process callers,
    who may mutate it); without, it is the stored dict itself (the HTTP layer only serialises it).
    """

    def __init__(
        self,
        watcher: Watcher,
        initial: list[Item],
        timeout: float,
        bookmark_interval: float,
        copies: bool = False,
    ) -> None:
        self.watcher = watcher
        self.copies = copies
        self._pending = initial
        self._deadline = time.monotonic() + timeout
        self._bookmark_interval = bookmark_interval
        self._next_bookmark = time.monotonic() + bookmark_interval

    def __aiter__(self) -> WatchStream:
        return self

    async def __anext__(self) -> list[Item]:
        batch = await self._next()
        if self.copies:
            return [(kind, _clone(self.watcher.convert(obj)), event) for kind, obj, event in batch]
        return batch

    async def _next(self) -> list[Item]:
        if self._pending:
            first, self._pending = self._pending, []
            return first
        while True:
            now = time.monotonic()
            if now >= self._deadline:
                self.close()
                raise StopAsyncIteration
            wait = min(self._deadline, self._next_bookmark) - now
            batch = await self.watcher.next_batch(max(wait, 0.0))
            if batch is None:
                raise StopAsyncIteration
            if batch:
                return batch
            if self.watcher.bookmarks and time.monotonic() >= self._next_bookmark:
                self._next_bookmark = time.monotonic() + self._bookmark_interval
                # Empty buffer: everything up to the store's resourceVersion has been offered.
                return [self.watcher.bookmark(self.watcher.hub.store.resource_version)]
            if time.monotonic() >= self._next_bookmark:
                self._next_bookmark = time.monotonic() + self._bookmark_interval

    def close(self) -> None:
        self.watcher.close()
