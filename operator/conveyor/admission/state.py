"""Creation-ordered queues with cheap removal, the building block of the admission indexes.

Admission needs, per deployment and for the system-wide executions, "the earliest queued one" and
"remove this one" (cancel, delete) at a cost that does not grow with the queue length. A binary
heap with lazy deletion gives that: push and pop-head are O(log n), removal is O(1) (the entry is
forgotten and its stale heap slot is skipped when it reaches the top, so each removal costs one
O(log n) pop later, amortized).
"""

from __future__ import annotations

import heapq
from collections.abc import Hashable, Iterator
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class CreationQueue(Generic[K]):
    """Items ordered by a sortable key (the creation order); FIFO among equal keys is by insertion.

    What must hold: ``head()`` is the live item with the smallest order; an item is in the queue at
    most once (``push`` of a present item is refused), so the stale slots left by ``discard`` are
    recognised by their ticket.
    """

    __slots__ = ("_heap", "_live", "_tickets")

    def __init__(self) -> None:
        self._heap: list[tuple[Any, int, K]] = []
        self._live: dict[K, int] = {}
        self._tickets = 0

    def __len__(self) -> int:
        return len(self._live)

    def __bool__(self) -> bool:
        return bool(self._live)

    def __contains__(self, item: object) -> bool:
        return item in self._live

    def push(self, order: Any, item: K) -> None:
        """Add ``item`` at its place in creation order. O(log n)."""
        if item in self._live:
            raise ValueError(f"{item!r} is already queued")
        self._tickets += 1
        self._live[item] = self._tickets
        heapq.heappush(self._heap, (order, self._tickets, item))

    def discard(self, item: K) -> bool:
        """Forget ``item`` if present; True if it was. O(1) now, its heap slot is dropped later."""
        return self._live.pop(item, None) is not None

    def head(self) -> K | None:
        """The earliest live item, or None. Amortized O(log n) (drops stale slots on the way)."""
        heap = self._heap
        while heap:
            _, ticket, item = heap[0]
            if self._live.get(item) == ticket:
                return item
            heapq.heappop(heap)
        return None

    def pop(self) -> K | None:
        """Remove and return the earliest live item. Amortized O(log n)."""
        item = self.head()
        if item is not None:
            heapq.heappop(self._heap)
            del self._live[item]
        return item

    def __iter__(self) -> Iterator[K]:
        """The live items in creation order. O(n log n): for rebuilds and queue positions only."""
        return iter(item for _, ticket, item in sorted(self._heap) if self._live.get(item) == ticket)
