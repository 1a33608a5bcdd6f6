"""Create, read, update and delete: identity, resourceVersions, conflicts, dry runs."""

from __future__ import annotations

import json

import pytest
from kubernetes.client.rest import ApiException
from kubetest import status_of

MANIFESTS = {
    "configmap": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: obj\ndata:\n  k: v\n",
    "secret": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: obj\nstringData:\n  k: v\n",
    "service": (
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: obj\nspec:\n  selector: {app: x}\n"
        "  ports: [{port: 80, targetPort: 8080}]\n"
    ),
    "deployment": (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: obj\nspec:\n  replicas: 1\n"
        "  selector: {matchLabels: {app: x}}\n  template:\n    metadata: {labels: {app: x}}\n"
        "    spec:\n      containers: [{name: c, image: busybox}]\n"
    ),
    "lease": (
        "apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata:\n  name: obj\nspec:\n"
        "  holderIdentity: me\n"
    ),
    "role": (
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: obj\nrules:\n"
        "- apiGroups: ['']\n  resources: [configmaps]\n  verbs: [get]\n"
    ),
}


@pytest.mark.parametrize("kind", sorted(MANIFESTS))
def test_kubectl_creates_gets_lists_and_deletes(kubectl, namespace, kind):
    kubectl("apply", "-n", namespace, "-f", "-", input=MANIFESTS[kind])
    obj = json.loads(kubectl("get", kind, "obj", "-n", namespace, "-o", "json").stdout)
    assert obj["metadata"]["name"] == "obj" and obj["metadata"]["namespace"] == namespace
    assert obj["metadata"]["uid"] and obj["metadata"]["creationTimestamp"]
    assert kubectl("get", kind, "-n", namespace, "-o", "name").stdout.strip().endswith("/obj")
    kubectl("delete", kind, "obj", "-n", namespace)
    assert kubectl("get", kind, "obj", "-n", namespace, check=False).returncode != 0


def test_resource_versions_increase_across_kinds(core, namespace):
    a = core.create_namespaced_config_map(namespace, {"metadata": {"name": "a"}})
    b = core.create_namespaced_secret(namespace, {"metadata": {"name": "b"}})
    c = core.patch_namespaced_config_map("a", namespace, {"data": {"x": "1"}})
    assert (
        int(a.metadata.resource_version) < int(b.metadata.resource_version) < int(c.metadata.resource_version)
    )


def test_generate_name_appends_five_random_characters(core, namespace):
    cm = core.create_namespaced_config_map(namespace, {"metadata": {"generateName": "gen-"}})
    assert cm.metadata.name.startswith("gen-") and len(cm.metadata.name) == len("gen-") + 5


def test_create_of_existing_name_is_409_already_exists(core, namespace):
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "dup"}})
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map(namespace, {"metadata": {"name": "dup"}})
    assert err.value.status == 409
    status = status_of(err.value)
    assert status["reason"] == "AlreadyExists"
    assert status["message"] == 'configmaps "dup" already exists'


def test_update_with_stale_resource_version_is_409_conflict(core, namespace):
    cm = core.create_namespaced_config_map(namespace, {"metadata": {"name": "cas"}, "data": {"v": "1"}})
    core.replace_namespaced_config_map(
        "cas",
        namespace,
        {"metadata": {"name": "cas", "resourceVersion": cm.metadata.resource_version}, "data": {"v": "2"}},
    )
    with pytest.raises(ApiException) as err:
        core.replace_namespaced_config_map(
            "cas",
            namespace,
            {
                "metadata": {"name": "cas", "resourceVersion": cm.metadata.resource_version},
                "data": {"v": "3"},
            },
        )
    assert err.value.status == 409
    status = status_of(err.value)
    assert status["reason"] == "Conflict"
    assert (
        "the object has been modified; please apply your changes to the latest version" in status["message"]
    )


def test_patch_with_stale_resource_version_is_409_conflict(core, namespace):
    cm = core.create_namespaced_config_map(namespace, {"metadata": {"name": "cas"}})
    core.patch_namespaced_config_map("cas", namespace, {"data": {"v": "2"}})
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_config_map(
            "cas",
            namespace,
            {"metadata": {"resourceVersion": cm.metadata.resource_version}, "data": {"v": "3"}},
        )
    assert err.value.status == 409


def test_get_of_missing_object_is_404_with_kube_wording(core, namespace):
    with pytest.raises(ApiException) as err:
        core.read_namespaced_config_map("nope", namespace)
    assert err.value.status == 404
    assert status_of(err.value)["message"] == 'configmaps "nope" not found'


def test_create_in_missing_namespace_is_404_namespace_not_found(core):
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("no-such-ns", {"metadata": {"name": "x"}})
    assert err.value.status == 404
    assert status_of(err.value)["message"] == 'namespaces "no-such-ns" not found'


def test_dry_run_create_returns_object_but_stores_nothing(kubectl, core, namespace):
    out = kubectl(
        "apply", "-n", namespace, "--dry-run=server", "-o", "json", "-f", "-", input=MANIFESTS["configmap"]
    )
    assert json.loads(out.stdout)["metadata"]["uid"]
    with pytest.raises(ApiException) as err:
        core.read_namespaced_config_map("obj", namespace)
    assert err.value.status == 404


def test_dry_run_delete_keeps_the_object(kubectl, namespace):
    kubectl("apply", "-n", namespace, "-f", "-", input=MANIFESTS["configmap"])
    kubectl("delete", "configmap", "obj", "-n", namespace, "--dry-run=server")
    kubectl("get", "configmap", "obj", "-n", namespace)


def test_generation_bumps_on_spec_change_only(apps, namespace, kubectl):
    kubectl("apply", "-n", namespace, "-f", "-", input=MANIFESTS["deployment"])
    assert apps.read_namespaced_deployment("obj", namespace).metadata.generation == 1
    apps.patch_namespaced_deployment("obj", namespace, {"metadata": {"labels": {"a": "b"}}})
    assert apps.read_namespaced_deployment("obj", namespace).metadata.generation == 1
    apps.patch_namespaced_deployment("obj", namespace, {"spec": {"replicas": 3}})
    assert apps.read_namespaced_deployment("obj", namespace).metadata.generation == 2


def test_identical_update_does_not_change_resource_version(core, namespace):
    cm = core.create_namespaced_config_map(namespace, {"metadata": {"name": "same"}, "data": {"a": "1"}})
    again = core.patch_namespaced_config_map("same", namespace, {"data": {"a": "1"}})
    assert again.metadata.resource_version == cm.metadata.resource_version


def test_deletecollection_removes_matching_objects(core, namespace):
    for i in range(3):
        core.create_namespaced_config_map(
            namespace, {"metadata": {"name": f"dc{i}", "labels": {"dc": "yes"}}}
        )
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "keep"}})
    core.delete_collection_namespaced_config_map(namespace, label_selector="dc=yes")
    names = {c.metadata.name for c in core.list_namespaced_config_map(namespace).items}
    assert "keep" in names and not any(n.startswith("dc") for n in names)


def test_delete_precondition_on_uid_is_409_conflict(core, namespace):
    core.create_namespaced_config_map(namespace, {"metadata": {"name": "pre"}})
    with pytest.raises(ApiException) as err:
        core.delete_namespaced_config_map("pre", namespace, body={"preconditions": {"uid": "not-the-uid"}})
    assert err.value.status == 409
    assert "Precondition failed: UID in precondition: not-the-uid" in status_of(err.value)["message"]


def test_strict_field_validation_rejects_unknown_fields(kubectl, namespace):
    proc = kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        check=False,
        input="apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: strict\nbogus: 1\n",
    )
    assert proc.returncode != 0
    assert 'unknown field "bogus"' in proc.stderr


def test_scale_subresource_of_deployment(kubectl, apps, namespace):
    kubectl("apply", "-n", namespace, "-f", "-", input=MANIFESTS["deployment"])
    kubectl("scale", "deployment", "obj", "-n", namespace, "--replicas=4")
    assert apps.read_namespaced_deployment("obj", namespace).spec.replicas == 4
    scale = apps.read_namespaced_deployment_scale("obj", namespace)
    assert scale.spec.replicas == 4 and scale.status.selector == "app=x"


def test_kubectl_create_configmap_sends_protobuf_and_is_accepted(kubectl, namespace):
    """kubectl's `create <kind>` generators send protobuf request bodies."""
    kubectl("create", "configmap", "imp", "-n", namespace, "--from-literal=a=b", "--from-literal=empty=")
    data = json.loads(kubectl("get", "configmap", "imp", "-n", namespace, "-o", "json").stdout)["data"]
    assert data == {"a": "b", "empty": ""}


def test_kubectl_create_secret_keeps_bytes_and_type(kubectl, namespace):
    kubectl("create", "secret", "generic", "sec", "-n", namespace, "--from-literal=k=v")
    secret = json.loads(kubectl("get", "secret", "sec", "-n", namespace, "-o", "json").stdout)
    assert secret["data"] == {"k": "dg=="} and secret["type"] == "Opaque"


def test_kubectl_create_job_keeps_pointer_zero_values(kubectl, namespace):
    kubectl("create", "job", "j", "-n", namespace, "--image=busybox", "--", "echo", "hi")
    kubectl("patch", "job", "j", "-n", namespace, "--type=merge", "-p", '{"spec":{"suspend":true}}')
    job = json.loads(kubectl("get", "job", "j", "-n", namespace, "-o", "json").stdout)
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["echo", "hi"]
    assert job["spec"]["suspend"] is True


def test_typed_delete_sends_protobuf_delete_options(kubectl, namespace):
    kubectl("create", "serviceaccount", "robot", "-n", namespace)
    kubectl("delete", "serviceaccount", "robot", "-n", namespace)
    assert kubectl("get", "serviceaccount", "robot", "-n", namespace, check=False).returncode != 0


def test_kubectl_create_token_for_a_service_account(kubectl, namespace):
    kubectl("create", "serviceaccount", "robot", "-n", namespace)
    token = kubectl("create", "token", "robot", "-n", namespace).stdout.strip()
    assert token
