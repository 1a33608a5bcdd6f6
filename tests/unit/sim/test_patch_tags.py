"""The built-in patch tag table is derived from Kubernetes' published OpenAPI, and must not drift from it.

`conveyor.sim.patching.builtin_tags` is generated (run this file: `python tests/unit/sim/test_patch_tags.py`)
from the JSON schemas that the `kubernetes-validate` test dependency ships for Kubernetes 1.35, which carry
`x-kubernetes-patch-strategy`, `x-kubernetes-patch-merge-key`, `x-kubernetes-list-type`,
`x-kubernetes-list-map-keys` and `x-kubernetes-map-type`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

KUBE_VERSION = "v1.35.0"
# The API groups the sim serves or might serve, each at the version it stores.
GROUP_VERSIONS = {
    "": "v1", "apps": "v1", "batch": "v1", "policy": "v1", "rbac.authorization.k8s.io": "v1",
    "coordination.k8s.io": "v1", "networking.k8s.io": "v1", "admissionregistration.k8s.io": "v1",
    "apiextensions.k8s.io": "v1", "events.k8s.io": "v1", "autoscaling": "v2", "discovery.k8s.io": "v1",
    "scheduling.k8s.io": "v1", "storage.k8s.io": "v1",
}
# Definitions shared by many kinds are written once as fragments; a kind's table points at them.
FRAGMENTS = {
    "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta": "ObjectMeta",
    "io.k8s.api.core.v1.PodSpec": "PodSpec",
}
TABLE_FILE = Path(__file__).parents[3] / "operator/conveyor/sim/patching/builtin_tags.py"

Tag = tuple[str, str, str, str]


def _definitions() -> dict[str, Any]:
    kv = pytest.importorskip("kubernetes_validate")
    path = Path(kv.__file__).parent / "kubernetes-json-schema" / f"{KUBE_VERSION}-local" / "_definitions.json"
    return dict(json.loads(path.read_text())["$defs"])


def _ref(schema: dict[str, Any]) -> str | None:
    ref = schema.get("$ref")
    if ref is None:
        for alt in schema.get("allOf") or schema.get("anyOf") or schema.get("oneOf") or []:
            if "$ref" in alt:
                ref = alt["$ref"]
    return ref.rsplit("/", 1)[-1] if ref else None


def _tag(schema: dict[str, Any], target: dict[str, Any] | None) -> Tag | None:
    strategy = schema.get("x-kubernetes-patch-strategy", "")
    merge_key = schema.get("x-kubernetes-patch-merge-key", "")
    ssa = schema.get("x-kubernetes-list-type", "")
    keys = ",".join(schema.get("x-kubernetes-list-map-keys") or [])
    if ssa == "atomic":
        ssa = ""
    map_type = schema.get("x-kubernetes-map-type") or (target or {}).get("x-kubernetes-map-type")
    if map_type == "atomic":
        ssa = "atomic"
    if strategy or merge_key or ssa:
        return (strategy, merge_key, ssa, keys)
    return None


def _walk(defs: dict[str, Any], name: str, prefix: str, out: dict[str, Any], stack: tuple[str, ...],
          top: bool) -> None:
    if name in FRAGMENTS and not top:
        out[prefix] = FRAGMENTS[name]
        return
    if name in stack:
        return
    for field, schema in sorted((defs[name].get("properties") or {}).items()):
        path = f"{prefix}.{field}" if prefix else field
        _field(defs, schema, path, out, (*stack, name))


def _field(defs: dict[str, Any], schema: dict[str, Any], path: str, out: dict[str, Any],
           stack: tuple[str, ...]) -> None:
    ref = _ref(schema)
    target = defs.get(ref) if ref else None
    tag = _tag(schema, target)
    if tag:
        out[path] = tag
    if ref:
        _walk(defs, ref, path, out, stack, top=False)
    for sub, suffix in ((schema.get("items"), ""), (schema.get("additionalProperties"), ".*")):
        if isinstance(sub, dict):
            sub_ref = _ref(sub)
            sub_tag = _tag(sub, defs.get(sub_ref) if sub_ref else None)
            if suffix and sub_tag:
                out[path + suffix] = sub_tag
            if sub_ref:
                _walk(defs, sub_ref, path + suffix, out, stack, top=False)


Fragments = dict[str, dict[str, Any]]
KindTables = dict[tuple[str, str], dict[str, Any]]


def build_table(defs: dict[str, Any]) -> tuple[Fragments, KindTables]:
    fragments: dict[str, dict[str, Any]] = {}
    for name, short in FRAGMENTS.items():
        fragments[short] = {}
        _walk(defs, name, "", fragments[short], (), top=True)
    kinds: dict[tuple[str, str], dict[str, Any]] = {}
    for name, schema in defs.items():
        for gvk in schema.get("x-kubernetes-group-version-kind") or []:
            group, version, kind = gvk["group"], gvk["version"], gvk["kind"]
            if GROUP_VERSIONS.get(group) != version or kind.endswith("List"):
                continue
            table: dict[str, Any] = {}
            _walk(defs, name, "", table, (), top=True)
            kinds[(group, kind)] = table
    return fragments, dict(sorted(kinds.items()))


def _render_table(table: dict[str, Any], indent: str) -> str:
    lines = [f"{indent}{path!r}: {value!r}," for path, value in sorted(table.items())]
    return "{\n" + "\n".join(lines) + "\n" + indent[:-4] + "}"


def render(fragments: dict[str, dict[str, Any]], kinds: dict[tuple[str, str], dict[str, Any]]) -> str:
    frag = "".join(f"    {name!r}: {_render_table(t, ' ' * 8)},\n" for name, t in sorted(fragments.items()))
    kind = "".join(f"    {key!r}: {_render_table(t, ' ' * 8)},\n" for key, t in kinds.items() if t)
    return (
        "# ruff: noqa: E501\n"
        '"""Patch metadata of built-in kinds (Kubernetes 1.35 OpenAPI), by (group, kind) and dotted path.\n\n'
        "GENERATED by tests/unit/sim/test_patch_tags.py from kubernetes-validate's schemas; do not edit.\n"
        "A path names fields; list items add nothing to it, map values add `*`. A value is either\n"
        "(patchStrategy, patchMergeKey, structure, listMapKeys) where structure is the SSA shape\n"
        '("map" / "set" for associative lists, "atomic" for atomic maps, "" otherwise), or the name of a\n'
        "fragment in FRAGMENTS that the subtree at that path follows. Paths without an entry are\n"
        "untagged: their lists are atomic and their maps granular.\n"
        '"""\n\n'
        "from __future__ import annotations\n\n"
        "Tag = tuple[str, str, str, str]\n\n"
        f"FRAGMENTS: dict[str, dict[str, Tag | str]] = {{\n{frag}}}\n\n"
        f"KINDS: dict[tuple[str, str], dict[str, Tag | str]] = {{\n{kind}}}\n"
    )


def test_builtin_tag_table_matches_kubernetes_openapi() -> None:
    expected = render(*build_table(_definitions()))
    assert TABLE_FILE.read_text() == expected, "stale: run python tests/unit/sim/test_patch_tags.py"


if __name__ == "__main__":
    TABLE_FILE.write_text(render(*build_table(_definitions())))
    print(f"wrote {TABLE_FILE}")
