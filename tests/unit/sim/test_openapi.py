"""OpenAPI documents: what kubectl's apply, explain and validation need to find in them."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from conveyor.sim import openapi
from conveyor.sim.resources import Registry, ResourceType

WIDGET_SCHEMA = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "description": "Widget spec.",
            "properties": {
                "size": {"type": "integer"},
                "port": {
                    "x-kubernetes-int-or-string": True,
                    "anyOf": [{"type": "integer"}, {"type": "string"}],
                },
                "note": {"type": "string", "nullable": True},
            },
        }
    },
}


def _widget(schema: dict[str, Any] = WIDGET_SCHEMA) -> ResourceType:
    crd_version = {"name": "v1", "served": True, "storage": True, "schema": {"openAPIV3Schema": schema}}
    return ResourceType(
        "example.com",
        "v1",
        "Widget",
        "widgets",
        "widget",
        True,
        subresources=("status",),
        crd_version=crd_version,
        crd_spec={"group": "example.com"},
    )


@pytest.fixture
def registry() -> Registry:
    registry = Registry()
    registry.set_custom("example.com", "widgets", [_widget()])
    return registry


def _schemas(doc: dict[str, Any]) -> dict[str, Any]:
    return doc["components"]["schemas"]  # type: ignore[no-any-return]


def _walk(node: Any) -> Iterator[tuple[str, Any]]:
    """(keyword, value) of a schema and its subschemas; property names are not keywords."""
    if isinstance(node, list):
        for item in node:
            yield from _walk(item)
        return
    if not isinstance(node, dict):
        return
    for key, value in node.items():
        if key == "properties" and isinstance(value, dict):
            yield key, value
            for sub in value.values():
                yield from _walk(sub)
        elif key.startswith("x-") or key in ("enum", "default", "example", "required"):
            yield key, value
        else:
            yield key, value
            yield from _walk(value)


def _by_gvk(schemas: dict[str, Any], group: str, version: str, kind: str) -> dict[str, Any]:
    want = {"group": group, "version": version, "kind": kind}
    return next(s for s in schemas.values() if want in (s.get("x-kubernetes-group-version-kind") or []))


def _resolve(schemas: dict[str, Any], prop: dict[str, Any]) -> dict[str, Any]:
    ref = prop.get("$ref") or (prop.get("allOf") or [{}])[0].get("$ref")
    return schemas[ref.rsplit("/", 1)[-1]] if ref else prop  # type: ignore[no-any-return]


def _patch_op(doc: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(
        item["patch"]
        for item in doc["paths"].values()
        if "patch" in item and item["patch"]["x-kubernetes-group-version-kind"]["kind"] == kind
    )


def test_v3_index_lists_each_group_version_with_a_hash(registry: Registry) -> None:
    paths = openapi.openapi_v3_paths(registry)["paths"]
    assert paths["api/v1"]["serverRelativeURL"].startswith("/openapi/v3/api/v1?hash=")
    assert "apis/apps/v1" in paths and "apis/example.com/v1" in paths


def test_v3_hash_changes_only_for_the_changed_group_version(registry: Registry) -> None:
    before = openapi.openapi_v3_paths(registry)["paths"]
    schema = copy.deepcopy(WIDGET_SCHEMA)
    schema["properties"]["spec"]["properties"]["color"] = {"type": "string"}
    registry.set_custom("example.com", "widgets", [_widget(schema)])
    after = openapi.openapi_v3_paths(registry)["paths"]
    assert after["apis/example.com/v1"] != before["apis/example.com/v1"]
    assert after["apis/apps/v1"] == before["apis/apps/v1"]


def test_unknown_group_version_has_no_document(registry: Registry) -> None:
    assert openapi.openapi_v3_document(registry, "nope.example.com", "v1") is None


def test_documents_are_built_once_per_registry_state(registry: Registry) -> None:
    first = openapi.openapi_v3_document(registry, "apps", "v1")
    assert openapi.openapi_v3_document(registry, "apps", "v1") is first


def test_kind_schema_carries_its_group_version_kind(registry: Registry) -> None:
    doc = openapi.openapi_v3_document(registry, "apps", "v1")
    assert doc is not None
    deployment = _by_gvk(_schemas(doc), "apps", "v1", "Deployment")
    assert set(deployment["properties"]) >= {"apiVersion", "kind", "metadata", "spec", "status"}


@pytest.mark.parametrize(
    ("owner", "field", "merge_key"),
    [
        ("io.k8s.api.core.v1.PodSpec", "containers", "name"),
        ("io.k8s.api.core.v1.PodSpec", "volumes", "name"),
        ("io.k8s.api.core.v1.Container", "env", "name"),
        ("io.k8s.api.core.v1.Container", "ports", "containerPort"),
        ("io.k8s.api.core.v1.Container", "volumeMounts", "mountPath"),
        ("io.k8s.api.apps.v1.DeploymentStatus", "conditions", "type"),
    ],
)
def test_lists_carry_strategic_merge_patch_keys(
    registry: Registry, owner: str, field: str, merge_key: str
) -> None:
    doc = openapi.openapi_v3_document(registry, "apps", "v1")
    assert doc is not None
    prop = _schemas(doc)[owner]["properties"][field]
    assert prop["x-kubernetes-patch-merge-key"] == merge_key
    assert "merge" in prop["x-kubernetes-patch-strategy"]


def test_every_v3_reference_resolves_in_the_same_document(registry: Registry) -> None:
    for group, version in (("", "v1"), ("apps", "v1"), ("example.com", "v1")):
        doc = openapi.openapi_v3_document(registry, group, version)
        assert doc is not None
        refs = {v for k, v in _walk(doc) if k == "$ref"}
        assert refs, "expected references"
        for ref in refs:
            assert ref.startswith("#/components/schemas/")
            assert ref.removeprefix("#/components/schemas/") in _schemas(doc), ref


def test_v3_reference_with_description_is_wrapped_in_allof(registry: Registry) -> None:
    doc = openapi.openapi_v3_document(registry, "", "v1")
    assert doc is not None
    spec = _schemas(doc)["io.k8s.api.core.v1.Pod"]["properties"]["spec"]
    assert spec["allOf"] == [{"$ref": "#/components/schemas/io.k8s.api.core.v1.PodSpec"}]
    assert spec["description"]


def test_builtin_patch_accepts_strategic_merge_and_field_validation(registry: Registry) -> None:
    doc = openapi.openapi_v3_document(registry, "apps", "v1")
    assert doc is not None
    op = _patch_op(doc, "Deployment")
    assert "application/strategic-merge-patch+json" in op["requestBody"]["content"]
    assert {"name": "fieldValidation", "in": "query"}.items() <= next(
        p for p in op["parameters"] if p["name"] == "fieldValidation"
    ).items()
    assert op["x-kubernetes-group-version-kind"] == {"group": "apps", "version": "v1", "kind": "Deployment"}


def test_custom_resource_patch_offers_no_strategic_merge(registry: Registry) -> None:
    doc = openapi.openapi_v3_document(registry, "example.com", "v1")
    assert doc is not None
    content = _patch_op(doc, "Widget")["requestBody"]["content"]
    assert "application/strategic-merge-patch+json" not in content
    assert "application/merge-patch+json" in content


def test_custom_resource_schema_gets_type_meta_and_object_meta(registry: Registry) -> None:
    doc = openapi.openapi_v3_document(registry, "example.com", "v1")
    assert doc is not None
    schemas = _schemas(doc)
    widget = _by_gvk(schemas, "example.com", "v1", "Widget")
    assert widget["properties"]["spec"]["description"] == "Widget spec."
    assert (
        _resolve(schemas, widget["properties"]["metadata"])
        is schemas["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]
    )
    assert "com.example.v1.Widget" in schemas


def test_status_subresource_has_its_own_path(registry: Registry) -> None:
    doc = openapi.openapi_v3_document(registry, "", "v1")
    assert doc is not None
    assert "patch" in doc["paths"]["/api/v1/namespaces/{namespace}/pods/{name}/status"]


def test_v2_uses_only_swagger_2_schema_keywords(registry: Registry) -> None:
    doc = openapi.openapi_v2(registry)
    for name, schema in doc["definitions"].items():
        for key, _ in _walk(schema):
            assert key not in ("oneOf", "anyOf", "nullable", "not"), (name, key)


def test_v2_int_or_string_is_a_formatted_string(registry: Registry) -> None:
    doc = openapi.openapi_v2(registry)
    assert doc["definitions"]["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] == {
        "description": "IntOrString is a type that can hold an int32 or a string.",
        "type": "string",
        "format": "int-or-string",
    }


def test_every_v2_reference_resolves(registry: Registry) -> None:
    doc = openapi.openapi_v2(registry)
    for key, value in _walk(doc):
        if key == "$ref":
            assert value.removeprefix("#/definitions/") in doc["definitions"], value


def test_v2_only_defines_served_kinds_and_what_they_use(registry: Registry) -> None:
    definitions = openapi.openapi_v2(registry)["definitions"]
    assert "io.k8s.api.core.v1.Pod" in definitions
    assert not any(name.startswith("io.k8s.api.resource.") for name in definitions)


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("application/com.github.proto-openapi.spec.v2@v1.0+protobuf", True),
        ("application/com.github.proto-openapi.spec.v2.v1.0+protobuf", True),
        ("application/json", False),
    ],
)
def test_protobuf_v2_is_negotiated_from_accept(accept: str, expected: bool) -> None:
    assert openapi.wants_protobuf_v2(accept) is expected


def _fields(data: bytes) -> Iterator[tuple[int, Any]]:
    """Just enough of a protobuf reader to check the encoder's framing."""
    i = 0

    def varint() -> int:
        nonlocal i
        shift = value = 0
        while True:
            byte = data[i]
            i += 1
            value |= (byte & 0x7F) << shift
            shift += 7
            if not byte & 0x80:
                return value

    while i < len(data):
        key = varint()
        field, wire = key >> 3, key & 7
        if wire == 0:
            yield field, varint()
        elif wire == 1:
            yield field, data[i : i + 8]
            i += 8
        else:
            length = varint()
            yield field, data[i : i + length]
            i += length


def test_protobuf_v2_frames_the_document(registry: Registry) -> None:
    top = list(_fields(openapi.openapi_v2_protobuf(registry)))
    assert (1, b"2.0") in top  # Document.swagger
    definitions = next(v for f, v in top if f == 9)
    names = {dict(_fields(named))[1].decode() for _, named in _fields(definitions)}
    assert names == set(openapi.openapi_v2(registry)["definitions"])


def test_protobuf_v2_keeps_patch_extensions_as_yaml(registry: Registry) -> None:
    data = openapi.openapi_v2_protobuf(registry)
    assert b"x-kubernetes-patch-merge-key" in data
    assert b'"containerPort"' in data
