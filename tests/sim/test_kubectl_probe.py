"""The conformance probe, kubectl half: what a demanding user does with the real kubectl 1.35,
answered as kube-apiserver (with its controllers, scheduler and kubelet) answers it.

Each test pins one behaviour the probe found missing or wrong in the sim (see "Conformance probe"
in docs/local-control-plane.md for the full list, including what works and what is out of scope).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable

import pytest
from kubetest import wait_for

Kubectl = Callable[..., "subprocess.CompletedProcess[str]"]  # the `kubectl` fixture of tests/conftest.py


def _running_pod(kubectl: Kubectl, namespace: str, name: str = "sleeper") -> str:
    kubectl("run", name, "-n", namespace, "--image=busybox", "--restart=Never", "--command", "--",
            "sleep", "300")
    kubectl("wait", "-n", namespace, f"pod/{name}", "--for=condition=Ready", "--timeout=20s")
    return name


def _header(output: str) -> list[str]:
    return output.splitlines()[0].split()


# --- Jobs select their own pods ---------------------------------------------------------------------

def test_job_selector_is_generated_from_its_uid(kubectl: Kubectl, namespace: str) -> None:
    kubectl("create", "job", "j", "-n", namespace, "--image=busybox", "--", "echo", "hi")
    job = json.loads(kubectl("get", "job", "j", "-n", namespace, "-o", "json").stdout)
    uid = job["metadata"]["uid"]
    assert job["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    assert job["spec"]["template"]["metadata"]["labels"]["batch.kubernetes.io/controller-uid"] == uid


def test_logs_of_a_job_come_from_its_own_pod(kubectl: Kubectl, namespace: str) -> None:
    _running_pod(kubectl, namespace, "bystander")
    kubectl("create", "job", "j", "-n", namespace, "--image=busybox", "--", "echo", "from-the-job")
    kubectl("wait", "-n", namespace, "job/j", "--for=condition=complete", "--timeout=20s")
    proc = kubectl("logs", "job/j", "-n", namespace)
    assert proc.stdout.strip() == "from-the-job"
    assert "bystander" not in proc.stderr


# --- The Node -----------------------------------------------------------------------------------------

def test_node_prints_status_roles_and_version(kubectl: Kubectl) -> None:
    out = kubectl("get", "nodes", "-o", "wide").stdout
    assert _header(out)[:5] == ["NAME", "STATUS", "ROLES", "AGE", "VERSION"]
    row = out.splitlines()[1].split()
    assert row[:3] == ["conveyor-sim", "Ready", "control-plane"]


def test_node_reports_capacity_allocatable_and_pressure_conditions(kubectl: Kubectl) -> None:
    node = json.loads(kubectl("get", "node", "conveyor-sim", "-o", "json").stdout)
    assert {"cpu", "memory", "pods", "ephemeral-storage"} <= set(node["status"]["capacity"])
    assert node["status"]["allocatable"]["pods"] == "110"
    types = {c["type"]: c["status"] for c in node["status"]["conditions"]}
    assert types == {"Ready": "True", "MemoryPressure": "False", "DiskPressure": "False",
                     "PIDPressure": "False"}


def test_node_heartbeat_lease_exists_in_kube_node_lease(kubectl: Kubectl) -> None:
    holder = kubectl("get", "lease", "conveyor-sim", "-n", "kube-node-lease",
                     "-o", "jsonpath={.spec.holderIdentity}").stdout
    assert holder == "conveyor-sim"


# --- kubectl get columns of every served kind ------------------------------------------------------------

@pytest.mark.parametrize(
    ("create", "resource", "header"),
    [
        (["create", "cronjob", "c", "--image=busybox", "--schedule=*/5 * * * *", "--", "true"], "cronjob",
         ["NAME", "SCHEDULE", "TIMEZONE", "SUSPEND", "ACTIVE", "LAST", "SCHEDULE", "AGE"]),
        (["create", "ingress", "i", "--rule=foo.com/bar=svc:80"], "ingress",
         ["NAME", "CLASS", "HOSTS", "ADDRESS", "PORTS", "AGE"]),
        (["create", "pdb", "p", "--selector=app=x", "--min-available=1"], "pdb",
         ["NAME", "MIN", "AVAILABLE", "MAX", "UNAVAILABLE", "ALLOWED", "DISRUPTIONS", "AGE"]),
        (["create", "quota", "q", "--hard=pods=10"], "quota", ["NAME", "AGE", "REQUEST", "LIMIT"]),
    ],
    ids=["cronjob", "ingress", "pdb", "quota"],
)
def test_get_prints_kube_columns(kubectl: Kubectl, namespace: str, create: list[str], resource: str,
                                 header: list[str]) -> None:
    kubectl("-n", namespace, *create)
    assert _header(kubectl("get", resource, "-n", namespace).stdout) == header


def test_get_cronjob_shows_schedule_and_defaulted_suspend(kubectl: Kubectl, namespace: str) -> None:
    kubectl("create", "cronjob", "c", "-n", namespace, "--image=busybox", "--schedule=*/5 * * * *", "--",
            "true")
    row = kubectl("get", "cronjob", "c", "-n", namespace, "--no-headers").stdout.split()
    assert row[:8] == ["c", "*/5", "*", "*", "*", "*", "<none>", "False"]


def test_get_hpa_shows_reference_and_targets(kubectl: Kubectl, namespace: str) -> None:
    kubectl("create", "deployment", "web", "-n", namespace, "--image=busybox", "--", "sleep", "300")
    kubectl("autoscale", "deployment", "web", "-n", namespace, "--min=1", "--max=3", "--cpu=50%")
    out = kubectl("get", "hpa", "web", "-n", namespace).stdout
    assert _header(out) == ["NAME", "REFERENCE", "TARGETS", "MINPODS", "MAXPODS", "REPLICAS", "AGE"]
    assert "Deployment/web" in out and "cpu: <unknown>/50%" in out


def test_get_priorityclass_shows_value_and_preemption_policy(kubectl: Kubectl) -> None:
    name = "probe-pc"
    kubectl("create", "priorityclass", name, "--value=42")
    try:
        row = kubectl("get", "priorityclass", name, "--no-headers").stdout.split()
        assert row[1:3] == ["42", "false"] and row[-1] == "PreemptLowerPriority"
    finally:
        kubectl("delete", "priorityclass", name, check=False)


# --- exec, attach, port-forward -------------------------------------------------------------------------

def test_exec_runs_the_command_next_to_the_container(kubectl: Kubectl, namespace: str) -> None:
    pod = _running_pod(kubectl, namespace)
    assert kubectl("exec", pod, "-n", namespace, "--", "echo", "hello").stdout == "hello\n"


def test_exec_exits_with_the_commands_exit_code(kubectl: Kubectl, namespace: str) -> None:
    pod = _running_pod(kubectl, namespace)
    proc = kubectl("exec", pod, "-n", namespace, "--", "sh", "-c", "echo oops >&2; exit 3", check=False)
    assert proc.returncode == 3
    assert "oops" in proc.stderr


def test_exec_with_stdin_passes_the_input(kubectl: Kubectl, namespace: str) -> None:
    pod = _running_pod(kubectl, namespace)
    assert kubectl("exec", "-i", pod, "-n", namespace, "--", "cat", input="piped\n").stdout == "piped\n"


def test_exec_of_a_missing_command_fails_like_containerd(kubectl: Kubectl, namespace: str) -> None:
    pod = _running_pod(kubectl, namespace)
    proc = kubectl("exec", pod, "-n", namespace, "--", "no-such-command", check=False)
    assert proc.returncode != 0
    assert "executable file not found in $PATH" in proc.stderr


def test_port_forward_is_refused_with_a_reason(kubectl: Kubectl, namespace: str) -> None:
    pod = _running_pod(kubectl, namespace)
    proc = kubectl("port-forward", pod, "-n", namespace, "18080:80", check=False, timeout=20)
    assert proc.returncode != 0
    assert "not supported by the Conveyor sim" in proc.stderr


def test_discovery_lists_the_pod_streaming_subresources(kubectl: Kubectl) -> None:
    resources = json.loads(kubectl("get", "--raw", "/api/v1").stdout)["resources"]
    names = {r["name"]: r for r in resources}
    assert {"pods/exec", "pods/attach", "pods/portforward"} <= set(names)
    assert names["pods/exec"]["kind"] == "PodExecOptions"


# --- Events --------------------------------------------------------------------------------------------

def test_describe_deployment_shows_the_scaling_event(kubectl: Kubectl, namespace: str) -> None:
    kubectl("create", "deployment", "web", "-n", namespace, "--image=busybox", "--", "sleep", "300")
    wait_for(lambda: "Scaled up replica set web-" in kubectl("describe", "deployment", "web", "-n",
                                                                namespace).stdout,
             timeout=20, what="a ScalingReplicaSet event")


def test_events_for_a_pod_show_scheduling_and_container_start(kubectl: Kubectl, namespace: str) -> None:
    pod = _running_pod(kubectl, namespace)

    def reasons() -> set[str]:
        out = kubectl("events", "-n", namespace, "--for", f"pod/{pod}", "-o", "json").stdout
        return {e["reason"] for e in json.loads(out)["items"]}

    wait_for(lambda: {"Scheduled", "Created", "Started"} <= reasons(), timeout=20, what="kubelet events")


def test_job_records_pod_creation_and_completion(kubectl: Kubectl, namespace: str) -> None:
    kubectl("create", "job", "j", "-n", namespace, "--image=busybox", "--", "true")
    kubectl("wait", "-n", namespace, "job/j", "--for=condition=complete", "--timeout=20s")

    def reasons() -> set[str]:
        out = kubectl("get", "events", "-n", namespace, "--field-selector", "involvedObject.name=j",
                      "-o", "json").stdout
        return {e["reason"] for e in json.loads(out)["items"]}

    wait_for(lambda: {"SuccessfulCreate", "Completed"} <= reasons(), timeout=10, what="job events")


# --- Workloads as users start them ------------------------------------------------------------------------

def test_run_with_args_only_on_a_base_image_runs_them(kubectl: Kubectl, namespace: str) -> None:
    kubectl("run", "plain", "-n", namespace, "--image=busybox", "--restart=Never", "--", "sleep", "300")
    kubectl("wait", "-n", namespace, "pod/plain", "--for=condition=Ready", "--timeout=20s")


def test_rollout_history_shows_the_change_cause(kubectl: Kubectl, namespace: str) -> None:
    kubectl("create", "deployment", "web", "-n", namespace, "--image=busybox", "--", "sleep", "300")
    kubectl("set", "image", "deployment/web", "-n", namespace, "busybox=busybox:1.36")
    kubectl("annotate", "deployment", "web", "-n", namespace, "kubernetes.io/change-cause=bump busybox")
    wait_for(lambda: "2         bump busybox" in kubectl("rollout", "history", "deployment/web", "-n",
                                                         namespace).stdout,
             timeout=20, what="the change-cause on revision 2")


STATEFULSET = """apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db}
spec:
  serviceName: db
  replicas: 2
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers: [{name: db, image: busybox, command: [sleep, "300"]}]
"""

DAEMONSET = """apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers: [{name: a, image: busybox, command: [sleep, "300"]}]
"""


def test_statefulset_runs_ordinal_pods_and_rolls_out(kubectl: Kubectl, namespace: str) -> None:
    kubectl("apply", "-n", namespace, "-f", "-", input=STATEFULSET)
    kubectl("rollout", "status", "statefulset/db", "-n", namespace, "--timeout=30s")
    names = kubectl("get", "pods", "-n", namespace, "-l", "app=db", "-o", "name").stdout.split()
    assert names == ["pod/db-0", "pod/db-1"]


def test_statefulset_rolling_update_replaces_every_pod(kubectl: Kubectl, namespace: str) -> None:
    kubectl("apply", "-n", namespace, "-f", "-", input=STATEFULSET)
    kubectl("rollout", "status", "statefulset/db", "-n", namespace, "--timeout=30s")
    kubectl("set", "image", "statefulset/db", "-n", namespace, "db=busybox:1.36")
    kubectl("rollout", "status", "statefulset/db", "-n", namespace, "--timeout=30s")
    status = json.loads(kubectl("get", "statefulset", "db", "-n", namespace, "-o", "json").stdout)["status"]
    assert status["currentRevision"] == status["updateRevision"] and status["updatedReplicas"] == 2


def test_daemonset_runs_one_pod_on_the_node_and_rolls_out(kubectl: Kubectl, namespace: str) -> None:
    kubectl("apply", "-n", namespace, "-f", "-", input=DAEMONSET)
    kubectl("rollout", "status", "daemonset/agent", "-n", namespace, "--timeout=30s")
    row = kubectl("get", "daemonset", "agent", "-n", namespace, "--no-headers").stdout.split()
    assert row[1:6] == ["1", "1", "1", "1", "1"]


# --- The node, cordoned ---------------------------------------------------------------------------------

def test_cordoned_node_leaves_new_pods_pending_until_uncordoned(kubectl: Kubectl, namespace: str) -> None:
    kubectl("cordon", "conveyor-sim")
    try:
        kubectl("run", "waiting", "-n", namespace, "--image=busybox", "--restart=Never", "--command", "--",
                "sleep", "300")

        def failed_scheduling() -> bool:
            out = kubectl("events", "-n", namespace, "--for", "pod/waiting", "-o", "json").stdout
            return any(e["reason"] == "FailedScheduling" for e in json.loads(out)["items"])

        wait_for(failed_scheduling, timeout=20, what="a FailedScheduling event")
        node = kubectl("get", "pod", "waiting", "-n", namespace, "-o", "jsonpath={.spec.nodeName}").stdout
        assert node == ""
    finally:
        kubectl("uncordon", "conveyor-sim")
    kubectl("wait", "-n", namespace, "pod/waiting", "--for=condition=Ready", "--timeout=20s")


# --- Services' endpoints -----------------------------------------------------------------------------------

def _exposed_deployment(kubectl: Kubectl, namespace: str) -> None:
    kubectl("create", "deployment", "web", "-n", namespace, "--image=busybox", "--port=8080", "--",
            "sleep", "300")
    kubectl("expose", "deployment", "web", "-n", namespace, "--port=80", "--target-port=8080")
    kubectl("rollout", "status", "deployment/web", "-n", namespace, "--timeout=30s")


def test_service_endpoints_list_its_ready_pods_on_the_target_port(kubectl: Kubectl, namespace: str) -> None:
    _exposed_deployment(kubectl, namespace)

    def subsets() -> list[dict[str, object]]:
        out = kubectl("get", "endpoints", "web", "-n", namespace, "-o", "json", check=False)
        return json.loads(out.stdout).get("subsets") or [] if out.returncode == 0 else []

    found = wait_for(subsets, timeout=20, what="endpoints of the service")
    assert found[0]["ports"] == [{"port": 8080, "protocol": "TCP"}]
    assert len(found[0]["addresses"]) == 1  # type: ignore[arg-type]


def test_describe_service_shows_endpoints_from_its_endpointslice(kubectl: Kubectl, namespace: str) -> None:
    _exposed_deployment(kubectl, namespace)
    wait_for(lambda: "Endpoints:                127.0.0.1:8080" in kubectl("describe", "service", "web", "-n",
                                                                            namespace).stdout,
             timeout=20, what="the service's endpoints in describe")
