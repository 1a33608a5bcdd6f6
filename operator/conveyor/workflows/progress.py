"""Operations total / finished for the Execution's status (`operations.total`, `operations.finished`).

Counted by task id in sets, so the figures stay right however often a body is executed again (a
retried subgraph, a second `execute()` of a graph whose tasks failed): total is every distinct
operation the execution has scheduled so far, finished every one that ran to an end (succeeded or
failed) or was found done in a checkpoint. Skipped and cancelled tasks are not finished.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable


class ProgressTracker:
    def __init__(self, publish: Callable[[int, int], None]) -> None:
        self._lock = threading.Lock()
        self._all: set[str] = set()
        self._finished: set[str] = set()
        self._publish = publish

    @property
    def total(self) -> int:
        return len(self._all)

    @property
    def finished(self) -> int:
        return len(self._finished)

    def add(self, task_ids: Iterable[str]) -> None:
        with self._lock:
            before = len(self._all)
            self._all.update(task_ids)
            changed, figures = len(self._all) != before, (len(self._all), len(self._finished))
        if changed:
            self._publish(*figures)

    def finish(self, task_id: str) -> None:
        with self._lock:
            if task_id in self._finished:
                return
            self._all.add(task_id)
            self._finished.add(task_id)
            figures = (len(self._all), len(self._finished))
        self._publish(*figures)
