"""`kubernetes` plugin: which failures a retry may fix, and refusals before any API call."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
import yaml

from conveyor.plugins import kubernetes
from conveyor.plugins.kube.client import KubeApiError
from conveyor.workflows import (
    DeploymentInfo,
    MemoryReporter,
    NonRecoverableError,
    OperationContext,
    RecoverableError,
    Task,
    WorkflowContext,
)

MANIFEST = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a"}}


def op_ctx() -> OperationContext:
    workflow = WorkflowContext(
        execution_name="x",
        workflow_name="install",
        deployment=DeploymentInfo("web", "shop"),
        reporter=MemoryReporter(),
    )
    return workflow.operation_context(Task("op", "op", "kubernetes.apply", None, {}, 0, 0.0), attempt=1)


@pytest.fixture
def unreachable_kubeconfig(tmp_path: Path) -> str:
    """A kubeconfig naming a local port nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}],
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    return str(path)


@pytest.mark.parametrize("status", [0, 429, 500, 503, 504])
def test_unreachable_throttled_and_server_errors_are_transient(status: int) -> None:
    assert KubeApiError(status, "r", "m").transient


@pytest.mark.parametrize("status", [400, 403, 404, 409, 422])
def test_client_errors_are_not_transient(status: int) -> None:
    assert not KubeApiError(status, "r", "m").transient


def test_an_unreachable_api_server_is_a_recoverable_error(unreachable_kubeconfig: str) -> None:
    with pytest.raises(RecoverableError, match="Unreachable"):
        kubernetes.apply(op_ctx(), manifests=MANIFEST, kubeconfig=unreachable_kubeconfig)


def test_unloadable_credentials_fail_for_good(tmp_path: Path) -> None:
    with pytest.raises(NonRecoverableError, match="cannot load API credentials"):
        kubernetes.apply(op_ctx(), manifests=MANIFEST, kubeconfig=str(tmp_path / "absent"))


def test_manifests_and_config_map_are_exclusive(unreachable_kubeconfig: str) -> None:
    with pytest.raises(NonRecoverableError, match="either `manifests`"):
        kubernetes.apply(op_ctx(), manifests=MANIFEST, config_map="m", kubeconfig=unreachable_kubeconfig)


def test_another_target_namespace_is_refused_before_any_api_call(unreachable_kubeconfig: str) -> None:
    with pytest.raises(NonRecoverableError, match="namespace 'bank' refused"):
        kubernetes.apply(op_ctx(), manifests=MANIFEST, namespace="bank", kubeconfig=unreachable_kubeconfig)


def test_wait_without_a_condition_on_a_kind_without_rollout_fails_for_good(
    unreachable_kubeconfig: str,
) -> None:
    with pytest.raises(NonRecoverableError, match="api_version"):
        kubernetes.wait(op_ctx(), kind="Widget", name="w", kubeconfig=unreachable_kubeconfig)


def test_the_plugin_exports_exactly_its_operations() -> None:
    assert sorted(kubernetes.__all__) == ["apply", "delete", "get", "wait"]
