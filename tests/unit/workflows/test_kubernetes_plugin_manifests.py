"""`kubernetes` plugin: manifest input forms and the namespace rule (pure, no cluster)."""

from __future__ import annotations

import pytest

from conveyor.plugins.kube.manifests import (
    ManifestError,
    NamespacePolicy,
    manifests_from_config_map,
    parse_manifests,
)

CONFIG_MAP = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}
SERVICE = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "b"}}
MULTI_DOC = """
apiVersion: v1
kind: ConfigMap
metadata: {name: a}
---
---
apiVersion: v1
kind: Service
metadata: {name: b}
"""


def names(objects: list[dict[str, object]]) -> list[str]:
    return [obj["metadata"]["name"] for obj in objects]  # type: ignore[index]


def test_yaml_text_with_several_documents_gives_every_object_in_order() -> None:
    assert names(parse_manifests(MULTI_DOC)) == ["a", "b"]


def test_a_single_object_and_a_list_of_objects_are_accepted() -> None:
    assert names(parse_manifests(CONFIG_MAP)) == ["a"]
    assert names(parse_manifests([CONFIG_MAP, SERVICE])) == ["a", "b"]


def test_a_kind_list_is_expanded() -> None:
    listed = {"apiVersion": "v1", "kind": "List", "items": [CONFIG_MAP, SERVICE]}
    assert names(parse_manifests(listed)) == ["a", "b"]


def test_parsing_copies_so_the_callers_objects_are_never_changed() -> None:
    parsed = parse_manifests(CONFIG_MAP)
    parsed[0]["metadata"]["namespace"] = "x"
    assert "namespace" not in CONFIG_MAP["metadata"]


def test_a_manifest_without_a_name_is_refused_naming_it() -> None:
    with pytest.raises(ManifestError, match=r"manifest #2 \(Service\) has no metadata.name"):
        parse_manifests([CONFIG_MAP, {"apiVersion": "v1", "kind": "Service", "metadata": {}}])


def test_generate_name_is_refused_because_apply_must_be_repeatable() -> None:
    with pytest.raises(ManifestError, match="generateName"):
        parse_manifests({"apiVersion": "v1", "kind": "Pod", "metadata": {"generateName": "p-"}})


def test_invalid_yaml_is_refused() -> None:
    with pytest.raises(ManifestError, match="not valid YAML"):
        parse_manifests("kind: [unclosed")


def test_a_config_map_key_gives_its_manifests() -> None:
    config_map = {"metadata": {"name": "m"}, "data": {"app.yaml": MULTI_DOC, "notes.txt": "x"}}
    assert names(manifests_from_config_map(config_map, "app.yaml")) == ["a", "b"]


def test_without_a_key_every_manifest_key_is_read_in_name_order() -> None:
    config_map = {
        "metadata": {"name": "m"},
        "data": {
            "2.yaml": "apiVersion: v1\nkind: Service\nmetadata: {name: b}\n",
            "1.yml": "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
            "README": "not a manifest",
        },
    }
    assert names(manifests_from_config_map(config_map, None)) == ["a", "b"]


def test_a_missing_config_map_key_is_named_with_the_keys_present() -> None:
    with pytest.raises(ManifestError, match=r"no key 'app.yaml' \(keys: other.yaml\)"):
        manifests_from_config_map({"metadata": {"name": "m"}, "data": {"other.yaml": ""}}, "app.yaml")


DEPLOYMENT_POLICY = NamespacePolicy(allowed="shop", default="shop")
SYSTEM_POLICY = NamespacePolicy(allowed=None, default="conveyor-system")


def in_namespace(namespace: str | None) -> dict[str, object]:
    metadata: dict[str, object] = {"name": "a"}
    if namespace is not None:
        metadata["namespace"] = namespace
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata}


def test_namespaced_objects_go_to_the_deployments_namespace_by_default() -> None:
    assert DEPLOYMENT_POLICY.namespace_of(in_namespace(None), namespaced=True, explicit=False) == "shop"


def test_a_manifest_naming_the_deployments_namespace_is_accepted() -> None:
    assert DEPLOYMENT_POLICY.namespace_of(in_namespace("shop"), namespaced=True, explicit=False) == "shop"


def test_a_manifest_naming_another_namespace_is_refused_for_a_deployment() -> None:
    with pytest.raises(ManifestError, match="names namespace 'bank': refused"):
        DEPLOYMENT_POLICY.namespace_of(in_namespace("bank"), namespaced=True, explicit=False)


def test_a_deployment_may_not_target_another_namespace() -> None:
    with pytest.raises(ManifestError, match="namespace 'bank' refused"):
        DEPLOYMENT_POLICY.target("bank")


def test_cluster_scoped_objects_carry_no_namespace() -> None:
    assert DEPLOYMENT_POLICY.namespace_of(in_namespace("bank"), namespaced=False, explicit=False) is None


def test_a_system_wide_execution_uses_the_manifests_namespace() -> None:
    assert SYSTEM_POLICY.namespace_of(in_namespace("bank"), namespaced=True, explicit=False) == "bank"


def test_a_system_wide_execution_may_target_any_namespace() -> None:
    assert (
        SYSTEM_POLICY.target("bank").namespace_of(in_namespace(None), namespaced=True, explicit=True)
        == "bank"
    )


def test_an_explicit_target_refuses_a_manifest_naming_another_namespace() -> None:
    with pytest.raises(ManifestError, match="target namespace is 'bank'"):
        SYSTEM_POLICY.target("bank").namespace_of(in_namespace("shop"), namespaced=True, explicit=True)
