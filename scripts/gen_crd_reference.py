#!/usr/bin/env python3
"""Write docs/crd-reference.md from the CRDs that `conveyor.api.crds.generate_crds()` produces.

The models are the one source of a field's type, default, description and validation; the CRDs are
generated from them, and this page from the CRDs, so the reference can never say something the API
server does not enforce. `tests/unit/test_docs.py` fails when the page is stale.

Usage: scripts/gen_crd_reference.py [--check] [OUT]   (default OUT: docs/crd-reference.md)
  --check: write nothing; exit 1 if OUT differs from what would be written.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from conveyor.api.crds import generate_crds

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "docs" / "crd-reference.md"
COMMAND = "python scripts/gen_crd_reference.py"

Schema = Mapping[str, Any]

_VALIDATION_KEYWORDS = (
    ("minLength", "min length {}"),
    ("maxLength", "max length {}"),
    ("minItems", "min items {}"),
    ("maxItems", "max items {}"),
    ("minProperties", "min properties {}"),
    ("maxProperties", "max properties {}"),
)


def _cell(text: str) -> str:
    """Markdown table cells cannot hold '|' or line breaks."""
    return " ".join(text.split()).replace("|", "\\|")


def _code(value: Any) -> str:
    return "`" + json.dumps(value, separators=(", ", ": ")) + "`"


def type_of(node: Schema) -> str:
    """A short type expression: string, integer, []string, map[string]T, object, any."""
    if node.get("x-kubernetes-int-or-string"):
        kind = "int-or-string"
    elif "type" not in node:
        kind = "any"
    elif node["type"] == "array":
        kind = "[]" + type_of(node.get("items", {}))
    elif node["type"] == "object" and isinstance(node.get("additionalProperties"), Mapping):
        kind = "map[string]" + type_of(node["additionalProperties"])
    elif node["type"] == "object" and node.get("x-kubernetes-preserve-unknown-fields"):
        kind = "object (free-form)" if not node.get("properties") else "object (keeps unknown fields)"
    else:
        kind = str(node["type"])
        if node.get("format"):
            kind += f" ({node['format']})"
    return kind


def validation_of(node: Schema) -> str:
    """Every constraint the API server checks on this node itself, in words."""
    parts: list[str] = []
    if "enum" in node:
        parts.append("one of " + ", ".join(_code(value) for value in node["enum"]))
    if "pattern" in node:
        parts.append(f"pattern `{node['pattern']}`")
    if "minimum" in node:
        parts.append(("> " if node.get("exclusiveMinimum") else ">= ") + str(node["minimum"]))
    if "maximum" in node:
        parts.append(("< " if node.get("exclusiveMaximum") else "<= ") + str(node["maximum"]))
    for keyword, words in _VALIDATION_KEYWORDS:
        if keyword in node:
            parts.append(words.format(node[keyword]))
    if node.get("x-kubernetes-list-type") == "map":
        keys = ", ".join(node.get("x-kubernetes-list-map-keys", []))
        parts.append(f"list map keyed by {keys}")
    elif "x-kubernetes-list-type" in node:
        parts.append(f"list type {node['x-kubernetes-list-type']}")
    for rule in node.get("x-kubernetes-validations", []):
        parts.append(f"CEL rule `{rule['rule']}` (message: {rule['message']})")
    return "; ".join(parts)


def fields(node: Schema, path: str, required: bool) -> Iterator[tuple[str, Schema, bool]]:
    """(path, node, required) for `node` and every field below it, depth first, in schema order."""
    yield path, node, required
    children = node.get("properties")
    if node.get("type") == "array":
        items = node.get("items", {})
        if items.get("properties"):
            yield from _children(items, path + "[]")
        return
    if isinstance(node.get("additionalProperties"), Mapping):
        values = node["additionalProperties"]
        if values.get("properties"):
            yield from _children(values, path + ".<name>")
        return
    if children:
        yield from _children(node, path)


def _children(node: Schema, path: str) -> Iterator[tuple[str, Schema, bool]]:
    required = set(node.get("required", []))
    for name, child in node.get("properties", {}).items():
        yield from fields(child, f"{path}.{name}", name in required)


def _row(path: str, node: Schema, required: bool) -> str:
    kind = type_of(node) + (", nullable" if node.get("nullable") else "")
    default = _code(node["default"]) if "default" in node else ""
    checks = validation_of(node)
    if required:
        checks = "required" + ("; " + checks if checks else "")
    description = node.get("description", "")
    return f"| `{path}` | {_cell(kind)} | {_cell(default)} | {_cell(description)} | {_cell(checks)} |"


def _resource_section(crd: Mapping[str, Any]) -> list[str]:
    spec = crd["spec"]
    version = spec["versions"][0]
    schema = version["schema"]["openAPIV3Schema"]
    names = spec["names"]
    lines = [
        f"## {names['kind']}",
        "",
        _cell(schema.get("description", "")),
        "",
        f"- API version: `{spec['group']}/{version['name']}`, scope {spec['scope']}",
        f"- names: plural `{names['plural']}`, singular `{names['singular']}`, short names "
        + ", ".join(f"`{short}`" for short in names.get("shortNames", []))
        + ", categories "
        + ", ".join(f"`{category}`" for category in names.get("categories", [])),
        f"- CRD: `{crd['metadata']['name']}`; subresources: "
        + ", ".join(sorted(version.get("subresources", {}))),
        "",
        "`kubectl get` columns:",
        "",
        "| Column | JSONPath | Type | Description |",
        "| --- | --- | --- | --- |",
    ]
    for column in version.get("additionalPrinterColumns", []):
        shown = " (wide only)" if column.get("priority", 0) > 0 else ""
        lines.append(
            f"| {column['name']} | `{column['jsonPath']}` | {column['type']} | "
            f"{_cell(column.get('description', ''))}{shown} |"
        )
    for part in ("spec", "status"):
        node = schema["properties"][part]
        lines += [
            "",
            f"### {names['kind']} `.{part}`",
            "",
            "| Field | Type | Default | Description | Validation |",
            "| --- | --- | --- | --- | --- |",
        ]
        required = part in schema["required"]
        lines += [_row(path, child, req) for path, child, req in fields(node, part, required)]
    return lines


def render() -> str:
    """The whole page; deterministic (the same models give the same bytes)."""
    lines = [
        "<!-- Generated by `" + COMMAND + "` from conveyor.api.crds.generate_crds(). Do not edit. -->",
        "# CRD reference",
        "",
        "Every field of the two custom resources, as the generated CRDs in `crds/` declare them. Types "
        "are the OpenAPI types the API server checks; `nullable` fields may be left out or set to "
        "null; a default is filled in by the API server when the field is left out. Paths use "
        "`[]` for the items of a list and `<name>` for the values of a map.",
        "",
        "Source: the pydantic models in `operator/conveyor/api/models.py`. Regenerate with "
        f"`{COMMAND}` after changing them (and `make crds` for `crds/`).",
    ]
    for crd in generate_crds():
        lines += ["", *_resource_section(crd)]
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    rest = [arg for arg in argv if arg != "--check"]
    output = Path(rest[0]) if rest else DEFAULT_OUTPUT
    text = render()
    if check:
        current = output.read_text() if output.exists() else ""
        if current != text:
            print(f"{output} is stale; run {COMMAND}", file=sys.stderr)
            return 1
        return 0
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
