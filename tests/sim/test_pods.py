"""Pods on the sim's kubelet, driven with real kubectl: env, config errors, logs, deletion, identity."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubetest import wait_for

from conveyor.sim.app import SimServer
from conveyor.sim.controllers import all_controllers

EXTERNAL = bool(os.environ.get("CONVEYOR_TEST_KUBECONFIG"))


@dataclass
class Cluster:
    """kubectl bound to one namespace, with the two calls every test here makes."""

    run: Callable[..., Any]
    namespace: str

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> Any:
        return self.run("-n", self.namespace, *args, input=stdin, check=check)

    def apply(self, manifest: dict[str, Any]) -> None:
        self.kubectl("apply", "-f", "-", stdin=yaml.safe_dump(manifest))

    def get(self, kind: str, name: str) -> dict[str, Any] | None:
        result = self.kubectl("get", kind, name, "-o", "json", check=False)
        return json.loads(result.stdout) if result.returncode == 0 else None


@pytest.fixture
def cluster(kubectl: Callable[..., Any], namespace: str) -> Cluster:
    return Cluster(kubectl, namespace)


def eventually(check: Callable[[], Any], timeout: float = 20.0) -> Any:
    return wait_for(check, timeout)


def pod(name: str, *command: str, restart: str = "Never", **spec: Any) -> dict[str, Any]:
    container = {
        "name": "main",
        "image": "python:3.11",
        "command": list(command),
        **spec.pop("container", {}),
    }
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"restartPolicy": restart, "containers": [container], **spec},
    }


def config_map(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def phase_of(cluster: Cluster, name: str) -> str | None:
    obj = cluster.get("pod", name)
    return (obj.get("status") or {}).get("phase") if obj else None


def waiting_state(cluster: Cluster, name: str) -> dict[str, Any] | None:
    """The first container's waiting state once it is a config error (None before that)."""
    statuses = ((cluster.get("pod", name) or {}).get("status") or {}).get("containerStatuses") or []
    waiting = statuses[0]["state"].get("waiting") if statuses else None
    return waiting if waiting and waiting["reason"] == "CreateContainerConfigError" else None


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(") ", 1)[1].startswith("Z"))


# -- the tests ---------------------------------------------------------------------------------------
def test_pod_runs_its_command_and_succeeds_with_its_output_in_logs(cluster: Cluster) -> None:
    cluster.apply(pod("hello", "python", "-c", "print('hello from a pod')"))
    eventually(lambda: phase_of(cluster, "hello") == "Succeeded")
    assert cluster.kubectl("logs", "hello").stdout == "hello from a pod\n"
    status = cluster.get("pod", "hello")["status"]  # type: ignore[index]
    assert status["podIP"] == "127.0.0.1"
    terminated = status["containerStatuses"][0]["state"]["terminated"]
    assert (terminated["exitCode"], terminated["reason"]) == (0, "Completed")


@pytest.mark.sim_only
def test_running_pod_is_ready_and_bound_to_the_sim_node(cluster: Cluster) -> None:
    cluster.apply(pod("sleeper", "sleep", "300"))
    cluster.kubectl("wait", "--for=condition=Ready", "pod/sleeper", "--timeout=20s")
    obj = cluster.get("pod", "sleeper")
    assert obj is not None
    assert obj["spec"]["nodeName"] == "conveyor-sim"
    assert obj["status"]["phase"] == "Running"
    assert "running" in obj["status"]["containerStatuses"][0]["state"]
    cluster.kubectl("delete", "pod", "sleeper", "--grace-period=1")


def test_env_comes_from_field_refs_and_config_map_keys(cluster: Cluster) -> None:
    cluster.apply(config_map("settings", color="blue"))
    env = [
        {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        {"name": "POD_NS", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}},
        {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
        {"name": "COLOR", "valueFrom": {"configMapKeyRef": {"name": "settings", "key": "color"}}},
        {"name": "GREETING", "value": "$(COLOR) sky"},
    ]
    cluster.apply(
        pod(
            "env", "sh", "-c", "echo $POD_NAME $POD_NS $POD_IP $COLOR; echo $GREETING", container={"env": env}
        )
    )
    eventually(lambda: phase_of(cluster, "env") == "Succeeded")
    assert cluster.kubectl("logs", "env").stdout == f"env {cluster.namespace} 127.0.0.1 blue\nblue sky\n"


def test_missing_config_map_keeps_the_pod_pending_with_create_container_config_error(
    cluster: Cluster,
) -> None:
    env = [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": "absent", "key": "k"}}}]
    cluster.apply(pod("waits", "sh", "-c", "echo $X", container={"env": env}))

    state = eventually(lambda: waiting_state(cluster, "waits"))
    assert state == {"reason": "CreateContainerConfigError", "message": 'configmap "absent" not found'}
    assert phase_of(cluster, "waits") == "Pending"
    cluster.apply(config_map("absent", k="now-here"))
    eventually(lambda: phase_of(cluster, "waits") == "Succeeded")
    assert cluster.kubectl("logs", "waits").stdout == "now-here\n"


@pytest.mark.sim_only
def test_missing_service_account_keeps_the_pod_pending(cluster: Cluster) -> None:
    cluster.apply(pod("nosa", "true", serviceAccountName="ghost"))
    waiting = eventually(lambda: waiting_state(cluster, "nosa"))
    assert waiting == {
        "reason": "CreateContainerConfigError",
        "message": f"error looking up service account {cluster.namespace}/ghost: "
        'serviceaccount "ghost" not found',
    }
    assert phase_of(cluster, "nosa") == "Pending"


def test_unknown_command_fails_the_container_with_a_clear_message(cluster: Cluster) -> None:
    cluster.apply(pod("bad", "no-such-binary-anywhere"))
    eventually(lambda: phase_of(cluster, "bad") == "Failed")
    terminated = cluster.get("pod", "bad")["status"]["containerStatuses"][0]["state"]["terminated"]  # type: ignore[index]
    assert terminated["reason"] == "StartError"
    assert 'exec: "no-such-binary-anywhere": executable file not found in $PATH' in terminated["message"]


def test_on_failure_restarts_the_container_and_counts_restarts(cluster: Cluster) -> None:
    cluster.apply(pod("flaky", "sh", "-c", "exit 1", restart="OnFailure"))
    eventually(
        lambda: (
            (cluster.get("pod", "flaky") or {})
            .get("status", {})
            .get("containerStatuses", [{}])[0]
            .get("restartCount", 0)
            >= 1
        )
    )
    assert phase_of(cluster, "flaky") == "Running"
    cluster.kubectl("delete", "pod", "flaky", "--grace-period=0")


@pytest.mark.sim_only
def test_delete_sends_sigterm_and_waits_for_the_process_before_removing_the_pod(
    cluster: Cluster, tmp_path: Path
) -> None:
    marker = tmp_path / "marker"
    code = (
        "import pathlib, signal, sys, time\n"
        "def bye(*_):\n"
        "    time.sleep(1.0)\n"
        f"    pathlib.Path({str(marker)!r}).write_text('clean exit')\n"
        "    sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, bye)\n"
        "print('ready', flush=True)\n"
        "time.sleep(300)\n"
    )
    cluster.apply(pod("graceful", "python", "-c", code, terminationGracePeriodSeconds=10))
    eventually(lambda: "ready" in cluster.kubectl("logs", "graceful", check=False).stdout)
    started = time.monotonic()
    cluster.kubectl("delete", "pod", "graceful")  # waits until the pod is gone
    assert time.monotonic() - started >= 1.0
    assert marker.read_text() == "clean exit"
    assert cluster.get("pod", "graceful") is None


def test_delete_kills_a_process_that_ignores_sigterm_after_the_grace_period(cluster: Cluster) -> None:
    code = (
        "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ready', flush=True)\ntime.sleep(300)"
    )
    cluster.apply(pod("stubborn", "python", "-c", code))
    eventually(lambda: "ready" in cluster.kubectl("logs", "stubborn", check=False).stdout)
    started = time.monotonic()
    cluster.kubectl("delete", "pod", "stubborn", "--grace-period=1")
    assert 1.0 <= time.monotonic() - started < 15
    assert cluster.get("pod", "stubborn") is None


def test_logs_of_a_multi_container_pod_need_a_container_name(cluster: Cluster) -> None:
    manifest = pod("two", "sh", "-c", "echo a")
    manifest["spec"]["containers"].append({"name": "side", "image": "x", "command": ["sh", "-c", "echo b"]})
    cluster.apply(manifest)
    eventually(lambda: phase_of(cluster, "two") == "Succeeded")
    # kubectl picks a default container itself; the API's own rule shows on a raw request.
    raw = cluster.kubectl("get", "--raw", f"/api/v1/namespaces/{cluster.namespace}/pods/two/log", check=False)
    assert "a container name must be specified for pod two, choose one of: [main side]" in raw.stderr
    assert cluster.kubectl("logs", "two", "-c", "side").stdout == "b\n"


def test_logs_tail_and_timestamps(cluster: Cluster) -> None:
    cluster.apply(pod("lines", "python", "-c", "for i in range(5): print(i)"))
    eventually(lambda: phase_of(cluster, "lines") == "Succeeded")
    assert cluster.kubectl("logs", "lines", "--tail=2").stdout == "3\n4\n"
    stamped = cluster.kubectl("logs", "lines", "--timestamps").stdout.splitlines()
    assert [line.split(" ", 1)[1] for line in stamped] == ["0", "1", "2", "3", "4"]
    assert all(line.split(" ", 1)[0].endswith("Z") for line in stamped)


@pytest.mark.sim_only
def test_previous_logs_are_those_of_the_last_run(cluster: Cluster, tmp_path: Path) -> None:
    counter = tmp_path / "n"
    code = (
        f"import pathlib; p = pathlib.Path({str(counter)!r}); n = int(p.read_text()) if p.exists() else 0;"
        "p.write_text(str(n + 1)); print('run', n); raise SystemExit(0 if n == 1 else 1)"
    )
    cluster.apply(pod("twice", "python", "-c", code, restart="OnFailure"))
    eventually(lambda: phase_of(cluster, "twice") == "Succeeded")
    assert cluster.kubectl("logs", "twice").stdout == "run 1\n"
    assert cluster.kubectl("logs", "twice", "--previous").stdout == "run 0\n"


@pytest.mark.sim_only
def test_pod_reaches_the_sim_as_its_service_account_with_the_injected_kubeconfig(
    cluster: Cluster, sim: SimServer
) -> None:
    cluster.apply({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "robot"}})
    cluster.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
                   "metadata": {"name": "pod-reader"},
                   "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}]})
    cluster.apply({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                   "metadata": {"name": "robot-reads-pods"},
                   "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
                   "subjects": [{"kind": "ServiceAccount", "name": "robot", "namespace": cluster.namespace}]})
    code = (
        "import os\nfrom kubernetes import client, config\n"
        "config.load_config()\n"
        "namespace = config.list_kube_config_contexts()[1]['context']['namespace']\n"
        "me = client.CoreV1Api().read_namespaced_pod(os.environ['HOSTNAME'], namespace)\n"
        "print(me.spec.service_account_name)\n"
        "import yaml\n"
        "print(yaml.safe_load(open(os.environ['KUBECONFIG']))['users'][0]['user']['token'])\n"
    )
    cluster.apply(pod("whoami", "python", "-c", code, serviceAccountName="robot"))
    eventually(lambda: phase_of(cluster, "whoami") in ("Succeeded", "Failed"), timeout=30)
    out = cluster.kubectl("logs", "whoami").stdout.split()
    assert phase_of(cluster, "whoami") == "Succeeded", cluster.kubectl("logs", "whoami").stdout
    assert out[0] == "robot"
    assert sim.api.user_for_token(out[1]) == f"system:serviceaccount:{cluster.namespace}:robot"


@pytest.mark.sim_only
def test_no_pod_process_outlives_the_sim(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    kubeconfig = tmp_path / "kubeconfig"
    with SimServer.run_in_thread(kubeconfig=kubeconfig, controllers=all_controllers()):
        manifest = pod("lingers", "sh", "-c", f"sleep 300 & echo $$$$ $! > {pids}; wait", restart="Always")
        subprocess.run(
            ["kubectl", "apply", "-n", "default", "-f", "-"],
            input=yaml.safe_dump(manifest),
            text=True,
            env={**os.environ, "KUBECONFIG": str(kubeconfig)},
            check=True,
            capture_output=True,
        )
        eventually(lambda: pids.exists() and len(pids.read_text().split()) == 2)
        found = [int(p) for p in pids.read_text().split()]
        assert all(alive(p) for p in found)
    eventually(lambda: not any(alive(p) for p in found), timeout=10)


def test_deleting_a_namespace_stops_its_pods_and_goes_away(cluster: Cluster) -> None:
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "worker"},
        "spec": {
            "template": {
                "spec": {
                    "restartPolicy": "Never",
                    "terminationGracePeriodSeconds": 1,
                    "containers": [{"name": "main", "image": "x", "command": ["sleep", "300"]}],
                }
            }
        },
    }
    cluster.apply(job)
    cluster.apply(pod("plain", "sleep", "300", terminationGracePeriodSeconds=1))
    eventually(lambda: phase_of(cluster, "plain") == "Running")
    eventually(
        lambda: any(
            (p.get("status") or {}).get("phase") == "Running"
            for p in json.loads(cluster.kubectl("get", "pods", "-o", "json").stdout)["items"]
            if p["metadata"]["name"].startswith("worker-")
        )
    )
    cluster.run("delete", "namespace", cluster.namespace, "--timeout=30s", timeout=40)
    assert cluster.run("get", "namespace", cluster.namespace, check=False).returncode != 0


def test_init_containers_run_in_order_before_the_main_container(cluster: Cluster) -> None:
    manifest = pod("staged", "sh", "-c", "echo main")
    manifest["spec"]["initContainers"] = [
        {"name": "first", "image": "x", "command": ["sh", "-c", "echo first"]},
        {"name": "second", "image": "x", "command": ["sh", "-c", "echo second"]},
    ]
    cluster.apply(manifest)
    eventually(lambda: phase_of(cluster, "staged") == "Succeeded")
    status = cluster.get("pod", "staged")["status"]  # type: ignore[index]
    starts = [s["state"]["terminated"]["startedAt"] for s in status["initContainerStatuses"]]
    assert starts == sorted(starts) and all(
        s["state"]["terminated"]["exitCode"] == 0 for s in status["initContainerStatuses"]
    )
    assert [cluster.kubectl("logs", "staged", "-c", c).stdout for c in ("first", "second", "main")] == [
        "first\n",
        "second\n",
        "main\n",
    ]


def test_failed_init_container_fails_a_never_restarting_pod_without_running_main(cluster: Cluster) -> None:
    manifest = pod("blocked", "sh", "-c", "echo main")
    manifest["spec"]["initContainers"] = [{"name": "gate", "image": "x", "command": ["sh", "-c", "exit 2"]}]
    cluster.apply(manifest)
    eventually(lambda: phase_of(cluster, "blocked") == "Failed")
    status = cluster.get("pod", "blocked")["status"]  # type: ignore[index]
    assert status["containerStatuses"][0]["state"] == {"waiting": {"reason": "PodInitializing"}}
    initialized = next(c for c in status["conditions"] if c["type"] == "Initialized")
    assert (initialized["status"], initialized["reason"]) == ("False", "ContainersNotInitialized")


@pytest.mark.sim_only
def test_config_map_volume_is_materialized_and_announced_by_env(cluster: Cluster) -> None:
    cluster.apply(config_map("files", **{"app.conf": "debug=1"}))
    manifest = pod(
        "mounted",
        "sh",
        "-c",
        "cat $CONVEYOR_SIM_MOUNT_CONF/app.conf",
        volumes=[{"name": "conf", "configMap": {"name": "files"}}],
        container={"volumeMounts": [{"name": "conf", "mountPath": "/etc/app"}]},
    )
    cluster.apply(manifest)
    eventually(lambda: phase_of(cluster, "mounted") == "Succeeded")
    assert cluster.kubectl("logs", "mounted").stdout == "debug=1"


@pytest.mark.sim_only
def test_readiness_probe_decides_when_a_running_container_is_ready(cluster: Cluster, tmp_path: Path) -> None:
    flag = tmp_path / "ready"
    probe = {"exec": {"command": ["test", "-e", str(flag)]}, "periodSeconds": 1}
    cluster.apply(
        pod("gated", "sleep", "300", terminationGracePeriodSeconds=1, container={"readinessProbe": probe})
    )
    eventually(lambda: phase_of(cluster, "gated") == "Running")
    assert cluster.get("pod", "gated")["status"]["containerStatuses"][0]["ready"] is False  # type: ignore[index]
    flag.write_text("")
    cluster.kubectl("wait", "--for=condition=Ready", "pod/gated", "--timeout=20s")


@pytest.mark.sim_only
def test_failing_liveness_probe_restarts_the_container(cluster: Cluster) -> None:
    probe = {"tcpSocket": {"port": 1}, "periodSeconds": 1, "failureThreshold": 1}
    cluster.apply(
        pod(
            "unhealthy",
            "sleep",
            "300",
            restart="Always",
            terminationGracePeriodSeconds=1,
            container={"livenessProbe": probe},
        )
    )
    eventually(
        lambda: (
            (cluster.get("pod", "unhealthy") or {})
            .get("status", {})
            .get("containerStatuses", [{}])[0]
            .get("restartCount", 0)
            >= 1
        )
    )
