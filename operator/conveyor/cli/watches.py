"""Following one Execution and its Events through watches, never by polling.

Both watches are read with `_preload_content=False` and renewed in chunks, so a deadline is checked
and a dead connection noticed. A reader thread must be woken from outside (`interrupt`) and must
write nothing once stopped: a daemon thread still reading or writing while the interpreter exits
can abort it.
"""

from __future__ import annotations

import json
import math
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, cast

from conveyor.api.names import EXECUTION, GROUP, VERSION
from conveyor.cli.context import ClusterClient, fail

PLURAL = EXECUTION.plural
WATCH_CHUNK_SECONDS = 30
"""A watch request is renewed this often, so a deadline is checked and a dead connection noticed."""
WATCH_CONNECT_SECONDS = 10
EVENT_WATCH_SECONDS = 5
"""The Events watch is renewed this often; a stopped feed's thread ends within it."""
STOP_JOIN_SECONDS = 5.0


def interrupt(response: Any) -> None:
    """Wake a thread blocked reading `response`, from another thread.

    Closing a TLS stream that another thread reads blocks until that read returns, and a daemon
    thread still inside a TLS read when the interpreter exits can abort it (SIGABRT). Shutting the
    socket down under the TLS layer ends the read at once with an error, which that thread expects.
    """
    connection = getattr(response, "connection", None)
    sock = getattr(connection, "sock", None)
    if sock is None:
        return
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass


def watch_lines(response: Any) -> Iterator[dict[str, Any]]:
    """The events of a watch response (`_preload_content=False`), decoded."""
    from kubernetes.watch.watch import iter_resp_lines  # imported on first use: see context.py

    for line in iter_resp_lines(response):
        if line:
            yield json.loads(line)


class EventFeed:
    """A thread that hands the Events of one Execution to `show`, each once, as they come."""

    def __init__(
        self, cluster: ClusterClient, namespace: str, name: str, show: Callable[[dict[str, Any]], None]
    ) -> None:
        self.cluster = cluster
        self.namespace = namespace
        self.name = name
        self.show = show
        self._seen: set[str] = set()
        self._lock = threading.Lock()
        self._stopped = threading.Event()
        self._response: Any = None  # the watch being read, guarded by _lock
        self._thread = threading.Thread(target=self._run, name=f"events-{name}", daemon=True)

    def _selector(self) -> str:
        return f"involvedObject.name={self.name}"

    def _hand(self, events: list[dict[str, Any]]) -> None:
        """From the feed's thread: show what is new, unless stopped (checked under the lock, so
        nothing is written once `stop` returns: a daemon thread writing while the interpreter
        exits aborts it)."""
        with self._lock:
            if not self._stopped.is_set():
                self._show_new(events)

    def _show_new(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            meta = event.get("metadata") or {}
            uid = meta.get("uid") or meta.get("name") or ""
            involved = event.get("involvedObject") or {}
            if uid in self._seen or involved.get("kind") not in (None, EXECUTION.kind):
                continue
            self._seen.add(uid)
            self.show(event)

    def _list(self) -> tuple[list[dict[str, Any]], str]:
        listed = self.cluster.core.list_namespaced_event(
            self.namespace, field_selector=self._selector(), _preload_content=False
        )
        body = json.loads(cast(Any, listed).data)
        items = sorted(body.get("items") or [], key=_event_time)
        return items, str((body.get("metadata") or {}).get("resourceVersion") or "")

    def _run(self) -> None:
        try:
            items, version = self._list()
            self._hand(items)
            while not self._stopped.is_set():
                response = self.cluster.core.list_namespaced_event(
                    self.namespace,
                    field_selector=self._selector(),
                    resource_version=version,
                    watch=True,
                    timeout_seconds=EVENT_WATCH_SECONDS,
                    _preload_content=False,
                    _request_timeout=EVENT_WATCH_SECONDS + 15,
                )
                with self._lock:
                    if self._stopped.is_set():
                        interrupt(response)
                        return
                    self._response = response
                for change in watch_lines(response):
                    obj = change.get("object") or {}
                    if change.get("type") == "ERROR":
                        items, version = self._list()  # expired: catch up from a fresh list
                        self._hand(items)
                        break
                    version = (obj.get("metadata") or {}).get("resourceVersion") or version
                    if change.get("type") == "ADDED":
                        self._hand([obj])
        except Exception:  # events are a courtesy: the wait goes on without them
            return

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Show the Events posted up to now that the watch has not delivered yet, then stop the
        thread (see `interrupt`)."""
        try:
            items, _ = self._list()
        except Exception:
            items = []
        with self._lock:
            self._show_new(items)
            self._stopped.set()
            if self._response is not None:
                interrupt(self._response)
        self._thread.join(STOP_JOIN_SECONDS)


def _event_time(event: Mapping[str, Any]) -> tuple[str, str]:
    """Time, then name: Events of one second keep the order their (time-based) names give."""
    meta = event.get("metadata") or {}
    moment = (
        event.get("eventTime") or event.get("lastTimestamp") or event.get("firstTimestamp")
        or meta.get("creationTimestamp") or ""
    )
    return str(moment), str(meta.get("name") or "")


class WaitTimedOut(Exception):
    def __init__(self, last: dict[str, Any]) -> None:
        super().__init__("timed out")
        self.last = last


def watch_execution(
    cluster: ClusterClient,
    namespace: str,
    name: str,
    until: Callable[[dict[str, Any]], bool],
    deadline: float | None,
    on_change: Callable[[dict[str, Any]], None] = lambda obj: None,
) -> dict[str, Any]:
    """The Execution as soon as `until(it)` holds, following a watch from the version read first.

    Raises WaitTimedOut at `deadline` (time.monotonic()), and fails if the object goes away."""
    import urllib3  # imported on first use, with the client: see context.py

    obj = cluster.get_object(PLURAL, namespace, name)
    if obj is None:
        fail(f"execution {name} not found in namespace {namespace}")
    on_change(obj)
    while not until(obj):
        remaining = None if deadline is None else deadline - time.monotonic()
        if remaining is not None and remaining <= 0:
            raise WaitTimedOut(obj)
        chunk = WATCH_CHUNK_SECONDS
        if remaining is not None:
            chunk = max(1, min(WATCH_CHUNK_SECONDS, math.ceil(remaining)))
        # The read timeout ends a quiet watch at the deadline; the server ends it after `chunk`.
        read_timeout = chunk + 15 if remaining is None else remaining
        try:
            response: Any = cluster.custom.list_namespaced_custom_object(
                GROUP,
                VERSION,
                namespace,
                PLURAL,
                field_selector=f"metadata.name={name}",
                resource_version=obj["metadata"]["resourceVersion"],
                watch=True,
                timeout_seconds=chunk,
                _preload_content=False,
                _request_timeout=(WATCH_CONNECT_SECONDS, read_timeout),
            )
        except urllib3.exceptions.ReadTimeoutError:
            continue  # the deadline came before the server answered: checked at the top
        try:
            for change in watch_lines(response):
                kind = change.get("type")
                if kind == "ERROR":  # e.g. 410 Gone: read the object again and watch from there
                    fresh = cluster.get_object(PLURAL, namespace, name)
                    if fresh is None:
                        fail(f"execution {name} was deleted")
                    obj = fresh
                    on_change(obj)
                    break
                if kind == "DELETED":
                    fail(f"execution {name} was deleted")
                if kind in ("ADDED", "MODIFIED"):
                    obj = change["object"]
                    on_change(obj)
                    if until(obj) or (deadline is not None and time.monotonic() >= deadline):
                        break
        except (urllib3.exceptions.ReadTimeoutError, urllib3.exceptions.ProtocolError):
            pass  # the deadline came while the watch was quiet: checked at the top
        finally:
            response.close()
    return obj

