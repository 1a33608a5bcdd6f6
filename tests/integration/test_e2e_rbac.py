"""End to end under RBAC: the chart's own permissions are enough, and no more is assumed.

A local control plane of its own enforces RBAC and admission policies. The chart's ServiceAccounts,
(Cluster)Roles and bindings, and its worker isolation policy, are installed from `helm template`;
the operator runs as the chart's operator ServiceAccount (a token from `kubectl create token`), and
each deployment's worker pods run as `conveyor-worker-<deployment>`, whose ServiceAccount and
RoleBinding the operator makes in a namespace the chart never heard of.
(tests/integration/test_worker_isolation.py shares these fixtures.)
"""

from __future__ import annotations

import subprocess
import textwrap
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import config
from kubetest import kubectl_at, wait_for
from operator_harness import Cluster, OperatorThread

from conveyor.controller.runtime import OperatorOptions

pytestmark = pytest.mark.sim_only

REPO = Path(__file__).resolve().parents[2]
RELEASE, OPERATOR_NAMESPACE = "conveyor", "conveyor-system"
ACCESS_KINDS = {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding",
                "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"}
WORKER_TIMEOUT = 60.0

FLOWS = textwrap.dedent(
    """
    from conveyor.workflows import workflow


    @workflow
    def hello(ctx):
        ctx.logger.info("hello under RBAC")
    """
)


def _chart_access_control() -> list[dict[str, Any]]:
    """RBAC and the worker isolation policy, as the chart renders them."""
    helm = REPO / ".tools" / "bin" / "helm"
    proc = subprocess.run(
        [str(helm), "template", RELEASE, str(REPO / "charts" / "conveyor"), "--namespace", OPERATOR_NAMESPACE,
         "--set", "crds.install=false"],
        capture_output=True, text=True, timeout=120, check=True,
    )
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc and doc["kind"] in ACCESS_KINDS]


@pytest.fixture(scope="module")
def rbac_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    from conveyor.sim.app import SimServer
    from conveyor.sim.controllers import all_controllers
    from conveyor.sim.kubelet.logs import serve_pod_log

    kubeconfig = tmp_path_factory.mktemp("rbac-e2e") / "kubeconfig"
    with SimServer.run_in_thread(
        kubeconfig=kubeconfig, controllers=all_controllers(), authorization="RBAC"
    ) as server:
        if not getattr(server.api, "server_url", None):
            server.api.server_url = server.url
        if server.app.log_handler is None:
            server.app.register_log_handler(serve_pod_log)
        admin = kubectl_at(str(server.kubeconfig))
        admin("apply", "-f", str(REPO / "crds"))
        for crd in ("deployments.conveyor.dev", "executions.conveyor.dev"):
            admin("wait", "--for=condition=Established", f"crd/{crd}", "--timeout=30s")
        admin("create", "namespace", OPERATOR_NAMESPACE)
        admin("apply", "-f", "-", input=yaml.safe_dump_all(_chart_access_control()))
        yield server


@pytest.fixture
def admin(rbac_sim: Any) -> Callable[..., Any]:
    return kubectl_at(str(rbac_sim.kubeconfig))


@pytest.fixture
def operator_kubeconfig(rbac_sim: Any, admin: Callable[..., Any], tmp_path: Path) -> str:
    """The admin's kubeconfig with the chart's operator ServiceAccount's token in place of its own."""
    token = admin("create", "token", f"{RELEASE}-operator", "-n", OPERATOR_NAMESPACE).stdout.strip()
    kubeconfig = yaml.safe_load(Path(str(rbac_sim.kubeconfig)).read_text())
    for user in kubeconfig["users"]:
        user["user"] = {"token": token}
    path = tmp_path / "operator-kubeconfig"
    path.write_text(yaml.safe_dump(kubeconfig))
    return str(path)


@pytest.fixture
def shop(rbac_sim: Any, admin: Callable[..., Any], operator_kubeconfig: str) -> Iterator[Cluster]:
    """A namespace the chart does not know, an operator (as its ServiceAccount) watching it."""
    namespace = f"shop-{uuid.uuid4().hex[:6]}"
    admin("create", "namespace", namespace)
    api = config.new_client_from_config(config_file=str(rbac_sim.kubeconfig))
    cluster = Cluster(api, namespace, admin)
    source = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "flows", "namespace": namespace},
              "data": {"flows.py": FLOWS}}
    deployment = {
        "apiVersion": "conveyor.dev/v1alpha1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": namespace},
        "spec": {"source": {"configMap": "flows"}, "workflows": {"hello": {"mapping": "flows.hello"}}},
    }
    admin("apply", "-f", "-", input=yaml.safe_dump_all([source, deployment]))
    thread = OperatorThread(
        OperatorOptions(
            operator_namespace=OPERATOR_NAMESPACE,
            namespaces=[namespace],
            kubeconfig=operator_kubeconfig,
            metrics_port=0,
            identity=f"rbac-{namespace}",
            lease_check_interval=0.5,
        )
    ).start()
    yield cluster
    thread.stop()
    cluster.clear_finalizers()
    admin("delete", "namespace", namespace, "--wait=false", check=False)
    api.close()


def test_with_the_chart_rbac_an_execution_runs_on_a_worker_in_a_namespace_the_chart_never_saw(
    shop: Cluster,
) -> None:
    name = shop.execution("web", "hello")
    status = shop.wait_phase(name, "terminated", "failed", timeout=WORKER_TIMEOUT)["status"]
    assert status["phase"] == "terminated", status


def test_without_the_worker_cluster_role_the_execution_fails_saying_what_is_missing(
    rbac_sim: Any, admin: Callable[..., Any], shop: Cluster
) -> None:
    role = admin("get", "clusterrole", "conveyor-worker", "-o", "yaml").stdout
    admin("delete", "clusterrole", "conveyor-worker")
    try:
        name = shop.execution("web", "hello")
        status = shop.wait_phase(name, "failed", "terminated", timeout=WORKER_TIMEOUT)["status"]
    finally:
        kept = yaml.safe_load(role)
        for field in ("resourceVersion", "uid", "creationTimestamp", "managedFields"):
            kept["metadata"].pop(field, None)
        admin("apply", "-f", "-", input=yaml.safe_dump(kept))
    assert status["phase"] == "failed"
    assert "ClusterRole conveyor-worker is missing" in status["error"]
    wait_for(lambda: "WorkerUnavailable" in shop.events_for("web"), 10, "an Event on the Deployment")
