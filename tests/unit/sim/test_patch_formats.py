"""JSON merge patch, JSON patch and strategic merge patch, on realistic built-in objects."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from conveyor.sim.errors import StatusError
from conveyor.sim.patching import json_patch, merge_patch, strategic_merge_patch


def deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web", "tier": "front"},
                     "finalizers": ["a.example.com/keep"],
                     "ownerReferences": [{"apiVersion": "v1", "kind": "ConfigMap", "name": "o1",
                                          "uid": "u1"}]},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [
                    {"name": "app", "image": "app:1",
                     "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
                     "ports": [{"containerPort": 8080}]},
                    {"name": "sidecar", "image": "proxy:1"},
                ]},
            },
        },
    }


def containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    return obj["spec"]["template"]["spec"]["containers"]


def test_merge_patch_null_deletes_a_key_and_leaves_the_input_alone() -> None:
    original = deployment()
    result = merge_patch(original, {"metadata": {"labels": {"tier": None, "new": "x"}}})
    assert result["metadata"]["labels"] == {"app": "web", "new": "x"}
    assert original == deployment()


def test_merge_patch_replaces_lists_whole() -> None:
    result = merge_patch(deployment(), {"metadata": {"finalizers": ["b"]}})
    assert result["metadata"]["finalizers"] == ["b"]


def test_json_patch_applies_test_then_replace() -> None:
    result = json_patch(deployment(), [{"op": "test", "path": "/spec/replicas", "value": 2},
                                       {"op": "replace", "path": "/spec/replicas", "value": 5}])
    assert result["spec"]["replicas"] == 5


def test_json_patch_failed_test_is_422_invalid_and_changes_nothing() -> None:
    original = deployment()
    with pytest.raises(StatusError) as e:
        json_patch(original, [{"op": "replace", "path": "/spec/replicas", "value": 5},
                              {"op": "test", "path": "/spec/replicas", "value": 3}])
    assert (e.value.code, e.value.reason) == (422, "Invalid")
    assert e.value.message == "the server rejected our request due to an error in our request"
    assert "testing value /spec/replicas failed" in e.value.to_status()["details"]["causes"][0]["message"]
    assert original == deployment()


def test_json_patch_replace_of_a_missing_path_is_422() -> None:
    with pytest.raises(StatusError) as e:
        json_patch(deployment(), [{"op": "replace", "path": "/spec/paused", "value": True}])
    assert e.value.code == 422
    assert "doc is missing key: /spec/paused" in e.value.to_status()["details"]["causes"][0]["message"]


def test_json_patch_body_that_is_not_a_list_is_400() -> None:
    with pytest.raises(StatusError) as e:
        json_patch(deployment(), {"op": "add"})  # type: ignore[arg-type]
    assert (e.value.code, e.value.reason) == (400, "BadRequest")


def test_json_patch_move_and_copy() -> None:
    ops = [{"op": "copy", "from": "/metadata/labels/app", "path": "/metadata/labels/c"},
           {"op": "move", "from": "/metadata/labels/tier", "path": "/metadata/labels/t"}]
    result = json_patch(deployment(), ops)
    assert result["metadata"]["labels"] == {"app": "web", "c": "web", "t": "front"}


def test_smp_merges_containers_by_name() -> None:
    result = strategic_merge_patch(deployment(), {"spec": {"template": {"spec": {"containers": [
        {"name": "sidecar", "image": "proxy:2"}]}}}}, "apps", "Deployment")
    assert [(c["name"], c["image"]) for c in containers(result)] == [("app", "app:1"), ("sidecar", "proxy:2")]


def test_smp_merges_env_by_name() -> None:
    result = strategic_merge_patch(deployment(), {"spec": {"template": {"spec": {"containers": [
        {"name": "app", "env": [{"name": "B", "value": "20"}, {"name": "C", "value": "3"}]}]}}}},
        "apps", "Deployment")
    assert containers(result)[0]["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "20"},
                                           {"name": "C", "value": "3"}]


def test_smp_set_element_order_reorders_and_is_not_stored() -> None:
    patch = {"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "sidecar"}, {"name": "app"}],
        "containers": [{"name": "app", "image": "app:2"}]}}}}
    result = strategic_merge_patch(deployment(), patch, "apps", "Deployment")
    assert [c["name"] for c in containers(result)] == ["sidecar", "app"]
    assert "$setElementOrder/containers" not in result["spec"]["template"]["spec"]


def test_smp_patch_delete_removes_a_list_element() -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}}}
    result = strategic_merge_patch(deployment(), patch, "apps", "Deployment")
    assert [c["name"] for c in containers(result)] == ["app"]


def test_smp_patch_replace_on_a_map_replaces_it() -> None:
    patch = {"metadata": {"labels": {"$patch": "replace", "only": "this"}}}
    result = strategic_merge_patch(deployment(), patch, "apps", "Deployment")
    assert result["metadata"]["labels"] == {"only": "this"}


def test_smp_delete_from_primitive_list_removes_a_finalizer() -> None:
    patch = {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a.example.com/keep"]}}
    result = strategic_merge_patch(deployment(), patch, "apps", "Deployment")
    assert result["metadata"]["finalizers"] == []


def test_smp_finalizers_merge_as_a_set() -> None:
    patch = {"metadata": {"finalizers": ["b.example.com/too", "a.example.com/keep"]}}
    result = strategic_merge_patch(deployment(), patch, "apps", "Deployment")
    assert result["metadata"]["finalizers"] == ["a.example.com/keep", "b.example.com/too"]


def test_smp_owner_references_merge_by_uid() -> None:
    ref = {"apiVersion": "v1", "kind": "Secret", "name": "o2", "uid": "u2"}
    patch = {"metadata": {"ownerReferences": [ref]}}
    result = strategic_merge_patch(deployment(), patch, "apps", "Deployment")
    assert [r["uid"] for r in result["metadata"]["ownerReferences"]] == ["u1", "u2"]


def test_smp_service_ports_merge_by_port() -> None:
    svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
           "spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443, "targetPort": 8443}]}}
    patch = {"spec": {"ports": [{"port": 80, "targetPort": 9090}]}}
    result = strategic_merge_patch(svc, patch, "", "Service")
    assert result["spec"]["ports"] == [{"port": 80, "targetPort": 9090}, {"port": 443, "targetPort": 8443}]


def test_smp_untagged_lists_are_replaced() -> None:
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
           "spec": {"containers": [{"name": "c", "args": ["a", "b"]}], "tolerations": [{"key": "k1"}]}}
    patch = {"spec": {"tolerations": [{"key": "k2"}], "containers": [{"name": "c", "args": ["z"]}]}}
    result = strategic_merge_patch(pod, patch, "", "Pod")
    assert result["spec"]["tolerations"] == [{"key": "k2"}]
    assert result["spec"]["containers"] == [{"name": "c", "args": ["z"]}]


def test_smp_retain_keys_drops_the_other_strategy_fields() -> None:
    obj = deployment()
    obj["spec"]["strategy"] = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
    result = strategic_merge_patch(obj, patch, "apps", "Deployment")
    assert result["spec"]["strategy"] == {"type": "Recreate"}


def test_smp_element_without_its_merge_key_is_an_error() -> None:
    with pytest.raises(StatusError) as e:
        patch = {"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}}
        strategic_merge_patch(deployment(), patch, "apps", "Deployment")
    assert e.value.code == 500


def test_smp_on_a_custom_resource_merges_maps_and_replaces_lists() -> None:
    cr = {"apiVersion": "conveyor.dev/v1", "kind": "Execution", "metadata": {"name": "e"},
          "spec": {"params": {"a": 1}, "steps": ["x", "y"]}}
    result = strategic_merge_patch(copy.deepcopy(cr), {"spec": {"params": {"b": 2}, "steps": ["z"]}},
                                   "conveyor.dev", "Execution")
    assert result["spec"] == {"params": {"a": 1, "b": 2}, "steps": ["z"]}
