"""`helm install` of charts/conveyor into the local control plane brings up a working operator.

The sim's Deployment controller and kubelet run the chart's operator pod (`conveyor operator ...`,
in this venv); the operator admits an Execution applied with kubectl and starts its worker Job
(`conveyor worker ...`), which runs the workflow from a source ConfigMap to `terminated`.

Sim-only: on a real cluster the image would have to be built and loaded first (the kind job in
.github/workflows/e2e.yaml installs the chart that way). Two deviations from the defaults, both for
the sim's single shared network namespace: one replica, and a free metrics port (two replicas
would both bind it). The operator watches only the test's namespace (and its own), so it never
touches other tests' objects.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubetest import wait_for

from conveyor.cli.main import main as conveyor_cli

pytestmark = pytest.mark.sim_only

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "conveyor"
MISSING_COMMANDS = sorted({"operator", "worker"} - set(conveyor_cli.commands))
needs_cli = pytest.mark.skipif(
    bool(MISSING_COMMANDS), reason=f"conveyor {MISSING_COMMANDS} not registered in conveyor/cli/main.py"
)

WORKFLOWS = """\
from conveyor.workflows import workflow


@workflow
def hello(ctx, greeting="hello"):
    ctx.logger.info("%s from the chart's worker", greeting)
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Helm:
    def __init__(self, kubeconfig: str, home: Path) -> None:
        self.env = {
            **os.environ,
            "KUBECONFIG": kubeconfig,
            "HELM_CACHE_HOME": str(home / "cache"),
            "HELM_CONFIG_HOME": str(home / "config"),
            "HELM_DATA_HOME": str(home / "data"),
        }

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(["helm", *args], capture_output=True, text=True, env=self.env, timeout=180)
        if check and proc.returncode != 0:
            raise AssertionError(f"helm {' '.join(args)} failed:\n{proc.stderr}")
        return proc


@pytest.fixture
def release(kubeconfig: str, kubectl: Any, namespace: str, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """(release, its namespace): the chart installed, watching `namespace`; uninstalled afterwards."""
    name = f"conveyor-{uuid.uuid4().hex[:6]}"  # contains the chart name: objects are named after it
    release_namespace = f"{name}-system"
    port = _free_port()
    helm = Helm(kubeconfig, tmp_path / "helm")
    helm(
        "install", name, str(CHART),
        "--namespace", release_namespace, "--create-namespace",
        # the CRDs may already be there, applied by other tests with kubectl
        "--take-ownership",
        "--set", "image.repository=conveyor.local/conveyor",
        "--set", "image.tag=test",
        "--set", "operator.replicas=1",
        "--set", f"metrics.port={port}",
        "--set", f"metrics.service.port={port}",
        "--set", f"watchNamespaces={{{namespace}}}",
        "--set", "operator.readinessProbe.periodSeconds=1",
    )  # fmt: skip
    try:
        yield name, release_namespace
    finally:
        # while the operator still runs, so it takes its finalizers off and the namespace can go
        kubectl(
            "delete", "executions.conveyor.dev,deployments.conveyor.dev", "--all", "-n", namespace,
            "--timeout=30s", check=False, timeout=40,
        )  # fmt: skip
        helm("uninstall", name, "--namespace", release_namespace, "--wait", "--timeout", "60s", check=False)
        kubectl("delete", "namespace", release_namespace, "--wait=false", "--ignore-not-found", check=False)


def _rollout(kubectl: Any, release: tuple[str, str]) -> None:
    name, release_namespace = release
    kubectl(
        "rollout", "status", f"deployment/{name}-operator", "-n", release_namespace, "--timeout=90s",
        timeout=100,
    )  # fmt: skip


@needs_cli
def test_chart_brings_up_an_available_operator(kubectl: Any, release: tuple[str, str]) -> None:
    _rollout(kubectl, release)
    name, release_namespace = release
    deployment = json.loads(
        kubectl("get", "deployment", f"{name}-operator", "-n", release_namespace, "-o", "json").stdout
    )
    assert deployment["status"]["availableReplicas"] == 1


@needs_cli
def test_execution_applied_with_kubectl_runs_to_terminated(
    kubectl: Any, namespace: str, release: tuple[str, str]
) -> None:
    _rollout(kubectl, release)
    manifest = f"""\
apiVersion: v1
kind: ConfigMap
metadata: {{name: hello-workflows, namespace: {namespace}}}
data:
  hello_flows.py: {json.dumps(WORKFLOWS)}
---
apiVersion: conveyor.dev/v1alpha1
kind: Deployment
metadata: {{name: hello, namespace: {namespace}}}
spec:
  source: {{configMap: hello-workflows}}
  worker: {{idleTimeoutSeconds: 5}}
  workflows:
    greet:
      mapping: hello_flows.hello
      parameters: {{greeting: {{type: string, default: hello}}}}
"""
    kubectl("apply", "-f", "-", input=manifest)
    created = kubectl(
        "create", "-o", "name", "-f", "-",
        input=(
            "apiVersion: conveyor.dev/v1alpha1\nkind: Execution\n"
            f"metadata: {{generateName: greet-, namespace: {namespace}}}\n"
            "spec: {deployment: hello, workflow: greet, parameters: {greeting: hi}}\n"
        ),
    ).stdout.strip()  # fmt: skip

    def final_status() -> dict[str, Any] | None:
        obj = json.loads(kubectl("get", created, "-n", namespace, "-o", "json").stdout)
        status: dict[str, Any] = obj.get("status") or {}
        return status if status.get("phase") in ("terminated", "failed", "cancelled") else None

    status = wait_for(final_status, timeout=90, what=f"{created} to end")
    assert status["phase"] == "terminated", status
