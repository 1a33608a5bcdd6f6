"""Deletion: finalizers, propagation policies, owner-reference garbage collection, namespaces."""

from __future__ import annotations

import pytest
from kubernetes.client.rest import ApiException
from kubetest import status_of, wait_for


def _exists(core, namespace, name):
    try:
        return core.read_namespaced_config_map(name, namespace)
    except ApiException as err:
        if err.status == 404:
            return None
        raise


def _owned(owner, name):
    return {
        "metadata": {
            "name": name,
            "ownerReferences": [
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMap",
                    "name": owner.metadata.name,
                    "uid": owner.metadata.uid,
                }
            ],
        }
    }


def test_delete_with_finalizer_sets_deletion_timestamp_and_keeps_object(kubectl, core, namespace):
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "f", "finalizers": ["example.com/x"]}})
    kubectl("delete", "configmap", "f", "-n", namespace, "--wait=false")
    obj = core.read_namespaced_config_map("f", namespace)
    assert obj.metadata.deletion_timestamp is not None
    assert obj.metadata.deletion_grace_period_seconds == 0


def test_removing_last_finalizer_deletes_the_object(kubectl, core, namespace):
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "f", "finalizers": ["example.com/x"]}})
    kubectl("delete", "configmap", "f", "-n", namespace, "--wait=false")
    kubectl(
        "patch", "configmap", "f", "-n", namespace, "--type=merge", "-p", '{"metadata":{"finalizers":null}}'
    )
    kubectl("wait", "--for=delete", "configmap/f", "-n", namespace, "--timeout=10s")


def test_finalizers_cannot_be_added_while_deleting(core, namespace):
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "f", "finalizers": ["example.com/x"]}})
    core.delete_namespaced_config_map("f", namespace)
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_config_map(
            "f", namespace, {"metadata": {"finalizers": ["example.com/x", "y/z"]}}
        )
    assert err.value.status == 422


def test_background_deletion_collects_dependents(core, namespace):
    owner = core.create_namespaced_config_map(namespace, {"metadata": {"name": "owner"}})
    core.create_namespaced_config_map(namespace, _owned(owner, "dep"))
    core.delete_namespaced_config_map("owner", namespace, propagation_policy="Background")
    wait_for(lambda: _exists(core, namespace, "dep") is None, what="dependent to be collected")


def test_dependent_with_another_live_owner_only_loses_the_reference(core, namespace):
    a = core.create_namespaced_config_map(namespace, {"metadata": {"name": "a"}})
    b = core.create_namespaced_config_map(namespace, {"metadata": {"name": "b"}})
    dep = _owned(a, "dep")
    dep["metadata"]["ownerReferences"].append(
        {"apiVersion": "v1", "kind": "ConfigMap", "name": "b", "uid": b.metadata.uid}
    )
    core.create_namespaced_config_map(namespace, dep)
    core.delete_namespaced_config_map("a", namespace)
    wait_for(
        lambda: len(_exists(core, namespace, "dep").metadata.owner_references) == 1,
        what="dangling reference removal",
    )


def test_foreground_deletion_waits_for_dependents(core, namespace):
    owner = core.create_namespaced_config_map(namespace, {"metadata": {"name": "owner"}})
    blocked = _owned(owner, "dep")
    blocked["metadata"]["ownerReferences"][0]["blockOwnerDeletion"] = True
    blocked["metadata"]["finalizers"] = ["example.com/hold"]
    core.create_namespaced_config_map(namespace, blocked)
    core.delete_namespaced_config_map("owner", namespace, propagation_policy="Foreground")
    owner_now = core.read_namespaced_config_map("owner", namespace)
    assert "foregroundDeletion" in owner_now.metadata.finalizers
    wait_for(lambda: _exists(core, namespace, "dep").metadata.deletion_timestamp, what="dependent deleting")
    assert _exists(core, namespace, "owner") is not None
    core.patch_namespaced_config_map("dep", namespace, {"metadata": {"finalizers": None}})
    wait_for(lambda: _exists(core, namespace, "owner") is None, what="owner to go after its dependents")


def test_orphan_deletion_keeps_dependents_without_the_reference(core, namespace):
    owner = core.create_namespaced_config_map(namespace, {"metadata": {"name": "owner"}})
    core.create_namespaced_config_map(namespace, _owned(owner, "dep"))
    core.delete_namespaced_config_map("owner", namespace, propagation_policy="Orphan")
    wait_for(lambda: _exists(core, namespace, "owner") is None, what="owner deletion")
    assert not _exists(core, namespace, "dep").metadata.owner_references


def test_kubectl_cascade_orphan(kubectl, core, namespace):
    owner = core.create_namespaced_config_map(namespace, {"metadata": {"name": "owner"}})
    core.create_namespaced_config_map(namespace, _owned(owner, "dep"))
    kubectl("delete", "configmap", "owner", "-n", namespace, "--cascade=orphan")
    wait_for(lambda: _exists(core, namespace, "owner") is None, what="owner deletion")
    assert _exists(core, namespace, "dep") is not None


def test_namespace_deletion_removes_contents_then_namespace(kubectl, core):
    kubectl("apply", "-f", "-", input="apiVersion: v1\nkind: Namespace\nmetadata:\n  name: doomed-ns\n")
    core.create_namespaced_config_map("doomed-ns", {"metadata": {"name": "x"}})
    core.create_namespaced_secret("doomed-ns", {"metadata": {"name": "y"}})
    kubectl("delete", "namespace", "doomed-ns", "--timeout=20s")
    assert kubectl("get", "namespace", "doomed-ns", check=False).returncode != 0


def test_terminating_namespace_refuses_new_objects_with_403(kubectl, core):
    kubectl("apply", "-f", "-", input="apiVersion: v1\nkind: Namespace\nmetadata:\n  name: closing-ns\n")
    core.create_namespaced_config_map("closing-ns", {"metadata": {"name": "hold", "finalizers": ["x.io/y"]}})
    kubectl("delete", "namespace", "closing-ns", "--wait=false")
    assert core.read_namespace("closing-ns").status.phase == "Terminating"
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("closing-ns", {"metadata": {"name": "new"}})
    assert err.value.status == 403
    assert "because it is being terminated" in status_of(err.value)["message"]
    wait_for(lambda: _exists(core, "closing-ns", "hold").metadata.deletion_timestamp, what="content deletion")
    core.patch_namespaced_config_map("hold", "closing-ns", {"metadata": {"finalizers": None}})
    kubectl("wait", "--for=delete", "namespace/closing-ns", "--timeout=10s")


def test_a_pod_deleted_at_once_answers_with_the_pod_as_kube_apiserver_does(core, namespace):
    """Pod storage returns the deleted object; the official client's typed delete reads a V1Pod."""
    core.create_namespaced_pod(namespace, {
        "metadata": {"name": "gone"},
        "spec": {"nodeName": "elsewhere", "containers": [{"name": "c", "image": "busybox"}]},
    })
    deleted = core.delete_namespaced_pod("gone", namespace, grace_period_seconds=0)
    assert deleted.kind == "Pod" and deleted.metadata.name == "gone"


def test_a_configmap_delete_answers_with_a_success_status(core, namespace):
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "gone"}, "data": {"a": "b"}})
    answer = core.delete_namespaced_config_map("gone", namespace)
    status = answer if isinstance(answer, dict) else answer.to_dict()
    assert status["kind"] == "Status" and status["status"] == "Success"
    assert status["details"]["name"] == "gone"
