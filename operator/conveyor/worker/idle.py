"""When the worker may exit: nothing has run for `idle_timeout` seconds.

The clock starts when the worker starts and again each time its last running execution ends; any
execution running (or being claimed) stops it. The process then exits 0 and the operator's next
admission makes a new Job (DESIGN.md, "Workers"). Everything here runs on the worker's loop, so
`busy()` / `done()` are plain calls: nothing can slip in between a claim starting and the clock
stopping.
"""

from __future__ import annotations

import asyncio


class IdleClock:
    def __init__(self, timeout: float) -> None:
        self._timeout = timeout
        self._running = 0
        self._changed = asyncio.Event()

    @property
    def running(self) -> int:
        return self._running

    def busy(self) -> None:
        self._running += 1
        self._changed.set()

    def done(self) -> None:
        self._running -= 1
        self._changed.set()

    async def wait_idle(self) -> None:
        """Return once nothing has run for the whole timeout."""
        while True:
            self._changed.clear()
            if self._running:
                await self._changed.wait()
                continue
            try:
                await asyncio.wait_for(self._changed.wait(), self._timeout)
            except TimeoutError:
                if not self._running:
                    return
