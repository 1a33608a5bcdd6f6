"""The conformance probe, helm half: helm 4's install/upgrade/rollback paths that lean on the
server: hooks (Jobs it waits on with kstatus), `--wait`, `helm test`, rollback on failure and
`template --validate`. The basic install/upgrade/uninstall round trip is in test_helm.py.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

Kubectl = Callable[..., "subprocess.CompletedProcess[str]"]  # the `kubectl` fixture of tests/conftest.py

HOOK_JOB = """apiVersion: batch/v1
kind: Job
metadata:
  name: "{{{{ .Release.Name }}}}-{name}"
  annotations:
    "helm.sh/hook": "{hooks}"
    "helm.sh/hook-delete-policy": "{policy}"
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers:
      - name: c
        image: busybox
        command: ["sh", "-c", "echo {name}; {{{{ if .Values.fail }}}}exit 1{{{{ end }}}}"]
"""

CHART = {
    "Chart.yaml": "apiVersion: v2\nname: probe\nversion: 0.1.0\n",
    "values.yaml": "fail: false\nmessage: one\n",
    "templates/configmap.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: \"{{ .Release.Name }}-cfg\"\n"
        "data:\n  message: {{ .Values.message | quote }}\n"
    ),
    "templates/deployment.yaml": (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: \"{{ .Release.Name }}-app\"\nspec:\n"
        "  replicas: 1\n  selector: {matchLabels: {app: probe}}\n  template:\n"
        "    metadata: {labels: {app: probe}}\n    spec:\n      containers:\n      - name: app\n"
        "        image: busybox\n        command: [sleep, \"300\"]\n"
    ),
    "templates/statefulset.yaml": (
        "apiVersion: apps/v1\nkind: StatefulSet\nmetadata:\n  name: \"{{ .Release.Name }}-db\"\nspec:\n"
        "  serviceName: db\n  replicas: 1\n  selector: {matchLabels: {app: probe-db}}\n  template:\n"
        "    metadata: {labels: {app: probe-db}}\n    spec:\n      containers:\n      - name: db\n"
        "        image: busybox\n        command: [sleep, \"300\"]\n"
    ),
    "templates/pre.yaml": HOOK_JOB.format(name="pre", hooks="pre-install,pre-upgrade",
                                          policy="before-hook-creation"),
    "templates/post.yaml": HOOK_JOB.format(name="post", hooks="post-install", policy="hook-succeeded"),
    "templates/test.yaml": (
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: \"{{ .Release.Name }}-test\"\n"
        "  annotations: {\"helm.sh/hook\": test}\nspec:\n  restartPolicy: Never\n"
        "  containers: [{name: t, image: busybox, command: [sh, -c, \"echo tested\"]}]\n"
    ),
}


@pytest.fixture
def chart(tmp_path: Path) -> str:
    for name, text in CHART.items():
        path = tmp_path / "probe" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return str(tmp_path / "probe")


@pytest.fixture
def helm(kubeconfig: str, tmp_path: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    env = {**os.environ, "KUBECONFIG": kubeconfig, "HELM_CACHE_HOME": str(tmp_path / "cache"),
           "HELM_CONFIG_HOME": str(tmp_path / "config"), "HELM_DATA_HOME": str(tmp_path / "data")}

    def call(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(["helm", *args], capture_output=True, text=True, timeout=120, env=env)
        if check and proc.returncode != 0:
            raise AssertionError(f"helm {' '.join(args)} failed:\n{proc.stderr}")
        return proc

    return call


def test_install_wait_runs_hooks_and_deletes_succeeded_ones(helm, kubectl: Kubectl, namespace: str,
                                                            chart: str) -> None:
    helm("install", "r", chart, "-n", namespace, "--wait", "--timeout", "60s")
    ready = kubectl("get", "deployment", "r-app", "-n", namespace, "-o", "jsonpath={.status.readyReplicas}")
    assert ready.stdout == "1"
    db = kubectl("get", "statefulset", "r-db", "-n", namespace, "-o", "jsonpath={.status.readyReplicas}")
    assert db.stdout == "1"
    pre = kubectl("get", "job", "r-pre", "-n", namespace, "-o", "jsonpath={.status.succeeded}")
    assert pre.stdout == "1"
    assert kubectl("get", "job", "r-post", "-n", namespace, check=False).returncode != 0  # hook-succeeded


def test_helm_test_runs_the_test_pod_and_shows_its_logs(helm, namespace: str, chart: str) -> None:
    helm("install", "r", chart, "-n", namespace, "--wait", "--timeout", "60s")
    out = helm("test", "r", "-n", namespace, "--logs", "--timeout", "60s").stdout
    assert "Phase:          Succeeded" in out
    assert "tested" in out


def test_failed_pre_upgrade_hook_rolls_back_on_failure(helm, kubectl: Kubectl, namespace: str,
                                                       chart: str) -> None:
    helm("install", "r", chart, "-n", namespace, "--wait", "--timeout", "60s")
    proc = helm("upgrade", "r", chart, "-n", namespace, "--set", "fail=true", "--set", "message=two",
                "--rollback-on-failure", "--timeout", "30s", check=False)
    assert proc.returncode != 0
    assert "pre-upgrade hooks failed" in proc.stderr and "Job Failed" in proc.stderr
    history = helm("history", "r", "-n", namespace).stdout
    assert "Rollback to 1" in history.splitlines()[-1] and "deployed" in history.splitlines()[-1]
    message = kubectl("get", "configmap", "r-cfg", "-n", namespace, "-o", "jsonpath={.data.message}")
    assert message.stdout == "one"


def test_failed_install_with_rollback_on_failure_uninstalls(helm, namespace: str, chart: str) -> None:
    proc = helm("install", "r", chart, "-n", namespace, "--set", "fail=true", "--rollback-on-failure",
                "--timeout", "30s", check=False)
    assert proc.returncode != 0
    assert "has been uninstalled" in proc.stderr
    assert helm("status", "r", "-n", namespace, check=False).returncode != 0


def test_rollback_restores_the_earlier_values(helm, kubectl: Kubectl, namespace: str, chart: str) -> None:
    helm("install", "r", chart, "-n", namespace, "--wait", "--timeout", "60s")
    helm("upgrade", "r", chart, "-n", namespace, "--set", "message=two", "--wait", "--timeout", "60s")
    helm("rollback", "r", "1", "-n", namespace, "--wait", "--timeout", "60s")
    message = kubectl("get", "configmap", "r-cfg", "-n", namespace, "-o", "jsonpath={.data.message}")
    assert message.stdout == "one"


def test_template_validate_checks_against_the_server(helm, chart: str) -> None:
    out = helm("template", "r", chart, "--validate").stdout
    assert "kind: Deployment" in out
