"""kubectl apply (client-side and server-side) and the four patch types."""

from __future__ import annotations

import json

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {stage: LABEL}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: main
        image: busybox
        env: [{name: A, value: "1"}]
"""


def _get(kubectl, namespace, kind, name):
    return json.loads(kubectl("get", kind, name, "-n", namespace, "-o", "json").stdout)


def test_client_side_apply_twice_with_a_change(kubectl, namespace):
    out1 = kubectl("apply", "-n", namespace, "-f", "-", input=DEPLOYMENT.replace("LABEL", "one")).stdout
    out2 = kubectl("apply", "-n", namespace, "-f", "-", input=DEPLOYMENT.replace("LABEL", "two")).stdout
    out3 = kubectl("apply", "-n", namespace, "-f", "-", input=DEPLOYMENT.replace("LABEL", "two")).stdout
    assert "created" in out1 and "configured" in out2 and "unchanged" in out3
    obj = _get(kubectl, namespace, "deployment", "web")
    assert obj["metadata"]["labels"] == {"stage": "two"}
    assert "kubectl.kubernetes.io/last-applied-configuration" in obj["metadata"]["annotations"]


def test_client_side_apply_removes_fields_dropped_from_the_manifest(kubectl, namespace):
    kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        input="apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: '1'\n  b: '2'\n",
    )
    kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        input="apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: '1'\n",
    )
    assert _get(kubectl, namespace, "configmap", "c")["data"] == {"a": "1"}


def test_server_side_apply_records_the_field_manager(kubectl, namespace):
    kubectl("apply", "--server-side", "-n", namespace, "-f", "-", input=DEPLOYMENT.replace("LABEL", "ssa"))
    obj = json.loads(
        kubectl("get", "deployment", "web", "-n", namespace, "-o", "json", "--show-managed-fields").stdout
    )
    managers = {(m["manager"], m["operation"]) for m in obj["metadata"]["managedFields"]}
    assert ("kubectl", "Apply") in managers


def test_server_side_apply_updates_owned_fields(kubectl, namespace):
    kubectl("apply", "--server-side", "-n", namespace, "-f", "-", input=DEPLOYMENT.replace("LABEL", "a"))
    kubectl(
        "apply",
        "--server-side",
        "-n",
        namespace,
        "-f",
        "-",
        input=DEPLOYMENT.replace("LABEL", "b").replace("replicas: 1", "replicas: 3"),
    )
    obj = _get(kubectl, namespace, "deployment", "web")
    assert obj["spec"]["replicas"] == 3 and obj["metadata"]["labels"] == {"stage": "b"}


SERVICE = """apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
"""


def test_server_side_apply_twice_keeps_one_port_without_protocol(kubectl, namespace):
    """The protocol key of a port defaults to TCP before items are matched (helm 4 upgrades)."""
    for _ in range(2):
        kubectl("apply", "--server-side", "-n", namespace, "-f", "-", input=SERVICE)
    ports = _get(kubectl, namespace, "service", "web")["spec"]["ports"]
    assert [(p["port"], p["protocol"]) for p in ports] == [(80, "TCP")]


def test_server_side_apply_twice_keeps_one_container_port_without_protocol(kubectl, namespace):
    manifest = DEPLOYMENT.replace("LABEL", "p") + "        ports: [{containerPort: 80}]\n"
    for _ in range(2):
        kubectl("apply", "--server-side", "-n", namespace, "-f", "-", input=manifest)
    container = _get(kubectl, namespace, "deployment", "web")["spec"]["template"]["spec"]["containers"][0]
    assert container["ports"] == [{"containerPort": 80, "protocol": "TCP"}]


def test_merge_patch(kubectl, namespace):
    kubectl("apply", "-n", namespace, "-f", "-", input=DEPLOYMENT.replace("LABEL", "m"))
    kubectl(
        "patch", "deployment", "web", "-n", namespace, "--type=merge", "-p", '{"metadata":{"labels":null}}'
    )
    assert "labels" not in _get(kubectl, namespace, "deployment", "web")["metadata"]


def test_json_patch_with_passing_test_op_applies(kubectl, namespace):
    kubectl("apply", "-n", namespace, "-f", "-", input=DEPLOYMENT.replace("LABEL", "j"))
    kubectl(
        "patch",
        "deployment",
        "web",
        "-n",
        namespace,
        "--type=json",
        "-p",
        '[{"op":"test","path":"/spec/replicas","value":1},{"op":"replace","path":"/spec/replicas","value":2}]',
    )
    assert _get(kubectl, namespace, "deployment", "web")["spec"]["replicas"] == 2


def test_json_patch_with_failing_test_op_changes_nothing(kubectl, namespace):
    kubectl("apply", "-n", namespace, "-f", "-", input=DEPLOYMENT.replace("LABEL", "j"))
    patch = (
        '[{"op":"test","path":"/spec/replicas","value":9},{"op":"replace","path":"/spec/replicas","value":2}]'
    )
    proc = kubectl("patch", "deployment", "web", "-n", namespace, "--type=json", "-p", patch, check=False)
    assert proc.returncode != 0
    assert _get(kubectl, namespace, "deployment", "web")["spec"]["replicas"] == 1


def test_strategic_merge_patch_merges_containers_and_env_by_name(kubectl, namespace):
    kubectl("apply", "-n", namespace, "-f", "-", input=DEPLOYMENT.replace("LABEL", "s"))
    kubectl(
        "patch",
        "deployment",
        "web",
        "-n",
        namespace,
        "-p",
        '{"spec":{"template":{"spec":{"containers":[{"name":"main","env":[{"name":"B","value":"2"}]}]}}}}',
    )
    containers = _get(kubectl, namespace, "deployment", "web")["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["main"]
    assert containers[0]["image"] == "busybox"
    assert {e["name"] for e in containers[0]["env"]} == {"A", "B"}


def test_kubectl_label_and_annotate(kubectl, namespace):
    kubectl(
        "apply", "-n", namespace, "-f", "-", input="apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: l\n"
    )
    kubectl("label", "configmap", "l", "-n", namespace, "color=red")
    kubectl("annotate", "configmap", "l", "-n", namespace, "note=hi")
    meta = _get(kubectl, namespace, "configmap", "l")["metadata"]
    assert meta["labels"]["color"] == "red" and meta["annotations"]["note"] == "hi"
