"""Pruning of fields a structural schema does not specify (apiextensions-apiserver's pruning).

Only the structural part counts: properties, additionalProperties and items. Value validations in
anyOf/allOf/oneOf/not never keep a field alive. The removed paths feed fieldValidation=Strict
(`unknown field "spec.foo"`) and Warn, so they are rendered as kube renders them.
"""

from __future__ import annotations

from typing import Any

from conveyor.sim.schema.compiled import Node, compiled

_ROOT_KEEP = frozenset({"apiVersion", "kind", "metadata"})


def _prune(node: Node, value: Any, path: str, removed: list[str], keep: frozenset[str]) -> None:
    if node.int_or_string:
        return
    if isinstance(value, dict):
        props = node.properties
        additional = node.additional
        for key in list(value):
            sub = props.get(key)
            child_path = f"{path}.{key}" if path else key
            if sub is None:
                if key in keep:
                    continue
                if isinstance(additional, Node):
                    sub = additional
                elif node.preserve_unknown or additional is True:
                    continue
                else:
                    del value[key]
                    removed.append(child_path)
                    continue
            if key in keep and not path:
                continue  # root metadata is ObjectMeta: its shape is the server's, not the schema's
            child_keep = _ROOT_KEEP if sub.embedded else frozenset()
            _prune(sub, value[key], child_path, removed, child_keep)
    elif isinstance(value, list) and node.items is not None:
        for i, item in enumerate(value):
            _prune(node.items, item, f"{path}[{i}]", removed,
                   _ROOT_KEEP if node.items.embedded else frozenset())


def prune(obj: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    """Drop unknown fields from `obj` in place; return their paths in document order."""
    removed: list[str] = []
    _prune(compiled(schema), obj, "", removed, _ROOT_KEEP)
    return removed
