"""The worker's pod log: every line of an execution is prefixed `[<execution>] `.

`kubectl logs job/conveyor-worker-web` interleaves the executions a worker runs at once; the prefix
lets a reader (and `conveyor executions logs`) pick one out. Lines are written whole under a lock and
flushed at once, because task threads write concurrently and a pod log is read while it grows.
"""

from __future__ import annotations

import sys
import threading
from typing import TextIO


class PrefixedLog:
    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream
        self._lock = threading.Lock()

    def line(self, execution: str | None, text: str) -> None:
        """Write `text` (each of its lines) prefixed by the execution's name, or `[worker]`."""
        prefix = f"[{execution}] " if execution else "[worker] "
        block = "".join(prefix + part + "\n" for part in (text.splitlines() or [""]))
        stream = self._stream if self._stream is not None else sys.stdout
        with self._lock:
            try:
                stream.write(block)
                stream.flush()
            except (OSError, ValueError):  # a closed stdout must not fail a deployment
                pass
