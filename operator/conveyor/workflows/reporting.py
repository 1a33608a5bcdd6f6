"""Where a running workflow's observable effects go: task events, progress, logs, checkpoints.

The worker implements `Reporter` to write Kubernetes Events, the Execution's status
(`operations.total/finished`, checkpoints) and prefixed pod-log lines. `MemoryReporter` keeps
everything in memory (and can echo to a stream) for tests and local runs.

What must hold for any implementation:
- methods are called from several task threads at once: an implementation must be thread-safe;
- for one task, events arrive in the order they happened (started, retrying, started, ...,
  succeeded/failed/skipped), because each task's events come from one thread;
- methods must not raise; a reporter that cannot write should log and carry on, since a
  status-write hiccup must not fail the deployment it reports on.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import threading
from collections.abc import Mapping
from typing import Any, Protocol, TextIO

SUCCEEDED = "succeeded"
"""The checkpoint state that lets a resumed attempt skip a task."""


@dataclasses.dataclass(frozen=True)
class TaskInfo:
    """Identity of a task attempt as reported.

    `id` is stable across attempts of an execution (the task's name, or a deterministic id from
    its position in the graph) and is the key of checkpoints. `operation` is "plugin.op" or the
    callable's qualified name; `attempt` counts from 1.
    """

    id: str
    name: str
    operation: str
    attempt: int = 1


class Reporter(Protocol):
    @property
    def checkpoints(self) -> Mapping[str, str]:
        """Task id -> state saved by an earlier attempt of this execution (empty for a first attempt)."""
        ...

    def task_started(self, task: TaskInfo) -> None: ...

    def task_succeeded(self, task: TaskInfo) -> None: ...

    def task_failed(self, task: TaskInfo, error: str) -> None: ...

    def task_retrying(self, task: TaskInfo, error: str, retry_in: float) -> None: ...

    def task_skipped(self, task: TaskInfo, reason: str) -> None:
        """Never started: a dependency did not succeed, the graph stopped, or a checkpoint says done."""
        ...

    def task_cancelled(self, task: TaskInfo, reason: str) -> None:
        """Stopped by a cancel request while running or waiting to retry, or abandoned after force."""
        ...

    def progress(self, total: int, finished: int) -> None:
        """Operations of the execution so far: `total` grows as graphs are executed."""
        ...

    def log(self, record: logging.LogRecord) -> None:
        """A log line of the execution; `record.execution` (and `record.task` if any) are set."""
        ...

    def event(self, message: str, level: str, data: Mapping[str, Any]) -> None:
        """A notable event (send_event, logs at warning and above, workflow start/end)."""
        ...

    def checkpoint(self, task_id: str, state: str) -> None:
        """Persist a task's state for resume; only called for resumable workflows, never in dry run."""
        ...


@dataclasses.dataclass(frozen=True)
class Recorded:
    """One call made on a MemoryReporter: `kind` is the method name, `fields` its arguments."""

    kind: str
    task_id: str | None
    fields: Mapping[str, Any]


class MemoryReporter:
    """A thread-safe Reporter that records every call in order, optionally echoing lines to a stream."""

    def __init__(self, checkpoints: Mapping[str, str] | None = None, echo: TextIO | None = None) -> None:
        self._lock = threading.Lock()
        self._checkpoints: dict[str, str] = dict(checkpoints or {})
        self._echo = echo
        self.records: list[Recorded] = []
        self.log_records: list[logging.LogRecord] = []
        self.last_progress: tuple[int, int] = (0, 0)

    @classmethod
    def to_stdout(cls, checkpoints: Mapping[str, str] | None = None) -> MemoryReporter:
        return cls(checkpoints, echo=sys.stdout)

    @property
    def checkpoints(self) -> Mapping[str, str]:
        with self._lock:
            return dict(self._checkpoints)

    def _record(self, kind: str, task_id: str | None, **fields: Any) -> None:
        with self._lock:
            self.records.append(Recorded(kind, task_id, fields))
            if self._echo is not None:
                details = " ".join(f"{key}={value}" for key, value in fields.items())
                self._echo.write(f"[{kind}] {task_id or ''} {details}".rstrip() + "\n")

    def task_started(self, task: TaskInfo) -> None:
        self._record("task_started", task.id, attempt=task.attempt)

    def task_succeeded(self, task: TaskInfo) -> None:
        self._record("task_succeeded", task.id, attempt=task.attempt)

    def task_failed(self, task: TaskInfo, error: str) -> None:
        self._record("task_failed", task.id, attempt=task.attempt, error=error)

    def task_retrying(self, task: TaskInfo, error: str, retry_in: float) -> None:
        self._record("task_retrying", task.id, attempt=task.attempt, error=error, retry_in=retry_in)

    def task_skipped(self, task: TaskInfo, reason: str) -> None:
        self._record("task_skipped", task.id, reason=reason)

    def task_cancelled(self, task: TaskInfo, reason: str) -> None:
        self._record("task_cancelled", task.id, reason=reason)

    def progress(self, total: int, finished: int) -> None:
        with self._lock:
            self.last_progress = (total, finished)
        self._record("progress", None, total=total, finished=finished)

    def log(self, record: logging.LogRecord) -> None:
        with self._lock:
            self.log_records.append(record)
            if self._echo is not None:
                self._echo.write(f"{getattr(record, 'execution', '-')}: {record.getMessage()}\n")

    def event(self, message: str, level: str, data: Mapping[str, Any]) -> None:
        self._record("event", None, message=message, level=level, data=dict(data))

    def checkpoint(self, task_id: str, state: str) -> None:
        with self._lock:
            self._checkpoints[task_id] = state
        self._record("checkpoint", task_id, state=state)

    # Read-side helpers for tests and local runs.

    def kinds(self, task_id: str | None = None) -> list[str]:
        """The kinds recorded, in order, optionally only those of one task."""
        with self._lock:
            return [r.kind for r in self.records if task_id is None or r.task_id == task_id]

    def task_ids(self, kind: str) -> list[str]:
        """Ids of the tasks that got `kind`, in order."""
        with self._lock:
            return [r.task_id for r in self.records if r.kind == kind and r.task_id is not None]

    def messages(self) -> list[str]:
        with self._lock:
            return [record.getMessage() for record in self.log_records]

    def events(self) -> list[Recorded]:
        with self._lock:
            return [r for r in self.records if r.kind == "event"]
