"""Defaulting of custom resources from `default` in their structural schema.

As in apiextensions-apiserver: a default applies where a field is missing (also inside array items
and additionalProperties values), top-down, so a default object is itself defaulted further; a
null in a non-nullable field is treated as missing when there is a default and dropped otherwise.
"""

from __future__ import annotations

import copy
from typing import Any

from conveyor.sim.schema.compiled import MISSING, Node, compiled


def _default(node: Node, value: Any, root: bool) -> None:
    if isinstance(value, dict):
        for key, sub in node.properties.items():
            if root and key == "metadata":
                continue
            current = value.get(key, MISSING)
            if current is None and not sub.nullable:
                if sub.default is not MISSING and sub.default is not None:
                    value[key] = copy.deepcopy(sub.default)
                else:
                    del value[key]
                continue
            if current is MISSING and sub.default is not MISSING:
                value[key] = copy.deepcopy(sub.default)
        additional = node.additional
        if isinstance(additional, Node):
            for key in list(value):
                if key in node.properties:
                    continue
                if value[key] is None and not additional.nullable:
                    if additional.default is not MISSING and additional.default is not None:
                        value[key] = copy.deepcopy(additional.default)
                    else:
                        del value[key]
        for key, child in value.items():
            child_node = node.properties.get(key)
            if child_node is None and isinstance(additional, Node):
                child_node = additional
            if child_node is not None and isinstance(child, dict | list):
                _default(child_node, child, False)
    elif isinstance(value, list) and node.items is not None:
        items = node.items
        for i, item in enumerate(value):
            if item is None and not items.nullable and items.default is not MISSING:
                value[i] = copy.deepcopy(items.default)
        for item in value:
            if isinstance(item, dict | list):
                _default(items, item, False)


def apply_defaults(obj: dict[str, Any], schema: dict[str, Any]) -> None:
    """Fill `obj` in place with the schema's defaults."""
    _default(compiled(schema), obj, True)
