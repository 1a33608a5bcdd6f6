"""Object storage with one global, monotonic resourceVersion: the sim's etcd.

What must hold:
- Every write (create, update, delete) takes the next resourceVersion, an integer rendered as a
  string, shared by all kinds, as etcd's revision is; a compare-and-swap on the previous
  resourceVersion guards updates (stale → 409 Conflict).
- Stored objects are never mutated in place: a write stores a new dict. Readers may therefore hand
  stored dicts out without copying, as long as THEY do not mutate them (the HTTP layer serialises
  them; the service layer copies for in-process callers).
- A bounded history of events lets watches resume from a resourceVersion; older than the history
  is 410 Gone, worded as the apiserver's watch cache words it.
- With a data directory, every write is appended to a log and replayed on start, so objects and the
  resourceVersion counter survive a restart; a snapshot compacts the log on clean shutdown.
"""

from __future__ import annotations

import json
import os
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from conveyor.sim.errors import already_exists, conflict, gone, not_found

Key = tuple[str, str]  # (group, plural)
ObjKey = tuple[str, str]  # (namespace or "", name)

DEFAULT_HISTORY = 10_000


@dataclass
class Event:
    """One committed change; `old` is the object before the change (None for ADDED)."""

    rv: int
    type: str  # ADDED, MODIFIED, DELETED
    group: str
    plural: str
    obj: dict[str, Any]
    old: dict[str, Any] | None
    # Serialised watch lines by apiVersion, so 200 watchers of one event cost one json.dumps.
    encoded: dict[str, bytes] = field(default_factory=dict)


def _meta(obj: dict[str, Any]) -> dict[str, Any]:
    return obj["metadata"]


def _owner_uids(obj: dict[str, Any]) -> list[str]:
    return [ref["uid"] for ref in _meta(obj).get("ownerReferences") or () if ref.get("uid")]


class Store:
    """In-memory objects keyed by (group, plural) then (namespace, name)."""

    def __init__(
        self, data_dir: str | os.PathLike[str] | None = None, history: int = DEFAULT_HISTORY
    ) -> None:
        self._lock = threading.RLock()
        self._rv = 0
        self._data: dict[Key, dict[ObjKey, dict[str, Any]]] = {}
        self._history: deque[Event] = deque(maxlen=history)
        self._compacted = 0  # events at or below this resourceVersion are no longer kept
        self._listeners: list[Callable[[Event], None]] = []
        # owner uid -> keys of dependents; the garbage collector's index.
        self._dependents: dict[str, set[tuple[str, str, str, str]]] = {}
        self._uids: dict[str, tuple[str, str, str, str]] = {}
        self._log: _DataLog | None = None
        if data_dir is not None:
            self._log = _DataLog(Path(data_dir))
            self._rv = self._log.load(self._restore)
            self._compacted = self._rv

    # reads -------------------------------------------------------------------------------------

    @property
    def resource_version(self) -> int:
        return self._rv

    def get(self, group: str, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        bucket = self._data.get((group, plural))
        return bucket.get((namespace, name)) if bucket else None

    def objects(self, group: str, plural: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """Objects sorted by (namespace, name), as etcd's key order lists them."""
        with self._lock:
            bucket = self._data.get((group, plural))
            if not bucket:
                return []
            keys = sorted(k for k in bucket if namespace is None or k[0] == namespace)
            return [bucket[k] for k in keys]

    def count(self, group: str, plural: str, namespace: str | None = None) -> int:
        bucket = self._data.get((group, plural)) or {}
        return len(bucket) if namespace is None else sum(1 for k in bucket if k[0] == namespace)

    def kinds(self) -> list[Key]:
        with self._lock:
            return [k for k, v in self._data.items() if v]

    def namespaces_in_use(self, namespace: str) -> Iterator[Key]:
        """(group, plural) pairs that hold at least one object in `namespace`."""
        with self._lock:
            for key, bucket in list(self._data.items()):
                if any(k[0] == namespace for k in bucket):
                    yield key

    def by_uid(self, uid: str) -> tuple[str, str, str, str] | None:
        return self._uids.get(uid)

    def dependents_of(self, uid: str) -> list[tuple[str, str, str, str]]:
        with self._lock:
            return sorted(self._dependents.get(uid, ()))

    # writes ------------------------------------------------------------------------------------

    def create(self, group: str, plural: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Store a new object (the caller gives up ownership of `obj`); 409 if the name is taken."""
        meta = _meta(obj)
        ns, name = meta.get("namespace") or "", meta["name"]
        with self._lock:
            bucket = self._data.setdefault((group, plural), {})
            if (ns, name) in bucket:
                raise already_exists(plural, group, name)
            rv = self._next()
            meta["resourceVersion"] = str(rv)
            bucket[(ns, name)] = obj
            self._index(group, plural, obj, None)
            self._commit(Event(rv, "ADDED", group, plural, obj, None))
        return obj

    def update(self, group: str, plural: str, obj: dict[str, Any], expected_rv: str | None) -> dict[str, Any]:
        """Replace an object; `expected_rv` (when given) must be the stored resourceVersion."""
        meta = _meta(obj)
        ns, name = meta.get("namespace") or "", meta["name"]
        with self._lock:
            bucket = self._data.get((group, plural)) or {}
            old = bucket.get((ns, name))
            if old is None:
                raise not_found(plural, group, name)
            if expected_rv is not None and expected_rv != old["metadata"]["resourceVersion"]:
                raise conflict(plural, group, name)
            rv = self._next()
            meta["resourceVersion"] = str(rv)
            bucket[(ns, name)] = obj
            self._index(group, plural, obj, old)
            self._commit(Event(rv, "MODIFIED", group, plural, obj, old))
        return obj

    def delete(
        self, group: str, plural: str, namespace: str, name: str, expected_rv: str | None = None
    ) -> dict[str, Any]:
        """Remove an object; the DELETED event carries it with the deletion's resourceVersion."""
        with self._lock:
            bucket = self._data.get((group, plural)) or {}
            old = bucket.get((namespace, name))
            if old is None:
                raise not_found(plural, group, name)
            if expected_rv is not None and expected_rv != old["metadata"]["resourceVersion"]:
                raise conflict(plural, group, name)
            del bucket[(namespace, name)]
            rv = self._next()
            final = {**old, "metadata": {**old["metadata"], "resourceVersion": str(rv)}}
            self._index(group, plural, None, old)
            self._commit(Event(rv, "DELETED", group, plural, final, old))
        return final

    # watch support -----------------------------------------------------------------------------

    def subscribe(self, listener: Callable[[Event], None]) -> None:
        """`listener` runs synchronously inside every commit: it must be quick and must not write."""
        self._listeners.append(listener)

    def events_since(self, group: str, plural: str, rv: int) -> list[Event]:
        """Events of one kind after `rv`; 410 Gone when `rv` predates the history kept."""
        with self._lock:
            if rv < self._compacted:
                raise gone(f"too old resource version: {rv} ({self._compacted})")
            return [e for e in self._history if e.rv > rv and e.group == group and e.plural == plural]

    # persistence -------------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            if self._log is not None:
                self._log.snapshot(self._rv, self._all_objects())
                self._log.close()
                self._log = None

    def _all_objects(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        for (group, plural), bucket in self._data.items():
            for obj in bucket.values():
                yield group, plural, obj

    def _restore(self, record: dict[str, Any]) -> None:
        group, plural = record["g"], record["p"]
        bucket = self._data.setdefault((group, plural), {})
        if record["op"] == "put":
            obj = record["o"]
            key = (obj["metadata"].get("namespace") or "", obj["metadata"]["name"])
            old = bucket.get(key)
            bucket[key] = obj
            self._index(group, plural, obj, old)
        else:
            old = bucket.pop((record["ns"], record["n"]), None)
            if old is not None:
                self._index(group, plural, None, old)

    # internals ---------------------------------------------------------------------------------

    def _next(self) -> int:
        self._rv += 1
        return self._rv

    def _index(self, group: str, plural: str, new: dict[str, Any] | None, old: dict[str, Any] | None) -> None:
        ref = new or old
        assert ref is not None
        meta = ref["metadata"]
        key = (group, plural, meta.get("namespace") or "", meta["name"])
        if old is not None:
            for uid in _owner_uids(old):
                deps = self._dependents.get(uid)
                if deps is not None:
                    deps.discard(key)
                    if not deps:
                        del self._dependents[uid]
            if new is None and old["metadata"].get("uid"):
                self._uids.pop(old["metadata"]["uid"], None)
        if new is not None:
            for uid in _owner_uids(new):
                self._dependents.setdefault(uid, set()).add(key)
            if new["metadata"].get("uid"):
                self._uids[new["metadata"]["uid"]] = key

    def _commit(self, event: Event) -> None:
        if len(self._history) == self._history.maxlen:
            self._compacted = self._history[0].rv
        self._history.append(event)
        if self._log is not None:
            if event.type == "DELETED":
                meta = event.obj["metadata"]
                self._log.append(
                    {
                        "op": "del",
                        "g": event.group,
                        "p": event.plural,
                        "rv": event.rv,
                        "ns": meta.get("namespace") or "",
                        "n": meta["name"],
                    }
                )
            else:
                self._log.append(
                    {"op": "put", "g": event.group, "p": event.plural, "rv": event.rv, "o": event.obj}
                )
        for listener in self._listeners:
            listener(event)


class _DataLog:
    """snapshot.json plus an append-only log.jsonl of writes made since the snapshot."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.snapshot_path = root / "snapshot.json"
        self.log_path = root / "log.jsonl"
        self._file: Any = None

    def load(self, apply: Callable[[dict[str, Any]], None]) -> int:
        rv = 0
        if self.snapshot_path.exists():
            snap = json.loads(self.snapshot_path.read_text())
            rv = int(snap["rv"])
            for group, plural, obj in snap["objects"]:
                apply({"op": "put", "g": group, "p": plural, "o": obj})
        if self.log_path.exists():
            with self.log_path.open() as f:
                for line in f:
                    if not line.strip():
                        continue
                    try:
                        record = json.loads(line)
                    except ValueError:  # a torn last line after a crash
                        break
                    apply(record)
                    rv = max(rv, int(record["rv"]))
        self._file = self.log_path.open("a", buffering=1 << 16)
        return rv

    def append(self, record: dict[str, Any]) -> None:
        self._file.write(json.dumps(record, separators=(",", ":")) + "\n")
        self._file.flush()

    def snapshot(self, rv: int, objects: Iterator[tuple[str, str, dict[str, Any]]]) -> None:
        tmp = self.snapshot_path.with_suffix(".tmp")
        with tmp.open("w") as f:
            json.dump({"rv": rv, "objects": [[g, p, o] for g, p, o in objects]}, f, separators=(",", ":"))
        os.replace(tmp, self.snapshot_path)
        if self._file is not None:
            self._file.close()
        self._file = self.log_path.open("w", buffering=1 << 16)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
