"""A structural schema prepared once for the many writes validated against it.

The server validates, prunes and defaults every write of a custom resource, so the openAPIV3Schema
dict is turned once into a tree of `Node`s (patterns compiled, CEL programs built lazily, keywords
read into slots). Nodes are cached by the identity of the schema dict, holding a reference to it so
the id cannot be reused while cached; callers must treat a schema dict as immutable once served.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

MISSING: Any = object()
_CACHE_SIZE = 512


@dataclass(slots=True, eq=False)
class Node:
    raw: dict[str, Any]
    type: str = ""
    nullable: bool = False
    properties: dict[str, Node] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    additional: Node | bool | None = None  # None: not specified
    items: Node | None = None
    preserve_unknown: bool = False
    int_or_string: bool = False
    embedded: bool = False
    enum: list[Any] | None = None
    pattern: re.Pattern[str] | None = None
    pattern_src: str = ""
    format: str = ""
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    multiple_of: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    min_items: int | None = None
    max_items: int | None = None
    unique_items: bool = False
    min_properties: int | None = None
    max_properties: int | None = None
    list_type: str = ""
    list_map_keys: tuple[str, ...] = ()
    all_of: list[Node] = field(default_factory=list)
    any_of: list[Node] = field(default_factory=list)
    one_of: list[Node] = field(default_factory=list)
    not_: Node | None = None
    default: Any = MISSING
    rules: list[dict[str, Any]] = field(default_factory=list)
    # Whether anything below needs defaulting / CEL, so whole subtrees can be skipped quickly.
    has_defaults: bool = False
    has_rules: bool = False

    @property
    def type_label(self) -> str:
        """The type CEL errors name the value by (`Invalid value: "object": ...`)."""
        return self.type or ("string" if self.int_or_string else "object")


def _compile(raw: dict[str, Any]) -> Node:
    n = Node(raw=raw)
    n.type = raw.get("type") or ""
    n.nullable = bool(raw.get("nullable"))
    n.required = tuple(raw.get("required") or ())
    n.preserve_unknown = bool(raw.get("x-kubernetes-preserve-unknown-fields"))
    n.int_or_string = bool(raw.get("x-kubernetes-int-or-string"))
    n.embedded = bool(raw.get("x-kubernetes-embedded-resource"))
    n.enum = raw.get("enum")
    if raw.get("pattern") is not None:
        n.pattern_src = raw["pattern"]
        try:
            n.pattern = re.compile(n.pattern_src)
        except re.error:
            n.pattern = None
    n.format = raw.get("format") or ""
    n.minimum = raw.get("minimum")
    n.maximum = raw.get("maximum")
    n.exclusive_minimum = bool(raw.get("exclusiveMinimum"))
    n.exclusive_maximum = bool(raw.get("exclusiveMaximum"))
    n.multiple_of = raw.get("multipleOf")
    n.min_length = raw.get("minLength")
    n.max_length = raw.get("maxLength")
    n.min_items = raw.get("minItems")
    n.max_items = raw.get("maxItems")
    n.unique_items = bool(raw.get("uniqueItems"))
    n.min_properties = raw.get("minProperties")
    n.max_properties = raw.get("maxProperties")
    n.list_type = raw.get("x-kubernetes-list-type") or ""
    n.list_map_keys = tuple(raw.get("x-kubernetes-list-map-keys") or ())
    if "default" in raw:
        n.default = raw["default"]
    n.rules = list(raw.get("x-kubernetes-validations") or ())
    n.properties = {k: _compile(v) for k, v in (raw.get("properties") or {}).items() if isinstance(v, dict)}
    additional = raw.get("additionalProperties")
    if isinstance(additional, dict):
        n.additional = _compile(additional)
    elif isinstance(additional, bool):
        n.additional = additional
    items = raw.get("items")
    if isinstance(items, dict):
        n.items = _compile(items)
    n.all_of = [_compile(s) for s in raw.get("allOf") or () if isinstance(s, dict)]
    n.any_of = [_compile(s) for s in raw.get("anyOf") or () if isinstance(s, dict)]
    n.one_of = [_compile(s) for s in raw.get("oneOf") or () if isinstance(s, dict)]
    if isinstance(raw.get("not"), dict):
        n.not_ = _compile(raw["not"])
    children: list[Node] = [*n.properties.values()]
    if isinstance(n.additional, Node):
        children.append(n.additional)
    if n.items is not None:
        children.append(n.items)
    n.has_defaults = any(c.default is not MISSING or c.has_defaults for c in children)
    n.has_rules = bool(n.rules) or any(c.has_rules for c in children)
    return n


_cache: OrderedDict[int, tuple[dict[str, Any], Node]] = OrderedDict()
_lock = threading.Lock()


def compiled(schema: dict[str, Any]) -> Node:
    """The prepared tree for `schema`, built on first use."""
    key = id(schema)
    with _lock:
        hit = _cache.get(key)
        if hit is not None and hit[0] is schema:
            _cache.move_to_end(key)
            return hit[1]
    node = _compile(schema)
    with _lock:
        _cache[key] = (schema, node)
        if len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return node
