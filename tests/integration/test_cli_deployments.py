"""`conveyor deployments ...` and `conveyor workflows list` against a cluster."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from operator_harness import Cluster

from conveyor.cli.deployments import deployments
from conveyor.cli.workflows import workflows

WEB = """\
apiVersion: conveyor.dev/v1alpha1
kind: Deployment
metadata: {name: web}
spec:
  inputs: {replicas: 3}
  workflows:
    install:
      mapping: web_workflows.install
      description: Install the web app.
      parameters:
        target: {type: string, description: where to}
        timeout: {type: integer, default: 60}
"""


@pytest.fixture
def cli(kubeconfig: str, namespace: str, cluster: Cluster) -> Callable[..., Result]:
    def run(group: object, *args: str, input: str | None = None) -> Result:
        options = ["--kubeconfig", kubeconfig, "-n", namespace, "--operator-namespace", namespace]
        return CliRunner().invoke(group, [*args, *options], input=input, catch_exceptions=False)  # type: ignore[arg-type]

    return run


def test_create_from_a_file_then_list_and_get(cli: Callable[..., Result], tmp_path: Path) -> None:
    path = tmp_path / "web.yaml"
    path.write_text(WEB)
    created = cli(deployments, "create", "-f", str(path))
    assert created.exit_code == 0, created.stderr
    assert created.stdout.strip() == "deployment.conveyor.dev/web created"
    listed = cli(deployments, "list")
    assert listed.stdout.splitlines()[1].split()[:2] == ["web", "install"]
    shown = json.loads(cli(deployments, "get", "web", "-o", "json").stdout)
    assert shown["spec"]["inputs"] == {"replicas": 3}


def test_create_from_standard_input(cli: Callable[..., Result]) -> None:
    result = cli(deployments, "create", "-f", "-", input=WEB)
    assert result.exit_code == 0, result.stderr


def test_creating_an_existing_deployment_fails(cli: Callable[..., Result]) -> None:
    cli(deployments, "create", "-f", "-", input=WEB)
    again = cli(deployments, "create", "-f", "-", input=WEB)
    assert again.exit_code == 1
    assert "already exists" in again.stderr


def test_an_invalid_file_creates_nothing(cli: Callable[..., Result], cluster: Cluster) -> None:
    broken = WEB + "---\n" + WEB.replace("name: web", "name: bad").replace("type: string", "type: text")
    result = cli(deployments, "create", "-f", "-", input=broken)
    assert result.exit_code == 1
    assert "document 2 (bad)" in result.stderr
    assert "No deployments found" in cli(deployments, "list").stderr


def test_delete(cli: Callable[..., Result]) -> None:
    cli(deployments, "create", "-f", "-", input=WEB)
    result = cli(deployments, "delete", "web")
    assert result.exit_code == 0, result.stderr
    assert cli(deployments, "delete", "web").exit_code == 1


def test_workflows_list_shows_declared_parameters(cli: Callable[..., Result]) -> None:
    cli(deployments, "create", "-f", "-", input=WEB)
    result = cli(workflows, "list", "-d", "web")
    assert result.exit_code == 0, result.stderr
    rows = [line.split()[:6] for line in result.stdout.splitlines()[1:]]
    assert ["install", "web_workflows.install", "target", "string", "yes", "-"] in rows
    assert ["install", "web_workflows.install", "timeout", "integer", "no", "60"] in rows


def test_workflows_list_without_deployment_shows_the_system_wide_ones(cli: Callable[..., Result]) -> None:
    result = cli(workflows, "list", "-o", "json")
    assert result.exit_code == 0, result.stderr
    assert set(json.loads(result.stdout)) >= {"create_snapshot", "restore_snapshot"}


def test_workflows_of_an_unknown_deployment(cli: Callable[..., Result]) -> None:
    result = cli(workflows, "list", "-d", "nope")
    assert result.exit_code == 1
    assert "deployment nope not found" in result.stderr
