"""Cancellation requests as seen by workflow code and by running tasks.

The worker calls `CancelToken.request()` when it sees `spec.cancel` change. Requests only escalate:
graceful may become force, never the other way back. Everything that waits in the framework (retry
intervals, the graph scheduler, a shell command) waits on the token, so a request is noticed at once
rather than at the next poll.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable

from conveyor.workflows.errors import TaskCancelled


class CancelMode(enum.StrEnum):
    """What was asked: graceful = schedule nothing new; force = also interrupt what runs."""

    GRACEFUL = "graceful"
    FORCE = "force"


Listener = Callable[["CancelMode"], None]


class CancelToken:
    """Thread-safe, escalate-only cancellation state with listeners.

    Listeners run in the thread that calls `request()`, once per escalation; they must be quick and
    must not raise (a shell command's listener kills its process group, the scheduler's wakes it).
    """

    def __init__(self) -> None:
        self._lock = threading.Condition()
        self._mode: CancelMode | None = None
        self._listeners: list[Listener] = []

    @property
    def mode(self) -> CancelMode | None:
        return self._mode

    @property
    def requested(self) -> bool:
        """Any cancellation (graceful or force) was asked for."""
        return self._mode is not None

    @property
    def forced(self) -> bool:
        return self._mode is CancelMode.FORCE

    def request(self, mode: CancelMode | str) -> None:
        """Ask for cancellation; a weaker request than the current one is ignored."""
        wanted = CancelMode(mode)
        with self._lock:
            if self._mode is CancelMode.FORCE or self._mode is wanted:
                return
            self._mode = wanted
            listeners = list(self._listeners)
            self._lock.notify_all()
        for listener in listeners:
            listener(wanted)

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call `listener(mode)` on every escalation from now on; returns a function that removes it.

        A listener added after a request was already made is called at once with the current mode,
        so nothing is missed between checking the state and subscribing.
        """
        with self._lock:
            self._listeners.append(listener)
            current = self._mode

        def remove() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        if current is not None:
            listener(current)
        return remove

    def wait(self, timeout: float | None = None, *, force_only: bool = False) -> bool:
        """Block until a request (only a force one with `force_only`) or the timeout; True if requested."""
        def satisfied() -> bool:
            return self.forced if force_only else self.requested

        with self._lock:
            return self._lock.wait_for(satisfied, timeout)

    def wait_forced(self, timeout: float | None = None) -> bool:
        """Block until a force cancel or the timeout; the natural "sleep" of a cancellable task."""
        return self.wait(timeout, force_only=True)

    def raise_if_forced(self) -> None:
        """Checkpoint for long-running task code: stop here if a force cancel was asked for."""
        if self.forced:
            raise TaskCancelled("force cancel requested")
