"""Strategic merge patch (application/strategic-merge-patch+json) for built-in kinds.

What must hold, as in k8s.io/apimachinery/pkg/util/strategicpatch:
- lists tagged `patchStrategy: merge` merge by their `patchMergeKey` (lists of primitives: set union);
  other lists are replaced; maps merge key by key and `null` deletes;
- directives `$patch: replace | delete | merge` (on maps and list elements), `$deleteFromPrimitiveList/f`,
  `$setElementOrder/f` and `$retainKeys` are honoured and never stored in the result.
Failures map as kube-apiserver's `interpretStrategicMergePatchError` does: malformed directives are
400 BadRequest, a list element without its merge key is a 500 (the apiserver passes that error through).
"""

from __future__ import annotations

import copy
from typing import Any

from conveyor.sim.errors import bad_request, internal
from conveyor.sim.patching.schema import Node, kind_schema

_DIRECTIVE = "$patch"
_ORDER = "$setElementOrder/"
_DELETE_PRIMITIVE = "$deleteFromPrimitiveList/"
_RETAIN = "$retainKeys"


def strategic_merge_patch(obj: dict[str, Any], patch: dict[str, Any], group: str, kind: str
                          ) -> dict[str, Any]:
    """A new object: `obj` with `patch` merged in under the patch metadata of (group, kind)."""
    if not isinstance(patch, dict):
        raise bad_request("invalid JSON document")
    return _merge_map(copy.deepcopy(obj), patch, kind_schema(group, kind))


def _merge_map(original: dict[str, Any], patch: dict[str, Any], node: Node) -> dict[str, Any]:
    directive = patch.get(_DIRECTIVE)
    if directive == "replace":
        return _strip(patch)
    if directive == "delete":
        return {}
    if directive not in (None, "merge"):
        raise bad_request(f"Unknown patch type: {directive} in map: {patch}")
    retain = patch.get(_RETAIN)
    for key, value in patch.items():
        if key in (_DIRECTIVE, _RETAIN) or key.startswith(_ORDER):
            continue
        if key.startswith(_DELETE_PRIMITIVE):
            field = key[len(_DELETE_PRIMITIVE):]
            if not isinstance(value, list):
                raise bad_request("invalid patch format for primitive list: expected a list")
            if isinstance(original.get(field), list):
                original[field] = [v for v in original[field] if v not in value]
            continue
        child = node.child(key)
        if value is None or (isinstance(value, dict) and value == {_DIRECTIVE: "delete"}):
            original.pop(key, None)
        elif isinstance(value, dict):
            current = original.get(key)
            if child.strategy == "replace" or not isinstance(current, dict):
                current = {}
            original[key] = _merge_map(current, value, child)
        elif isinstance(value, list):
            current = original.get(key)
            if child.merges_list:
                original[key] = _merge_list(current if isinstance(current, list) else [], value, child)
            else:
                original[key] = _strip(value)
        else:
            original[key] = value
    for key, order in patch.items():
        if key.startswith(_ORDER):
            field = key[len(_ORDER):]
            if not isinstance(order, list):
                raise bad_request("invalid patch format for $setElementOrder list: expected a list")
            if isinstance(original.get(field), list):
                original[field] = _apply_order(original[field], order, node.child(field).merge_key)
    if retain is not None:
        if not isinstance(retain, list):
            raise bad_request("invalid patch format for retainKeys: expected a list")
        for key in [k for k in original if k not in retain]:
            del original[key]
    return original


def _merge_list(original: list[Any], patch: list[Any], node: Node) -> list[Any]:
    if any(isinstance(item, dict) and item.get(_DIRECTIVE) == "replace" for item in patch):
        return _strip([item for item in patch if not (isinstance(item, dict) and _DIRECTIVE in item)])
    key = node.merge_key
    if not key or not all(isinstance(item, dict) for item in patch):
        merged = list(original)
        merged.extend(copy.deepcopy(v) for v in patch if v not in merged)
        return merged
    merged = list(original)
    for item in patch:
        if key not in item:
            raise internal(f"map: {item} does not contain declared merge key: {key}")
        index = next((i for i, o in enumerate(merged) if isinstance(o, dict) and o.get(key) == item[key]),
                     None)
        if item.get(_DIRECTIVE) == "delete":
            if index is not None:
                del merged[index]
        elif index is None:
            merged.append(_merge_map({}, item, node))
        else:
            merged[index] = _merge_map(merged[index], item, node)
    return merged


def _apply_order(items: list[Any], order: list[Any], key: str) -> list[Any]:
    """Items named in `order` come in that order; the others keep their slots among them.

    Order entries are `{key: value}` maps for lists merged by key and plain values for primitive lists.
    """
    def ident(item: Any) -> Any:
        return item.get(key) if key and isinstance(item, dict) else item
    wanted = [o.get(key) if key and isinstance(o, dict) else o for o in order]
    rank = {repr(w): i for i, w in enumerate(wanted)}
    ordered = iter(sorted((i for i in items if repr(ident(i)) in rank), key=lambda i: rank[repr(ident(i))]))
    return [next(ordered) if repr(ident(item)) in rank else item for item in items]


def _strip(value: Any) -> Any:
    """A deep copy without directives: they describe the patch and must never be stored."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items()
                if k not in (_DIRECTIVE, _RETAIN) and not k.startswith((_ORDER, _DELETE_PRIMITIVE))}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value

