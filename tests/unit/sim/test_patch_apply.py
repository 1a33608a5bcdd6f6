"""Server-side apply and field ownership (managedFields) between managers."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from conveyor.sim.errors import StatusError
from conveyor.sim.patching import server_side_apply, track_update


def deployment(replicas: int = 2, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": labels or {"app": "web"}},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "app", "image": "app:1"}]}}},
    }


def entry(obj: dict[str, Any], manager: str) -> dict[str, Any]:
    return next(e for e in obj["metadata"]["managedFields"] if e["manager"] == manager)


def test_apply_creates_the_object_with_an_apply_entry() -> None:
    result = server_side_apply(None, deployment(), "kubectl", False, "apps", "Deployment")
    assert result["spec"]["replicas"] == 2
    e = entry(result, "kubectl")
    assert (e["operation"], e["apiVersion"], e["fieldsType"]) == ("Apply", "apps/v1", "FieldsV1")
    assert e["fieldsV1"]["f:spec"]["f:replicas"] == {}
    assert e["fieldsV1"]["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"app"}'] == {
        ".": {}, "f:image": {}, "f:name": {}}
    assert "f:name" not in e["fieldsV1"]["f:metadata"]


def test_reapply_removes_a_field_the_manager_dropped() -> None:
    live = server_side_apply(None, deployment(labels={"app": "web", "tier": "front"}), "helm", True,
                             "apps", "Deployment")
    result = server_side_apply(live, deployment(), "helm", True, "apps", "Deployment")
    assert result["metadata"]["labels"] == {"app": "web"}


def test_reapply_keeps_a_dropped_field_another_manager_owns() -> None:
    live = server_side_apply(None, deployment(labels={"app": "web", "tier": "front"}), "helm", False,
                             "apps", "Deployment")
    both = server_side_apply(live, {"apiVersion": "apps/v1", "kind": "Deployment",
                                    "metadata": {"name": "web", "labels": {"tier": "front"}}},
                             "kubectl", False, "apps", "Deployment")
    result = server_side_apply(both, deployment(), "helm", False, "apps", "Deployment")
    assert result["metadata"]["labels"] == {"app": "web", "tier": "front"}


def test_apply_of_a_field_another_manager_set_differently_conflicts() -> None:
    live = server_side_apply(None, deployment(replicas=2), "helm", False, "apps", "Deployment")
    with pytest.raises(StatusError) as e:
        server_side_apply(live, deployment(replicas=5), "kubectl", False, "apps", "Deployment")
    assert (e.value.code, e.value.reason) == (409, "Conflict")
    assert e.value.message == \
        'Apply failed with 1 conflict: conflict with "helm" using apps/v1: .spec.replicas'
    assert e.value.details is not None
    assert e.value.details["causes"] == [{"reason": "FieldManagerConflict",
                                          "message": 'conflict with "helm" using apps/v1',
                                          "field": ".spec.replicas"}]


def test_apply_of_the_same_value_shares_ownership_without_conflict() -> None:
    live = server_side_apply(None, deployment(replicas=2), "helm", False, "apps", "Deployment")
    result = server_side_apply(live, deployment(replicas=2), "kubectl", False, "apps", "Deployment")
    assert "f:replicas" in entry(result, "helm")["fieldsV1"]["f:spec"]
    assert "f:replicas" in entry(result, "kubectl")["fieldsV1"]["f:spec"]


def test_force_takes_ownership_from_the_other_manager() -> None:
    live = server_side_apply(None, deployment(replicas=2), "kubectl", False, "apps", "Deployment")
    result = server_side_apply(live, deployment(replicas=5), "helm", True, "apps", "Deployment")
    assert result["spec"]["replicas"] == 5
    assert "f:replicas" in entry(result, "helm")["fieldsV1"]["f:spec"]
    assert "f:replicas" not in entry(result, "kubectl")["fieldsV1"]["f:spec"]


def test_apply_merges_containers_by_name() -> None:
    live = server_side_apply(None, deployment(), "helm", False, "apps", "Deployment")
    sidecar = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
               "spec": {"template": {"spec": {"containers": [{"name": "proxy", "image": "proxy:1"}]}}}}
    result = server_side_apply(live, sidecar, "mesh", False, "apps", "Deployment")
    assert [c["name"] for c in result["spec"]["template"]["spec"]["containers"]] == ["app", "proxy"]


def test_update_then_apply_by_another_manager_conflicts() -> None:
    live = server_side_apply(None, deployment(replicas=2), "helm", False, "apps", "Deployment")
    scaled = copy.deepcopy(live)
    scaled["spec"]["replicas"] = 7
    scaled = track_update(live, scaled, "kubectl-scale", "Update")
    assert entry(scaled, "kubectl-scale")["fieldsV1"] == {"f:spec": {"f:replicas": {}}}
    assert "f:replicas" not in entry(scaled, "helm")["fieldsV1"]["f:spec"]
    with pytest.raises(StatusError) as e:
        server_side_apply(scaled, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
                                   "spec": {"replicas": 3}}, "kubectl", False, "apps", "Deployment")
    assert 'conflict with "kubectl-scale"' in e.value.message


def test_update_on_create_owns_every_field_it_set() -> None:
    created = track_update(None, deployment(), "kubectl-create", "Update")
    assert set(entry(created, "kubectl-create")["fieldsV1"]) == {"f:metadata", "f:spec"}


def test_update_that_changes_nothing_leaves_managed_fields_alone() -> None:
    live = server_side_apply(None, deployment(), "helm", False, "apps", "Deployment")
    same = copy.deepcopy(live)
    same["metadata"]["resourceVersion"] = "99"
    assert track_update(live, same, "kopf", "Update")["metadata"]["managedFields"] == \
        live["metadata"]["managedFields"]


def test_status_update_is_owned_under_the_status_subresource() -> None:
    cr = {"apiVersion": "conveyor.dev/v1", "kind": "Execution", "metadata": {"name": "e"},
          "spec": {"workflow": "install"}}
    live = track_update(None, cr, "conveyor", "Update")
    new = copy.deepcopy(live)
    new["status"] = {"phase": "running"}
    result = track_update(live, new, "conveyor", "Update", "status")
    status_entry = next(e for e in result["metadata"]["managedFields"] if e.get("subresource") == "status")
    assert status_entry["fieldsV1"] == {"f:status": {"f:phase": {}}}


def test_apply_on_a_custom_resource_treats_lists_as_atomic() -> None:
    cr = {"apiVersion": "conveyor.dev/v1", "kind": "Deployment", "metadata": {"name": "d"},
          "spec": {"inputs": {"a": 1}, "steps": ["x", "y"]}}
    live = server_side_apply(None, cr, "kubectl", False, "conveyor.dev", "Deployment")
    applied = copy.deepcopy(cr)
    applied["spec"] = {"steps": ["z"]}
    result = server_side_apply(live, applied, "kubectl", False, "conveyor.dev", "Deployment")
    assert result["spec"] == {"steps": ["z"]}


def test_several_conflicts_are_listed_per_manager() -> None:
    live = server_side_apply(None, deployment(replicas=2, labels={"app": "web"}), "helm", False,
                             "apps", "Deployment")
    with pytest.raises(StatusError) as e:
        server_side_apply(live, deployment(replicas=5, labels={"app": "api"}), "kubectl", False,
                          "apps", "Deployment")
    assert e.value.message == ('Apply failed with 2 conflicts: conflicts with "helm" using apps/v1:\n'
                               "- .metadata.labels.app\n- .spec.replicas")


def service(ports: list[dict[str, Any]]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "default"},
            "spec": {"selector": {"app": "web"}, "ports": ports}}


def test_reapply_matches_a_port_whose_defaulted_protocol_was_left_out() -> None:
    """The live object has `protocol: TCP` (defaulted at create); an apply that leaves the key out
    names the same list element, as kube defaults list-map keys before merging."""
    live = server_side_apply(None, service([{"port": 80, "targetPort": 8080}]), "helm", True, "", "Service")
    live["spec"]["ports"][0]["protocol"] = "TCP"
    result = server_side_apply(live, service([{"port": 80, "targetPort": 8080}]), "helm", True, "", "Service")
    assert result["spec"]["ports"] == [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]


def test_apply_distinguishes_ports_by_explicit_protocol() -> None:
    live = server_side_apply(None, service([{"port": 53, "protocol": "UDP"}]), "helm", True, "", "Service")
    result = server_side_apply(live, service([{"port": 53, "protocol": "UDP"}, {"port": 53}]), "helm", True,
                               "", "Service")
    assert [p.get("protocol") for p in result["spec"]["ports"]] == ["UDP", "TCP"]


def test_reapply_matches_a_container_port_whose_protocol_was_left_out() -> None:
    body = deployment()
    body["spec"]["template"]["spec"]["containers"][0]["ports"] = [{"containerPort": 80}]
    live = server_side_apply(None, body, "kubectl", False, "apps", "Deployment")
    live["spec"]["template"]["spec"]["containers"][0]["ports"][0]["protocol"] = "TCP"
    result = server_side_apply(live, copy.deepcopy(body), "kubectl", False, "apps", "Deployment")
    assert result["spec"]["template"]["spec"]["containers"][0]["ports"] == [
        {"containerPort": 80, "protocol": "TCP"}]
