"""Validation of a custom resource against its structural schema, worded as kube-apiserver words it.

Three passes, in kube's order: OpenAPI keywords (kube-openapi, converted to field errors by
apiextensions-apiserver), then x-kubernetes-list-type uniqueness, then CEL rules. Messages carry
kube-openapi's own text (`spec.replicas in body must be of type integer: "string"`) after the
field error prefix, because that is what `kubectl` prints.
"""

from __future__ import annotations

import json
import math
from typing import Any

from conveyor.sim.schema import cel, formats
from conveyor.sim.schema import field_errors as fe
from conveyor.sim.schema.compiled import Node, compiled

Causes = list[dict[str, str]]


def type_name(value: Any) -> str:
    """The JSON type kube-openapi names a value by in type errors."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _type_ok(node: Node, value: Any) -> bool:
    if node.int_or_string:
        return _is_integer(value) or isinstance(value, str)
    t = node.type
    if not t:
        return True
    if t == "object":
        return isinstance(value, dict)
    if t == "array":
        return isinstance(value, list)
    if t == "string":
        return isinstance(value, str)
    if t == "integer":
        return _is_integer(value)
    if t == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if t == "boolean":
        return isinstance(value, bool)
    return True


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    return isinstance(value, float) and math.isfinite(value) and value.is_integer()


class _Run:
    """One validation: the three kinds of causes are kept apart so they come out in kube's order."""

    __slots__ = ("cel", "list_types", "openapi")

    def __init__(self) -> None:
        self.openapi: Causes = []
        self.list_types: Causes = []
        self.cel: Causes = []

    def node(self, node: Node, value: Any, path: str, old: Any) -> None:
        if value is None and node.nullable:
            return
        if not _type_ok(node, value):
            expected = "integer,string" if node.int_or_string else node.type
            actual = type_name(value)
            self.openapi.append(fe.type_invalid(
                path, actual, f'{path} in body must be of type {expected}: "{actual}"'))
            return
        if node.all_of or node.any_of or node.one_of or node.not_ is not None:
            self._composition(node, value, path)
        if isinstance(value, str):
            self._string(node, value, path)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            self._number(node, value, path)
        if node.enum is not None and not _in_enum(value, node.enum):
            self._enum(node, value, path)
        if isinstance(value, dict):
            self._object(node, value, path, old)
        elif isinstance(value, list):
            self._array(node, value, path, old)
        if node.rules:
            self.cel.extend(cel.check(node.rules, value, old, path, node.type_label))

    def _enum(self, node: Node, value: Any, path: str) -> None:
        assert node.enum is not None
        allowed = [e if isinstance(e, str) else fe.go_json(e) for e in node.enum]
        self.openapi.append(fe.not_supported(path, value, allowed))

    def _composition(self, node: Node, value: Any, path: str) -> None:
        # Value validations in anyOf/allOf/oneOf/not are checked without types, as structural
        # schemas allow; their summaries are not field errors and render at the root, like kube's.
        def errors_of(sub: Node) -> Causes:
            run = _Run()
            run.node(sub, value, path, fe.OMIT)
            return run.openapi
        if node.all_of:
            failed = [c for sub in node.all_of for c in errors_of(sub)]
            if failed:
                self.openapi.extend(failed)
                self.openapi.append(fe.invalid("<nil>", "",
                                               f'"{path}" must validate all the schemas (allOf)'))
        if node.any_of:
            results = [errors_of(sub) for sub in node.any_of]
            if all(results):
                self.openapi.append(fe.invalid("<nil>", "", f'"{path}" must validate at least one schema '
                                                            "(anyOf)"))
                self.openapi.extend(results[0])
        if node.one_of:
            passing = sum(1 for sub in node.one_of if not errors_of(sub))
            if passing != 1:
                self.openapi.append(fe.invalid("<nil>", "", f'"{path}" must validate one and only one schema '
                                                            "(oneOf)"))
        if node.not_ is not None and not errors_of(node.not_):
            self.openapi.append(fe.invalid("<nil>", "", f'"{path}" must not validate the schema (not)'))

    def _string(self, node: Node, value: str, path: str) -> None:
        if node.max_length is not None and len(value) > node.max_length:
            self.openapi.append(fe.too_long(path, node.max_length))
        if node.min_length is not None and len(value) < node.min_length:
            self.openapi.append(fe.invalid(path, value, f"{path} in body should be at least "
                                                        f"{node.min_length} chars long"))
        if node.pattern is not None and not node.pattern.search(value):
            self.openapi.append(fe.invalid(path, value, f"{path} in body should match '{node.pattern_src}'"))
        if node.format and not formats.conforms(node.format, value):
            self.openapi.append(fe.type_invalid(path, value, f'{path} in body must be of type {node.format}: '
                                                             f'{fe.go_quote(value)}'))

    def _number(self, node: Node, value: float, path: str) -> None:
        if node.maximum is not None:
            over = value >= node.maximum if node.exclusive_maximum else value > node.maximum
            if over:
                op = "less than" if node.exclusive_maximum else "less than or equal to"
                self.openapi.append(fe.invalid(path, value, f"{path} in body should be {op} "
                                                            f"{fe.go_float(float(node.maximum))}"))
        if node.minimum is not None:
            under = value <= node.minimum if node.exclusive_minimum else value < node.minimum
            if under:
                op = "greater than" if node.exclusive_minimum else "greater than or equal to"
                self.openapi.append(fe.invalid(path, value, f"{path} in body should be {op} "
                                                            f"{fe.go_float(float(node.minimum))}"))
        if node.multiple_of:
            quotient = value / node.multiple_of
            if not math.isclose(quotient, round(quotient), rel_tol=0, abs_tol=1e-9):
                self.openapi.append(fe.invalid(path, value, f"{path} in body should be a multiple of "
                                                            f"{fe.go_number(node.multiple_of)}"))

    def _object(self, node: Node, value: dict[str, Any], path: str, old: Any) -> None:
        for name in node.required:
            if name not in value:
                self.openapi.append(fe.required(fe.child(path, name)))
        if node.min_properties is not None and len(value) < node.min_properties:
            self.openapi.append(fe.invalid(path, len(value), f"{path} in body should have at least "
                                                             f"{node.min_properties} properties"))
        if node.max_properties is not None and len(value) > node.max_properties:
            self.openapi.append(fe.too_many(path, len(value), node.max_properties))
        old_map = old if isinstance(old, dict) else None
        props = node.properties
        additional = node.additional
        for key, child in value.items():
            sub = props.get(key)
            if sub is None:
                if isinstance(additional, Node):
                    sub = additional
                elif additional is False:
                    self.openapi.append(fe.invalid(path, key,
                                                   f"{path}.{key} in body is a forbidden property"))
                    continue
                else:
                    continue
            child_old = old_map.get(key, fe.OMIT) if old_map is not None else fe.OMIT
            self.node(sub, child, fe.child(path, key), child_old)

    def _array(self, node: Node, value: list[Any], path: str, old: Any) -> None:
        if node.items is not None:
            item_node = node.items
            for i, item in enumerate(value):
                # oldSelf inside list items is correlated only for map lists; others see no old value.
                self.node(item_node, item, fe.index(path, i), fe.OMIT)
        if node.min_items is not None and len(value) < node.min_items:
            self.openapi.append(fe.invalid(path, len(value), f"{path} in body should have at least "
                                                             f"{node.min_items} items"))
        if node.max_items is not None and len(value) > node.max_items:
            self.openapi.append(fe.too_many(path, len(value), node.max_items))
        if node.unique_items and len({_canonical(v) for v in value}) != len(value):
            self.openapi.append(fe.invalid(path, "", f"{path} in body shouldn't contain duplicates"))
        if node.list_type == "set":
            seen: set[str] = set()
            for i, item in enumerate(value):
                token = _canonical(item)
                if token in seen:
                    self.list_types.append(fe.duplicate(fe.index(path, i), item))
                seen.add(token)
        elif node.list_type == "map" and node.list_map_keys:
            seen_keys: set[str] = set()
            for i, item in enumerate(value):
                if not isinstance(item, dict):
                    continue
                key_obj = {k: item.get(k) for k in node.list_map_keys if k in item}
                token = _canonical(key_obj)
                if token in seen_keys:
                    self.list_types.append(fe.duplicate(fe.index(path, i), key_obj))
                seen_keys.add(token)


def _in_enum(value: Any, enum: list[Any]) -> bool:
    """Membership with JSON's types: True is not 1 and 1 is not True."""
    return any(e == value and isinstance(e, bool) == isinstance(value, bool) for e in enum)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def validate(obj: dict[str, Any], schema: dict[str, Any], old: dict[str, Any] | None = None) -> Causes:
    """Every cause `obj` breaks in `schema` (the openAPIV3Schema); `old` enables transition rules."""
    run = _Run()
    run.node(compiled(schema), obj, "", fe.OMIT if old is None else old)
    return run.openapi + run.list_types + run.cel
