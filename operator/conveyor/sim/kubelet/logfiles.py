"""Container log files in the CRI format, written by the supervisor and read by the pods/log handler.

Each line is `<RFC 3339 nano timestamp> <stdout|stderr> <F|P> <content>`, as containerd writes them
(F: the content ended a line; P: a partial line, flushed at exit or when too long). Keeping the
timestamp beside every line is what lets `timestamps=true` and `sinceSeconds` be served without
guessing, and the tag lets a reader give back exactly the bytes the process wrote.

One file per run of a container (`<restart count>.log`): the kubelet keeps the current run and the
previous one, which is what `previous=true` serves.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

MAX_LINE = 16 * 1024  # longer lines are split into partial records, as containerd does


def rfc3339_nano(ns: int | None = None) -> str:
    """`2024-05-01T12:00:00.123456789Z`: the timestamp `kubectl logs --timestamps` shows."""
    ns = time.time_ns() if ns is None else ns
    seconds, frac = divmod(ns, 1_000_000_000)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{frac:09d}Z"


def parse_rfc3339(text: str) -> float:
    """Seconds since the epoch of an RFC 3339 timestamp with up to nanosecond precision."""
    body, _, frac = text.rstrip("Z").partition(".")
    whole = datetime.strptime(body, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
    return whole + (float("0." + frac) if frac else 0.0)


@dataclass
class LogRun:
    """The log of one run of one container; `finished` once the process and its pipes are done.

    Followers wait on `changed`, which is replaced after each notification so every waiter wakes once.
    """

    path: Path
    finished: bool = False
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def finish(self) -> None:
        self.finished = True
        self.notify()

    async def wait_change(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self._changed.wait(), seconds)
        except TimeoutError:
            pass


class LogWriter:
    """Appends one stream's output to a run's file, one CRI record per line."""

    def __init__(self, run: LogRun, stream: str) -> None:
        self._run = run
        self._stream = stream
        self._pending = b""

    def feed(self, data: bytes) -> None:
        self._pending += data
        records: list[bytes] = []
        while True:
            nl = self._pending.find(b"\n")
            if nl < 0 or nl > MAX_LINE:
                break
            records.append(self._record(self._pending[:nl], b"F"))
            self._pending = self._pending[nl + 1 :]
        while len(self._pending) > MAX_LINE:
            records.append(self._record(self._pending[:MAX_LINE], b"P"))
            self._pending = self._pending[MAX_LINE:]
        self._write(records)

    def close(self) -> None:
        """Flush what is left without a newline as a partial record: the process wrote no newline."""
        if self._pending:
            self._write([self._record(self._pending, b"P")])
            self._pending = b""

    def _record(self, content: bytes, tag: bytes) -> bytes:
        return rfc3339_nano().encode() + b" " + self._stream.encode() + b" " + tag + b" " + content + b"\n"

    def _write(self, records: list[bytes]) -> None:
        if not records:
            return
        with self._run.path.open("ab") as f:
            f.write(b"".join(records))
        self._run.notify()


@dataclass(frozen=True)
class LogOptions:
    """The pods/log query parameters that shape the output (kube's PodLogOptions)."""

    follow: bool = False
    tail_lines: int | None = None
    since_seconds: int | None = None
    since_time: float | None = None  # epoch seconds
    timestamps: bool = False
    limit_bytes: int | None = None


@dataclass(frozen=True)
class Record:
    timestamp: str
    content: bytes
    complete: bool  # F: ends a line

    def render(self, timestamps: bool) -> bytes:
        body = self.content + (b"\n" if self.complete else b"")
        return (self.timestamp.encode() + b" " + body) if timestamps else body


def parse_record(line: bytes) -> Record | None:
    parts = line.rstrip(b"\n").split(b" ", 3)
    if len(parts) < 3:
        return None
    content = parts[3] if len(parts) == 4 else b""
    return Record(parts[0].decode(), content, parts[2] == b"F")


async def stream_log(run: LogRun, options: LogOptions, poll: float = 0.5) -> AsyncIterator[bytes]:
    """The bytes `kubectl logs` shows for one run; with `follow`, until the run has finished.

    tailLines counts lines from the end of what is there now; limitBytes cuts the output (across
    follow, too) at that many bytes, as the kubelet does.
    """
    since = options.since_time
    if options.since_seconds is not None:
        since = max(since or 0.0, time.time() - options.since_seconds)
    budget = options.limit_bytes
    offset = 0
    first = True
    while True:
        finished = run.finished  # read before the file so no line written before finishing is missed
        data = run.path.read_bytes()[offset:] if run.path.exists() else b""
        end = data.rfind(b"\n") + 1  # only whole records; a record being written is read next time
        offset += end
        records = [r for r in (parse_record(x) for x in data[:end].splitlines()) if r is not None]
        if since is not None:
            records = [r for r in records if parse_rfc3339(r.timestamp) >= since]
        if first and options.tail_lines is not None:
            records = _tail(records, options.tail_lines)
        first = False
        for record in records:
            chunk = record.render(options.timestamps)
            if budget is not None:
                if budget <= 0:
                    return
                chunk = chunk[:budget]
                budget -= len(chunk)
            yield chunk
        if not options.follow or finished:
            return
        await run.wait_change(poll)


def _tail(records: list[Record], lines: int) -> list[Record]:
    """The records of the last `lines` lines (a line may span several partial records)."""
    if lines <= 0:
        return []
    count = 0
    for i in range(len(records) - 1, -1, -1):
        if records[i].complete or i == len(records) - 1:
            count += 1
            if count > lines:
                return records[i + 1 :]
    return records
