"""helm 4 installs, upgrades and uninstalls a small chart."""

from __future__ import annotations

import os
import subprocess

CHART = {
    "Chart.yaml": "apiVersion: v2\nname: tiny\nversion: 0.1.0\n",
    "values.yaml": "greeting: hello\nreplicas: 1\n",
    "templates/configmap.yaml": (
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-cfg\n"
        "data:\n  greeting: {{ .Values.greeting | quote }}\n"
    ),
    "templates/deployment.yaml": (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}-app\nspec:\n"
        "  replicas: {{ .Values.replicas }}\n  selector: {matchLabels: {app: tiny}}\n  template:\n"
        "    metadata: {labels: {app: tiny}}\n    spec:\n      containers:\n      - name: app\n"
        "        image: busybox\n        ports: [{containerPort: 8080}]\n"
    ),
    "templates/service.yaml": (
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {{ .Release.Name }}-svc\n"
        "spec:\n  selector: {app: tiny}\n  ports: [{port: 80, targetPort: 8080, protocol: TCP}]\n"
    ),
}


def _helm(kubeconfig, *args):
    proc = subprocess.run(
        ["helm", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **os.environ,
            "KUBECONFIG": kubeconfig,
            "HELM_CACHE_HOME": "/tmp/helm-cache",
            "HELM_CONFIG_HOME": "/tmp/helm-config",
            "HELM_DATA_HOME": "/tmp/helm-data",
        },
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_helm_install_upgrade_uninstall(kubeconfig, kubectl, namespace, tmp_path):
    for name, text in CHART.items():
        path = tmp_path / "tiny" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    chart = str(tmp_path / "tiny")
    _helm(kubeconfig, "install", "rel", chart, "-n", namespace)
    assert (
        kubectl("get", "configmap", "rel-cfg", "-n", namespace, "-o", "jsonpath={.data.greeting}").stdout
        == "hello"
    )
    _helm(
        kubeconfig, "upgrade", "rel", chart, "-n", namespace, "--set", "greeting=bye", "--set", "replicas=2"
    )
    assert (
        kubectl("get", "configmap", "rel-cfg", "-n", namespace, "-o", "jsonpath={.data.greeting}").stdout
        == "bye"
    )
    assert (
        kubectl("get", "deployment", "rel-app", "-n", namespace, "-o", "jsonpath={.spec.replicas}").stdout
        == "2"
    )
    assert "rel" in _helm(kubeconfig, "list", "-n", namespace)
    _helm(kubeconfig, "uninstall", "rel", "-n", namespace, "--wait")
    assert kubectl("get", "configmap", "rel-cfg", "-n", namespace, check=False).returncode != 0
    assert kubectl("get", "secrets", "-n", namespace, "-l", "owner=helm", "-o", "name").stdout.strip() == ""
