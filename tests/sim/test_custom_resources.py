"""CustomResourceDefinitions and their custom resources."""

from __future__ import annotations

import json

import pytest
from kubernetes.client.rest import ApiException
from kubetest import status_of, wait_for

GROUP = "conformance.conveyor.dev"
CRD = f"""apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: gadgets.{GROUP}
spec:
  group: {GROUP}
  scope: Namespaced
  names: {{plural: gadgets, singular: gadget, kind: Gadget, shortNames: [gd], categories: [conveyor]}}
  versions:
  - name: v1
    served: true
    storage: true
    subresources:
      status: {{}}
      scale: {{specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas}}
    additionalPrinterColumns:
    - {{name: Size, type: integer, jsonPath: .spec.size}}
    - {{name: Phase, type: string, jsonPath: .status.phase}}
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            required: [size]
            properties:
              size: {{type: integer, minimum: 1, maximum: 10}}
              color: {{type: string, enum: [blue, red], default: blue}}
              replicas: {{type: integer}}
          status:
            type: object
            properties:
              phase: {{type: string}}
              replicas: {{type: integer}}
  - name: v1beta1
    served: true
    storage: false
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
"""


@pytest.fixture(scope="module")
def crd(kubectl):
    kubectl("apply", "-f", "-", input=CRD)
    kubectl("wait", "--for=condition=Established", f"crd/gadgets.{GROUP}", "--timeout=20s")
    yield f"gadgets.{GROUP}"


def _gadget(name, **spec):
    return {"apiVersion": f"{GROUP}/v1", "kind": "Gadget", "metadata": {"name": name}, "spec": spec}


def test_crd_becomes_established_with_accepted_names(kubectl, crd):
    obj = json.loads(kubectl("get", "crd", crd, "-o", "json").stdout)
    conditions = {c["type"]: c["status"] for c in obj["status"]["conditions"]}
    assert conditions["Established"] == "True" and conditions["NamesAccepted"] == "True"
    assert obj["status"]["acceptedNames"]["kind"] == "Gadget"
    assert obj["status"]["storedVersions"] == ["v1"]


def test_custom_resource_is_served_under_short_name_with_printer_columns(kubectl, crd, custom, namespace):
    custom.create_namespaced_custom_object(GROUP, "v1", namespace, "gadgets", _gadget("g1", size=3))
    out = kubectl("get", "gd", "-n", namespace).stdout.splitlines()
    assert out[0].split() == ["NAME", "SIZE", "PHASE"]  # no implicit AGE once columns are declared
    assert out[1].split()[:2] == ["g1", "3"]


def test_custom_resources_are_listed_in_their_categories(kubectl, crd, custom, namespace):
    custom.create_namespaced_custom_object(GROUP, "v1", namespace, "gadgets", _gadget("cat", size=1))
    assert (
        "gadget.conformance.conveyor.dev/cat"
        in kubectl("get", "conveyor", "-n", namespace, "-o", "name").stdout
    )


def test_schema_violations_are_422_with_field_causes(crd, custom, namespace):
    with pytest.raises(ApiException) as err:
        custom.create_namespaced_custom_object(
            GROUP, "v1", namespace, "gadgets", _gadget("bad", size=30, color="green")
        )
    assert err.value.status == 422
    status = status_of(err.value)
    assert status["reason"] == "Invalid"
    fields = {c["field"] for c in status["details"]["causes"]}
    assert {"spec.size", "spec.color"} <= fields


def test_missing_required_field_is_422(crd, custom, namespace):
    with pytest.raises(ApiException) as err:
        custom.create_namespaced_custom_object(GROUP, "v1", namespace, "gadgets", _gadget("bad"))
    assert err.value.status == 422
    assert any(
        c["field"] == "spec.size" and c["reason"] == "FieldValueRequired"
        for c in status_of(err.value)["details"]["causes"]
    )


def test_defaults_are_applied(crd, custom, namespace):
    obj = custom.create_namespaced_custom_object(GROUP, "v1", namespace, "gadgets", _gadget("d", size=2))
    assert obj["spec"]["color"] == "blue"


def test_unknown_fields_are_pruned_when_validation_is_ignored(crd, custom, namespace, kubectl):
    manifest = json.dumps(
        {**_gadget("p", size=2, extra="x"), "metadata": {"name": "p", "namespace": namespace}}
    )
    kubectl("apply", "--validate=false", "-f", "-", input=manifest)
    obj = custom.get_namespaced_custom_object(GROUP, "v1", namespace, "gadgets", "p")
    assert "extra" not in obj["spec"]


def test_unknown_fields_are_rejected_by_strict_validation(crd, kubectl, namespace):
    manifest = json.dumps(
        {**_gadget("s", size=2, extra="x"), "metadata": {"name": "s", "namespace": namespace}}
    )
    proc = kubectl("apply", "-f", "-", input=manifest, check=False)
    assert proc.returncode != 0
    assert 'unknown field "spec.extra"' in proc.stderr


def test_write_to_main_resource_ignores_status(crd, custom, namespace):
    body = _gadget("st", size=2)
    body["status"] = {"phase": "Sneaky"}
    obj = custom.create_namespaced_custom_object(GROUP, "v1", namespace, "gadgets", body)
    assert "status" not in obj or "phase" not in obj.get("status", {})


def test_status_subresource_changes_only_status(crd, custom, namespace):
    custom.create_namespaced_custom_object(GROUP, "v1", namespace, "gadgets", _gadget("st", size=2))
    obj = custom.patch_namespaced_custom_object_status(
        GROUP, "v1", namespace, "gadgets", "st", {"status": {"phase": "Ready"}, "spec": {"size": 9}}
    )
    assert obj["status"]["phase"] == "Ready" and obj["spec"]["size"] == 2
    assert obj["metadata"]["generation"] == 1


def test_generation_bumps_on_any_change_outside_metadata_and_status(crd, custom, namespace):
    custom.create_namespaced_custom_object(GROUP, "v1", namespace, "gadgets", _gadget("gen", size=2))
    obj = custom.patch_namespaced_custom_object(
        GROUP, "v1", namespace, "gadgets", "gen", {"spec": {"size": 4}}
    )
    assert obj["metadata"]["generation"] == 2


def test_kubectl_wait_for_condition_on_custom_resource(crd, custom, namespace, kubectl):
    custom.create_namespaced_custom_object(GROUP, "v1", namespace, "gadgets", _gadget("w", size=2))
    custom.patch_namespaced_custom_object_status(
        GROUP,
        "v1",
        namespace,
        "gadgets",
        "w",
        {"status": {"phase": "Done", "conditions": [{"type": "Ready", "status": "True"}]}},
    )
    kubectl("wait", "--for=jsonpath={.status.phase}=Done", "gadget/w", "-n", namespace, "--timeout=10s")


def test_strategic_merge_patch_on_custom_resource_is_415(crd, kubectl, custom, namespace):
    custom.create_namespaced_custom_object(GROUP, "v1", namespace, "gadgets", _gadget("smp", size=2))
    proc = kubectl(
        "patch",
        "gadget",
        "smp",
        "-n",
        namespace,
        "--type=strategic",
        "-p",
        '{"spec":{"size":3}}',
        check=False,
    )
    assert proc.returncode != 0
    assert "UnsupportedMediaType" in proc.stderr or "unknown format" in proc.stderr


def test_scale_subresource_of_custom_resource(crd, custom, namespace, kubectl):
    custom.create_namespaced_custom_object(
        GROUP, "v1", namespace, "gadgets", _gadget("sc", size=2, replicas=1)
    )
    kubectl("scale", "gadget", "sc", "-n", namespace, "--replicas=3")
    assert (
        custom.get_namespaced_custom_object(GROUP, "v1", namespace, "gadgets", "sc")["spec"]["replicas"] == 3
    )


def test_objects_are_served_at_every_served_version(crd, custom, namespace):
    custom.create_namespaced_custom_object(GROUP, "v1", namespace, "gadgets", _gadget("mv", size=2))
    other = custom.get_namespaced_custom_object(GROUP, "v1beta1", namespace, "gadgets", "mv")
    assert other["apiVersion"] == f"{GROUP}/v1beta1" and other["spec"]["size"] == 2


def test_deleting_crd_removes_its_custom_resources(kubectl, custom, namespace):
    crd = (
        CRD.replace("gadgets", "gizmos")
        .replace("Gadget", "Gizmo")
        .replace("gadget", "gizmo")
        .replace("shortNames: [gd], ", "")
    )
    kubectl("apply", "-f", "-", input=crd)
    kubectl("wait", "--for=condition=Established", f"crd/gizmos.{GROUP}", "--timeout=20s")
    body = _gadget("z", size=1)
    body["kind"] = "Gizmo"
    custom.create_namespaced_custom_object(GROUP, "v1", namespace, "gizmos", body)
    kubectl("delete", "crd", f"gizmos.{GROUP}", "--timeout=20s")

    def gone() -> bool:
        try:
            custom.list_namespaced_custom_object(GROUP, "v1", namespace, "gizmos")
        except ApiException as err:
            return err.status == 404
        return False

    wait_for(gone, what="custom resource type to be unregistered")
