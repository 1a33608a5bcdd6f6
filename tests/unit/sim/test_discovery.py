"""Discovery documents, legacy and aggregated, as kubectl and client-go read them."""

from __future__ import annotations

from typing import Any

from conveyor.sim.discovery import (
    aggregated_discovery,
    api_group,
    api_group_list,
    api_resource_list,
    core_api_versions,
    discovery_content_type,
    negotiate_discovery,
)
from conveyor.sim.resources import Registry, ResourceType

KUBECTL_ACCEPT = (
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
)


def _widget(version: str = "v1", storage: bool = True, served: bool = True) -> ResourceType:
    crd_version = {
        "name": version,
        "served": served,
        "storage": storage,
        "subresources": {
            "status": {},
            "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"},
        },
    }
    return ResourceType(
        "example.com",
        version,
        "Widget",
        "widgets",
        "widget",
        True,
        ("wd",),
        ("all",),
        ("status", "scale"),
        crd_version=crd_version,
        crd_spec={"group": "example.com"},
        storage=storage,
        served=served,
    )


def _registry_with_widgets() -> Registry:
    registry = Registry()
    registry.set_custom(
        "example.com", "widgets", [_widget("v1", storage=True), _widget("v1beta1", storage=False)]
    )
    return registry


def _resource(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(r for r in doc["resources"] if r["name"] == name)


def test_kubectl_accept_header_negotiates_aggregated_v2() -> None:
    assert negotiate_discovery(KUBECTL_ACCEPT) == "v2"


def test_accept_naming_only_v2beta1_negotiates_v2beta1() -> None:
    header = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
    assert negotiate_discovery(header) == "v2beta1"


def test_plain_json_accept_negotiates_legacy_discovery() -> None:
    assert negotiate_discovery("application/json, */*") is None
    assert negotiate_discovery("") is None


def test_unknown_aggregated_version_falls_through_to_legacy() -> None:
    assert (
        negotiate_discovery(
            "application/json;g=apidiscovery.k8s.io;v=v9;as=APIGroupDiscoveryList,application/json"
        )
        is None
    )


def test_aggregated_content_type_names_group_version_and_kind() -> None:
    assert (
        discovery_content_type("v2") == "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    )
    assert discovery_content_type(None) == "application/json"


def test_core_api_versions_lists_only_v1() -> None:
    doc = core_api_versions()
    assert doc["kind"] == "APIVersions"
    assert doc["versions"] == ["v1"]


def test_group_list_prefers_ga_over_beta() -> None:
    groups = {g["name"]: g for g in api_group_list(_registry_with_widgets())["groups"]}
    widgets = groups["example.com"]
    assert widgets["preferredVersion"] == {"groupVersion": "example.com/v1", "version": "v1"}
    assert [v["version"] for v in widgets["versions"]] == ["v1", "v1beta1"]


def test_group_list_has_no_core_group() -> None:
    names = [g["name"] for g in api_group_list(Registry())["groups"]]
    assert "" not in names
    assert "apps" in names


def test_unknown_group_has_no_document() -> None:
    assert api_group(Registry(), "nope.example.com") is None
    assert api_resource_list(Registry(), "apps", "v9") is None


def test_api_group_document_is_kind_apigroup() -> None:
    doc = api_group(Registry(), "apps")
    assert doc is not None and doc["kind"] == "APIGroup" and doc["name"] == "apps"


def test_resource_list_lists_subresources_as_slash_names() -> None:
    doc = api_resource_list(Registry(), "", "v1")
    assert doc is not None
    names = [r["name"] for r in doc["resources"]]
    assert {"pods", "pods/status", "pods/log"} <= set(names)
    assert _resource(doc, "pods/log")["verbs"] == ["get"]
    assert _resource(doc, "pods")["shortNames"] == ["po"]
    assert _resource(doc, "pods")["categories"] == ["all"]


def test_scale_subresource_answers_autoscaling_scale() -> None:
    doc = api_resource_list(Registry(), "apps", "v1")
    assert doc is not None
    scale = _resource(doc, "deployments/scale")
    assert (scale["group"], scale["version"], scale["kind"]) == ("autoscaling", "v1", "Scale")


def test_cluster_scoped_resources_are_not_namespaced() -> None:
    doc = api_resource_list(Registry(), "", "v1")
    assert doc is not None
    assert _resource(doc, "namespaces")["namespaced"] is False


def test_unserved_versions_are_not_discoverable() -> None:
    registry = Registry()
    registry.set_custom("example.com", "widgets", [_widget("v1"), _widget("v2", storage=False, served=False)])
    assert api_resource_list(registry, "example.com", "v2") is None
    assert [v["version"] for v in api_group(registry, "example.com")["versions"]] == ["v1"]  # type: ignore[index]


def test_storage_version_hash_is_shared_by_all_versions() -> None:
    registry = _registry_with_widgets()
    v1 = api_resource_list(registry, "example.com", "v1")
    beta = api_resource_list(registry, "example.com", "v1beta1")
    assert v1 is not None and beta is not None
    assert _resource(v1, "widgets")["storageVersionHash"] == _resource(beta, "widgets")["storageVersionHash"]


def test_aggregated_core_document_is_the_unnamed_group() -> None:
    doc = aggregated_discovery(Registry(), core=True, accept_version="v2")
    assert doc["kind"] == "APIGroupDiscoveryList"
    assert doc["apiVersion"] == "apidiscovery.k8s.io/v2"
    assert len(doc["items"]) == 1
    assert "name" not in doc["items"][0]["metadata"]
    assert doc["items"][0]["versions"][0]["version"] == "v1"


def test_aggregated_apis_document_orders_preferred_version_first() -> None:
    doc = aggregated_discovery(_registry_with_widgets(), core=False, accept_version="v2")
    item = next(i for i in doc["items"] if i["metadata"].get("name") == "example.com")
    assert [v["version"] for v in item["versions"]] == ["v1", "v1beta1"]
    assert all(v["freshness"] == "Current" for v in item["versions"])


def test_aggregated_resource_carries_scope_kind_and_subresources() -> None:
    doc = aggregated_discovery(_registry_with_widgets(), core=False, accept_version="v2")
    item = next(i for i in doc["items"] if i["metadata"].get("name") == "example.com")
    widgets = item["versions"][0]["resources"][0]
    assert widgets["resource"] == "widgets"
    assert widgets["scope"] == "Namespaced"
    assert widgets["responseKind"] == {"group": "example.com", "version": "v1", "kind": "Widget"}
    assert widgets["singularResource"] == "widget"
    subs = {s["subresource"]: s for s in widgets["subresources"]}
    assert subs["scale"]["responseKind"] == {"group": "autoscaling", "version": "v1", "kind": "Scale"}
    assert subs["status"]["verbs"] == ["get", "patch", "update"]


def test_aggregated_v2beta1_differs_only_in_api_version() -> None:
    v2 = aggregated_discovery(Registry(), core=False, accept_version="v2")
    beta = aggregated_discovery(Registry(), core=False, accept_version="v2beta1")
    assert beta["apiVersion"] == "apidiscovery.k8s.io/v2beta1"
    assert beta["items"] == v2["items"]


def test_removing_a_crd_removes_its_group_from_discovery() -> None:
    registry = _registry_with_widgets()
    registry.remove_custom("example.com", "widgets")
    names = [g["name"] for g in api_group_list(registry)["groups"]]
    assert "example.com" not in names
