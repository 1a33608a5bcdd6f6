"""Sets of field paths, the unit of ownership in server-side apply, and their FieldsV1 encoding.

A path is a tuple of FieldsV1 segments: `f:<name>` a map field, `k:<json of key fields>` an element of an
associative list, `v:<json>` an element of a set, `.` the element itself. A set holds leaf paths only;
`encode` nests them into the `fieldsV1` map kube-apiserver stores (`{"f:spec": {"f:replicas": {}}}`).
"""

from __future__ import annotations

import json
from typing import Any

from conveyor.sim.patching.schema import Node

Path = tuple[str, ...]

# Fields nobody owns: identity and bookkeeping the server sets (kube's strip-meta field manager).
_IGNORED_META = frozenset({"name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp",
                           "managedFields", "selfLink", "deletionTimestamp", "deletionGracePeriodSeconds"})


def fields_of(obj: dict[str, Any], root: Node, subresource: str | None) -> set[Path]:
    """The leaf paths set in `obj`; `status` belongs to the status subresource and nothing else does."""
    out: set[Path] = set()
    for key, value in obj.items():
        if key in ("apiVersion", "kind") or value is None:
            continue
        if (key == "status") != (subresource == "status") and key != "metadata":
            continue
        if key == "metadata" and isinstance(value, dict):
            meta = {k: v for k, v in value.items() if k not in _IGNORED_META}
            leaves(meta, root.child("metadata"), ("f:metadata",), out)
            continue
        leaves(value, root.child(key), (f"f:{key}",), out)
    return out


def leaves(value: Any, node: Node, path: Path, out: set[Path]) -> None:
    """Add to `out` the leaf paths under `path` that `value` sets."""
    if isinstance(value, dict) and value and node.structure != "atomic":
        for key, child in value.items():
            if child is not None:
                leaves(child, node.child(key), (*path, f"f:{key}"), out)
    elif isinstance(value, list) and node.structure == "map" and node.map_keys:
        for item in value:
            if isinstance(item, dict):
                element = (*path, element_key(item, node.map_keys))
                out.add((*element, "."))
                for key, child in item.items():
                    if child is not None:
                        leaves(child, node.child(key), (*element, f"f:{key}"), out)
    elif isinstance(value, list) and node.structure == "set":
        for item in value:
            out.add((*path, "v:" + json.dumps(item, separators=(",", ":"))))
    else:
        out.add(path)


def element_key(item: dict[str, Any], keys: tuple[str, ...]) -> str:
    return "k:" + json.dumps({k: item[k] for k in sorted(keys) if k in item}, separators=(",", ":"))


def encode(paths: set[Path]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path in sorted(paths):
        node = tree
        for segment in path:
            node = node.setdefault(segment, {})
    return tree


def decode(tree: dict[str, Any], prefix: Path = ()) -> set[Path]:
    out: set[Path] = set()
    for segment, sub in tree.items():
        path = (*prefix, segment)
        if isinstance(sub, dict) and sub:
            out |= decode(sub, path)
        else:
            out.add(path)
    return out


_MISSING = object()


def value_at(obj: Any, path: Path) -> Any:
    """The value a path names in `obj`, or `MISSING`."""
    for segment in path:
        if segment == ".":
            continue
        if segment.startswith("f:") and isinstance(obj, dict):
            obj = obj.get(segment[2:], _MISSING)
        elif segment.startswith("k:") and isinstance(obj, list):
            want = json.loads(segment[2:])
            obj = next((i for i in obj if _matches(i, want)), _MISSING)
        elif segment.startswith("v:") and isinstance(obj, list):
            item = json.loads(segment[2:])
            obj = item if item in obj else _MISSING
        else:
            return _MISSING
        if obj is _MISSING:
            return _MISSING
    return obj


MISSING = _MISSING


def remove_at(obj: Any, path: Path) -> None:
    """Delete what a leaf path names (a field, a list element); a path already gone is no error."""
    if not path:
        return
    *parents, last = path
    if last == ".":
        *parents, last = parents
    container = value_at(obj, tuple(parents))
    if last.startswith("f:") and isinstance(container, dict):
        container.pop(last[2:], None)
    elif last.startswith("k:") and isinstance(container, list):
        want = json.loads(last[2:])
        container[:] = [i for i in container if not _matches(i, want)]
    elif last.startswith("v:") and isinstance(container, list):
        item = json.loads(last[2:])
        container[:] = [i for i in container if i != item]


def _matches(item: Any, key: dict[str, Any]) -> bool:
    return isinstance(item, dict) and all(item.get(k) == v for k, v in key.items())
