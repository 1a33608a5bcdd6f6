"""Server-side apply and field ownership (metadata.managedFields), simplified but faithful where it shows.

What must hold (helm 4 applies with manager "helm" and force; `kubectl apply --server-side` with
"kubectl"):
- an apply by a manager owns exactly the fields it sent; fields it applied before and omits now are
  removed from the object unless another manager also owns them;
- a field another manager owns with a different value is a 409 Conflict unless `force`, which moves
  the ownership to the applier;
- an Update (create, update, patch) makes its manager own the fields it changed, taking them from
  others without conflict, so that a later apply by someone else conflicts on them.
Associative lists (list-type map / patch merge keys) merge by key, sets by value, other lists are atomic.
Managers are entries keyed by (manager, operation, subresource), as kube-apiserver keeps them.
"""

from __future__ import annotations

import copy
import datetime
from typing import Any

from conveyor.sim.errors import StatusError
from conveyor.sim.patching.fieldsets import (
    MISSING,
    Path,
    decode,
    element_key,
    encode,
    fields_of,
    leaves,
    remove_at,
    value_at,
)
from conveyor.sim.patching.schema import Node, kind_schema

Owners = dict[tuple[str, str, str | None], tuple[dict[str, Any], set[Path]]]


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _owners(obj: dict[str, Any] | None) -> Owners:
    owners: Owners = {}
    for entry in ((obj or {}).get("metadata") or {}).get("managedFields") or []:
        key = (entry.get("manager", ""), entry.get("operation", ""), entry.get("subresource") or None)
        owners[key] = (entry, decode(entry.get("fieldsV1") or {}))
    return owners


def _store(obj: dict[str, Any], owners: Owners) -> None:
    entries = []
    for (manager, operation, subresource), (entry, paths) in owners.items():
        if not paths:
            continue
        fresh = {k: v for k, v in entry.items() if k not in ("fieldsV1",)}
        fresh.update({"manager": manager, "operation": operation, "fieldsType": "FieldsV1",
                      "fieldsV1": encode(paths)})
        if subresource:
            fresh["subresource"] = subresource
        entries.append(fresh)
    obj.setdefault("metadata", {})["managedFields"] = entries


def _conflict(kind: str, group: str, name: str, conflicts: list[tuple[str, str, Path]]) -> StatusError:
    """409 Conflict with one FieldManagerConflict cause per field, worded as kube-apiserver words it."""
    def who(manager: str, version: str) -> str:
        return f'"{manager}"' + (f" using {version}" if version else "")
    n = len(conflicts)
    if n == 1:
        manager, version, path = conflicts[0]
        summary = f"conflict with {who(manager, version)}: {_dotted(path)}"
    else:
        by_manager: dict[str, list[str]] = {}
        for manager, version, path in conflicts:
            by_manager.setdefault(who(manager, version), []).append(f"- {_dotted(path)}")
        summary = "\n".join(f"conflicts with {m}:\n" + "\n".join(paths) for m, paths in by_manager.items())
    message = f"Apply failed with {n} conflict{'s' if n != 1 else ''}: {summary}"
    causes = [{"reason": "FieldManagerConflict", "message": f'conflict with "{m}"'
               + (f" using {v}" if v else ""), "field": _dotted(p)} for m, v, p in conflicts]
    details: dict[str, Any] = {"name": name, "kind": kind, "causes": causes}
    if group:
        details["group"] = group
    return StatusError(409, "Conflict", message, details)


def _dotted(path: Path) -> str:
    return "".join("." + s[2:] if s.startswith("f:") else f"[{s[2:]}]" if s.startswith(("k:", "v:")) else ""
                   for s in path)


def _drop_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def _default_map_keys(value: Any, node: Node) -> None:
    """Fill in, in place, the defaulted key fields of associative-list elements (`protocol: TCP`
    of ports), as kube does to an apply configuration before matching its elements to live ones."""
    if isinstance(value, dict) and node.structure != "atomic":
        for key, child in value.items():
            _default_map_keys(child, node.child(key))
    elif isinstance(value, list) and node.structure == "map" and node.map_keys:
        defaults = node.map_key_defaults
        for item in value:
            if isinstance(item, dict):
                for key, default in defaults.items():
                    if item.get(key) is None:
                        item[key] = default
                for key, child in item.items():
                    _default_map_keys(child, node.child(key))


def _merge(live: Any, applied: Any, node: Node) -> Any:
    if isinstance(live, dict) and isinstance(applied, dict) and node.structure != "atomic":
        merged = dict(live)
        for key, value in applied.items():
            merged[key] = _merge(live[key], value, node.child(key)) if key in live else copy.deepcopy(value)
        return merged
    if isinstance(live, list) and isinstance(applied, list) and node.structure == "map" and node.map_keys:
        merged_list = list(live)
        index = {element_key(i, node.map_keys): n for n, i in enumerate(live) if isinstance(i, dict)}
        for item in applied:
            at = index.get(element_key(item, node.map_keys)) if isinstance(item, dict) else None
            if at is None:
                merged_list.append(copy.deepcopy(item))
            else:
                merged_list[at] = _merge(live[at], item, node)
        return merged_list
    if isinstance(live, list) and isinstance(applied, list) and node.structure == "set":
        return list(live) + [copy.deepcopy(v) for v in applied if v not in live]
    return copy.deepcopy(applied)


def _within(path: Path, prefix: Path) -> bool:
    return path[:len(prefix)] == prefix


def _prune_empty_parents(obj: dict[str, Any], path: Path, owned: set[Path]) -> None:
    """Maps emptied by removing a dropped field go too, unless someone owns them as they are."""
    for end in range(len(path) - 1, 0, -1):
        parent = path[:end]
        if not parent[-1].startswith("f:") or parent in owned or value_at(obj, parent) != {}:
            return
        remove_at(obj, parent)


def server_side_apply(live: dict[str, Any] | None, applied: dict[str, Any], manager: str, force: bool,
                      group: str, kind: str, subresource: str | None = None) -> dict[str, Any]:
    """The object after `manager` applies `applied` (a new object; `live` is not modified)."""
    root = kind_schema(group, kind)
    applied = _drop_nulls(applied)  # a new object: defaulting below does not touch the caller's
    _default_map_keys(applied, root)
    obj = copy.deepcopy(live) if live is not None else {}
    owners = _owners(live)
    me = (manager, "Apply", subresource)
    mine = fields_of(applied, root, subresource)
    before = owners.get(me, ({}, set()))[1]

    conflicts: list[tuple[str, str, Path]] = []
    for key, (entry, paths) in owners.items():
        if key[0] == manager:
            continue
        clashing = {p for p in paths & mine if value_at(obj, p) != value_at(applied, p)}
        if clashing and force:
            paths -= clashing
        conflicts += [(key[0], entry.get("apiVersion", ""), p) for p in sorted(clashing)]
    if conflicts and not force:
        name = (applied.get("metadata") or {}).get("name", "")
        raise _conflict(kind, group, name, conflicts)

    others = set().union(*(paths for key, (_, paths) in owners.items() if key != me))
    for path in sorted(before - mine, key=len, reverse=True):
        if path in others:
            continue
        element = path[:-1] if path[-1] == "." else None
        if element and any(_within(o, element) for o in others | mine):
            continue  # someone still owns part of the element: keep it, drop only unowned fields
        if value_at(obj, path) is not MISSING:
            remove_at(obj, path)
            _prune_empty_parents(obj, path, others | mine)

    merged = _merge(obj, {k: v for k, v in applied.items() if k != "metadata"}, root)
    meta = dict(merged.get("metadata") or {})
    meta = _merge(meta, {k: v for k, v in (applied.get("metadata") or {}).items()
                         if k not in ("managedFields", "resourceVersion")}, root.child("metadata"))
    merged["metadata"] = meta
    for field in ("apiVersion", "kind"):
        if field in applied:
            merged[field] = applied[field]

    stamp = {"manager": manager, "operation": "Apply", "apiVersion": applied.get("apiVersion", ""),
             "time": _now()}
    owners[me] = (stamp, mine)
    _store(merged, owners)
    return merged


def _changed(old: Any, new: Any, node: Node, path: Path, out: set[Path], gone: set[Path]) -> None:
    """Leaf paths set or changed in `new` (into `out`) and leaf paths removed from `old` (into `gone`)."""
    if old == new:
        return
    if isinstance(old, list) and isinstance(new, list) and node.structure == "map" and node.map_keys:
        before = {element_key(i, node.map_keys): i for i in old if isinstance(i, dict)}
        after = {element_key(i, node.map_keys): i for i in new if isinstance(i, dict)}
        for key, item in after.items():
            if key in before:
                _changed(before[key], item, node, (*path, key), out, gone)
            else:
                out.add((*path, key, "."))
                leaves(item, node, (*path, key), out)
        gone.update((*path, key) for key in before.keys() - after.keys())
        return
    if isinstance(old, dict) and isinstance(new, dict) and node.structure != "atomic":
        for key, value in new.items():
            if key not in old:
                leaves(value, node.child(key), (*path, f"f:{key}"), out)
            else:
                _changed(old[key], value, node.child(key), (*path, f"f:{key}"), out, gone)
        for key in old.keys() - new.keys():
            gone.add((*path, f"f:{key}"))
        return
    leaves(new, node, path, out)


def track_update(old: dict[str, Any] | None, new: dict[str, Any], manager: str, operation: str,
                 subresource: str | None = None) -> dict[str, Any]:
    """`new` (modified in place and returned) with managedFields recording what `manager` changed.

    Runs on every write, so it costs one equality test when the write changed nothing that is owned,
    and otherwise walks only the changed subtrees. managedFields the client sent explicitly (different
    from the stored ones) are kept as sent, as kube-apiserver does; an empty list resets ownership.
    """
    old_meta = (old or {}).get("metadata") or {}
    new_meta = new.setdefault("metadata", {})
    old_fields = old_meta.get("managedFields")
    if "managedFields" in new_meta and new_meta["managedFields"] != old_fields and old is not None:
        return new
    if old_fields is not None:
        new_meta["managedFields"] = old_fields
    root = kind_schema(new.get("apiVersion", "").rpartition("/")[0], new.get("kind", ""))
    if old is None:
        changed = fields_of(new, root, subresource)
        gone: set[Path] = set()
    else:
        changed, gone = set(), set()
        for field in (new.keys() | old.keys()) - {"apiVersion", "kind"}:
            if (field == "status") != (subresource == "status") and field != "metadata":
                continue
            before, after = old.get(field), new.get(field)
            if field == "metadata":
                before = {k: v for k, v in (before or {}).items() if k not in _SKIP_META}
                after = {k: v for k, v in (after or {}).items() if k not in _SKIP_META}
            _changed(before, after, root.child(field), (f"f:{field}",), changed, gone)
    if not changed and not gone:
        return new
    owners = _owners(new)
    me = (manager, operation, subresource)
    for key, (_, paths) in owners.items():
        paths -= {p for p in paths if any(_within(p, g) for g in gone)}
        if key != me:
            paths -= changed
    paths = owners.get(me, ({}, set()))[1]
    paths |= changed
    owners[me] = ({"manager": manager, "operation": operation, "apiVersion": new.get("apiVersion", ""),
                   "time": _now()}, paths)
    _store(new, owners)
    return new


_SKIP_META = frozenset({"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
                        "managedFields", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"})
