"""Which proto field is which JSON field, per Go type: the data generated from the kubectl binary.

`k8s_1_35.json` is written by scripts/gen_k8s_protobuf_schema.py from the struct tags kubectl's Go
type descriptors carry; it is never edited by hand (a test regenerates it and compares). This module
only reads it: field rows per type, the (apiVersion, kind) → Go type index, and the parsed shapes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

DATA_FILE = "k8s_1_35.json"
SCALARS = frozenset({"string", "bool", "int32", "int64", "uint32", "uint64", "float32", "float64"})
# API groups whose package directory below k8s.io/api is not the first label of the group name.
PACKAGE_OF_GROUP = {"": "core", "internal.apiserver.k8s.io": "apiserverinternal"}


@dataclass(frozen=True)
class Shape:
    """A field's Go type as the decoder needs it.

    kind is one of: scalar (name is the Go kind), bytes, message (name is the Go type), pointer,
    list (an unnamed slice: one wire field per element), wrapped (a named slice: one message whose
    field 1 holds the elements), map (key is a scalar Shape; one entry message per pair).
    """

    kind: str
    name: str = ""
    elem: Shape | None = None
    key: Shape | None = None

    @property
    def inner(self) -> Shape:
        assert self.elem is not None, f"{self.kind} shape without an element"
        return self.elem


@dataclass(frozen=True)
class FieldSpec:
    number: int
    json_name: str
    omitempty: bool
    omitzero: bool
    inline: bool
    shape: Shape
    proto_name: str


@cache
def parse_shape(text: str) -> Shape:
    if text.startswith("*"):
        return Shape("pointer", elem=parse_shape(text[1:]))
    if text.startswith("@[]"):
        return Shape("wrapped", elem=parse_shape(text[3:]))
    if text.startswith("[]"):
        return Shape("list", elem=parse_shape(text[2:]))
    if text.startswith("map["):
        close = text.index("]")
        return Shape("map", key=parse_shape(text[4:close]), elem=parse_shape(text[close + 1:]))
    if text == "bytes":
        return Shape("bytes")
    if text in SCALARS:
        return Shape("scalar", text)
    return Shape("message", text)


class Schema:
    def __init__(self, data: dict[str, Any]) -> None:
        self._types: dict[str, list[list[Any]]] = data["types"]
        self._kinds: dict[str, dict[str, str]] = data["kinds"]
        self.special: dict[str, str] = data["special"]
        self._fields: dict[str, dict[int, FieldSpec]] = {}

    def has_type(self, go_type: str) -> bool:
        return go_type in self._types

    def fields(self, go_type: str) -> dict[int, FieldSpec]:
        """The proto-serialized fields of a struct, by field number."""
        if go_type not in self._fields:
            specs = {}
            for row in self._types[go_type]:
                number, json_name, options, shape = row[:4]
                opts = set(options.split(",")) if options else set()
                specs[number] = FieldSpec(number, json_name, "omitempty" in opts, "omitzero" in opts,
                                          "inline" in opts, parse_shape(shape),
                                          row[4] if len(row) > 4 else json_name)
            self._fields[go_type] = specs
        return self._fields[go_type]

    def number_of(self, go_type: str, proto_name: str) -> int:
        """The field number of a special type's field, found by its proto name (e.g. RawExtension.raw)."""
        for spec in self.fields(go_type).values():
            if spec.proto_name == proto_name:
                return spec.number
        raise KeyError(f"{go_type} has no proto field {proto_name!r}")

    def go_type_of(self, api_version: str, kind: str) -> str | None:
        """k8s.io/api/apps/v1.Deployment for ("apps/v1", "Deployment"): the package directory below
        k8s.io/api is the group's first DNS label (rbac.authorization.k8s.io → rbac), core for ""."""
        group, _, version = api_version.rpartition("/")
        package = PACKAGE_OF_GROUP.get(group, group.split(".")[0])
        found = self._kinds.get(f"{package}/{version}", {}).get(kind)
        # metav1's kinds (DeleteOptions in a typed DELETE) are registered in every group version.
        return found or self._kinds.get("meta/v1", {}).get(kind)


@cache
def load() -> Schema:
    text = resources.files(__package__).joinpath(DATA_FILE).read_text(encoding="utf-8")
    return Schema(json.loads(text))
