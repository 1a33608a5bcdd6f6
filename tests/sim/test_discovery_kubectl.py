"""Discovery, OpenAPI and Table output as the real kubectl 1.35 consumes them.

These are the client paths that fail hard on a malformed document: aggregated discovery,
`kubectl explain`, client-side `kubectl apply` (a strategic merge patch computed from OpenAPI v3),
server-side printing for `kubectl get` and CRD printer columns.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

Kubectl = Callable[..., "subprocess.CompletedProcess[str]"]  # the `kubectl` fixture of tests/conftest.py

DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
      - name: app
        image: {image}
        command: ["sleep", "300"]
        env:
        - {{name: A, value: "1"}}
        - {{name: B, value: "{b}"}}
        ports:
        - {{containerPort: 80}}
{extra}"""
SIDECAR = """      - name: side
        image: busybox
        command: ["sleep", "300"]
"""

CRD = """
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {{name: gadgets.{group}}}
spec:
  group: {group}
  scope: Namespaced
  names: {{plural: gadgets, singular: gadget, kind: Gadget, shortNames: [gdt]}}
  versions:
  - name: v1
    served: true
    storage: true
    subresources: {{status: {{}}}}
    additionalPrinterColumns:
    - {{name: Size, type: integer, jsonPath: .spec.size}}
    - {{name: Phase, type: string, jsonPath: .status.phase}}
    - {{name: Color, type: string, jsonPath: .spec.color, priority: 1}}
    - {{name: Age, type: date, jsonPath: .metadata.creationTimestamp}}
    schema:
      openAPIV3Schema:
        type: object
        description: A gadget for discovery tests.
        properties:
          spec:
            type: object
            description: What the gadget should be.
            properties:
              size: {{type: integer, description: How big the gadget is.}}
              color: {{type: string}}
          status:
            type: object
            properties:
              phase: {{type: string}}
              conditions:
                type: array
                items:
                  type: object
                  properties:
                    type: {{type: string}}
                    status: {{type: string}}
"""


def _header(output: str) -> list[str]:
    return output.splitlines()[0].split()


@pytest.fixture(scope="module")
def gadget_group(kubectl: Kubectl) -> Iterator[str]:
    """A CRD with printer columns, Established, for the tests of this module."""
    group = f"d{uuid.uuid4().hex[:6]}.example.com"
    kubectl("apply", "-f", "-", input=CRD.format(group=group))
    kubectl("wait", "--for", "condition=Established", f"crd/gadgets.{group}", "--timeout=20s")
    yield group
    kubectl("delete", "crd", f"gadgets.{group}", "--wait=false", "--ignore-not-found", check=False)


def test_api_resources_shows_short_names_and_groups(kubectl: Kubectl) -> None:
    rows = [line.split() for line in kubectl("api-resources").stdout.splitlines()[1:]]
    by_name = {(r[0], r[-3]): r for r in rows}  # NAME [SHORTNAMES] APIVERSION NAMESPACED KIND
    assert ("pods", "v1") in by_name and "po" in by_name[("pods", "v1")]
    assert ("deployments", "apps/v1") in by_name and "deploy" in by_name[("deployments", "apps/v1")]


def test_api_resources_wide_lists_verbs(kubectl: Kubectl) -> None:
    out = kubectl("api-resources", "--api-group=apps", "-o", "wide").stdout
    deployments = next(line for line in out.splitlines() if line.startswith("deployments "))
    assert "create,delete,deletecollection,get,list,patch,update,watch" in deployments


def test_kubectl_discovers_through_aggregated_documents_only(kubectl: Kubectl, tmp_path: Path) -> None:
    """Two requests (/api and /apis) when the aggregated answer is accepted; a rejected one makes
    client-go fetch every group version's legacy document instead."""
    out = kubectl("api-resources", "--cache-dir", str(tmp_path), "-v=6").stderr
    assert 'url="https://' in out
    assert "/api?timeout" in out and "/apis?timeout" in out
    assert "/apis/apps/v1?timeout" not in out and "/api/v1?timeout" not in out


def test_get_pods_prints_kube_columns(kubectl: Kubectl, namespace: str) -> None:
    kubectl("run", "p", "-n", namespace, "--image=busybox", "--restart=Never", "--", "sleep", "300")
    assert _header(kubectl("get", "pods", "-n", namespace).stdout) == [
        "NAME",
        "READY",
        "STATUS",
        "RESTARTS",
        "AGE",
    ]
    wide = kubectl("get", "pods", "-n", namespace, "-o", "wide").stdout.splitlines()[0]
    assert wide.split()[5:] == ["IP", "NODE", "NOMINATED", "NODE", "READINESS", "GATES"]


def test_get_empty_namespace_says_no_resources(kubectl: Kubectl, namespace: str) -> None:
    proc = kubectl("get", "pods", "-n", namespace)
    assert proc.stdout == ""
    assert f"No resources found in {namespace} namespace." in proc.stderr


def test_get_all_lists_the_all_category(kubectl: Kubectl, namespace: str) -> None:
    kubectl("apply", "-n", namespace, "-f", "-", input=DEPLOYMENT.format(image="busybox:1", b="2", extra=""))
    out = kubectl("get", "all", "-n", namespace).stdout
    assert "deployment.apps/web" in out
    assert "NAME" in out and "UP-TO-DATE" in out


def test_get_configmaps_counts_data(kubectl: Kubectl, namespace: str) -> None:
    kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        input="apiVersion: v1\nkind: ConfigMap\nmetadata: {name: two}\ndata: {a: '1', b: '2'}\n",
    )
    lines = kubectl("get", "configmap", "two", "-n", namespace).stdout.splitlines()
    assert lines[0].split() == ["NAME", "DATA", "AGE"]
    assert lines[1].split()[:2] == ["two", "2"]


def test_explain_walks_openapi_v3_schemas(kubectl: Kubectl) -> None:
    out = kubectl("explain", "pod.spec").stdout
    assert "FIELD: spec <PodSpec>" in out
    assert "containers\t<[]Container> -required-" in out


def test_explain_nested_field_through_refs(kubectl: Kubectl) -> None:
    out = kubectl("explain", "deployment.spec.template.spec.containers.ports.containerPort").stdout
    assert "FIELD: containerPort <integer>" in out


def test_client_side_apply_merges_containers_by_name(kubectl: Kubectl, namespace: str) -> None:
    kubectl(
        "apply", "-n", namespace, "-f", "-", input=DEPLOYMENT.format(image="busybox:1", b="2", extra=SIDECAR)
    )
    second = kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        "-v=6",
        input=DEPLOYMENT.format(image="busybox:2", b="3", extra=""),
    )
    assert "deployment.apps/web configured" in second.stdout
    assert "/openapi/v3/apis/apps/v1" in second.stderr  # the patch was computed from our v3 document
    assert "error calculating patch" not in second.stderr
    spec = json.loads(kubectl("get", "deployment", "web", "-n", namespace, "-o", "json").stdout)
    containers = spec["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["app"]
    assert containers[0]["image"] == "busybox:2"
    assert containers[0]["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "3"}]


def test_apply_validates_fields_on_the_server(kubectl: Kubectl, namespace: str) -> None:
    bad = DEPLOYMENT.format(image="busybox:1", b="2", extra="").replace(
        "replicas: 1", "replicas: 1\n  bogus: 1"
    )
    proc = kubectl("apply", "-n", namespace, "-f", "-", input=bad, check=False)
    assert proc.returncode != 0
    assert 'unknown field "spec.bogus"' in proc.stderr


def test_get_crd_shows_created_at(kubectl: Kubectl, gadget_group: str) -> None:
    lines = kubectl("get", "crd", f"gadgets.{gadget_group}").stdout.splitlines()
    assert lines[0].split() == ["NAME", "CREATED", "AT"]
    assert lines[1].split()[1].endswith("Z")


def test_custom_resource_prints_its_columns(kubectl: Kubectl, namespace: str, gadget_group: str) -> None:
    kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        input=f"apiVersion: {gadget_group}/v1\nkind: Gadget\nmetadata: {{name: g1}}\n"
        f"spec: {{size: 3, color: red}}\n",
    )
    lines = kubectl("get", f"gadgets.{gadget_group}", "-n", namespace).stdout.splitlines()
    assert lines[0].split() == ["NAME", "SIZE", "PHASE", "AGE"]
    assert lines[1].split()[:2] == ["g1", "3"]
    wide = kubectl("get", f"gadgets.{gadget_group}", "-n", namespace, "-o", "wide").stdout.splitlines()
    assert wide[0].split() == ["NAME", "SIZE", "PHASE", "COLOR", "AGE"]
    assert "red" in wide[1].split()


def test_custom_resource_apply_twice_uses_merge_patch(
    kubectl: Kubectl, namespace: str, gadget_group: str
) -> None:
    manifest = f"apiVersion: {gadget_group}/v1\nkind: Gadget\nmetadata: {{name: g2}}\nspec: {{size: %d}}\n"
    kubectl("apply", "-n", namespace, "-f", "-", input=manifest % 1)
    second = kubectl("apply", "-n", namespace, "-f", "-", input=manifest % 2)
    assert "configured" in second.stdout
    size = kubectl(
        "get", f"gadget.{gadget_group}", "g2", "-n", namespace, "-o", "jsonpath={.spec.size}"
    ).stdout
    assert size == "2"


def test_explain_custom_resource_uses_crd_schema(kubectl: Kubectl, gadget_group: str) -> None:
    out = kubectl("explain", f"gadgets.{gadget_group}.spec").stdout
    assert "What the gadget should be." in out
    assert "How big the gadget is." in out


def test_printer_column_with_condition_filter(kubectl: Kubectl, namespace: str) -> None:
    group = f"f{uuid.uuid4().hex[:6]}.example.com"
    crd = CRD.format(group=group).replace(
        "jsonPath: .status.phase", "jsonPath: '.status.conditions[?(@.type==\"Ready\")].status'"
    )
    kubectl("apply", "-f", "-", input=crd)
    try:
        kubectl("wait", "--for", "condition=Established", f"crd/gadgets.{group}", "--timeout=20s")
        kubectl(
            "apply",
            "-n",
            namespace,
            "-f",
            "-",
            input=f"apiVersion: {group}/v1\nkind: Gadget\nmetadata: {{name: g}}\nspec: {{size: 1}}\n",
        )
        kubectl(
            "patch",
            f"gadget.{group}",
            "g",
            "-n",
            namespace,
            "--subresource=status",
            "--type=merge",
            "-p",
            '{"status": {"conditions": [{"type": "Ready", "status": "True"}]}}',
        )
        lines = kubectl("get", f"gadgets.{group}", "-n", namespace).stdout.splitlines()
        assert lines[0].split() == ["NAME", "SIZE", "PHASE", "AGE"]
        assert lines[1].split()[:3] == ["g", "1", "True"]
    finally:
        kubectl("delete", "crd", f"gadgets.{group}", "--wait=false", check=False)


def test_explain_with_openapi_v2(kubectl: Kubectl) -> None:
    out = kubectl("explain", "pod.spec.containers.ports", "--output=plaintext-openapiv2").stdout
    assert "containerPort\t<integer> -required-" in out


def test_list_manifest_is_validated_client_side_with_openapi_v2(kubectl: Kubectl, namespace: str) -> None:
    manifest = (
        "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n"
        "  metadata: {name: listed}\n  data: {a: '1'}\n  bogus: 1\n"
    )
    proc = kubectl("apply", "-n", namespace, "-f", "-", input=manifest, check=False)
    assert proc.returncode != 0
    assert 'unknown field "bogus"' in proc.stderr


def test_crd_and_its_resource_in_one_apply_fail_like_kube(kubectl: Kubectl, namespace: str) -> None:
    group = f"o{uuid.uuid4().hex[:6]}.example.com"
    manifest = CRD.format(group=group) + f"---\napiVersion: {group}/v1\nkind: Gadget\nmetadata: {{name: g}}\n"
    try:
        proc = kubectl("apply", "-n", namespace, "-f", "-", input=manifest, check=False)
        assert "ensure CRDs are installed first" in proc.stderr
    finally:
        kubectl("delete", "crd", f"gadgets.{group}", "--wait=false", "--ignore-not-found", check=False)
