"""A deployment's worker may touch only its own deployment's Executions (issue 8).

RBAC alone cannot say so (it does not select by label or field): every worker of a namespace holds
the same ClusterRole. Each deployment's worker runs as its own ServiceAccount
`conveyor-worker-<deployment>`, and the chart's ValidatingAdmissionPolicy holds that account to
Executions whose `spec.deployment` is its deployment. Here both are installed from the chart on a
local control plane that enforces RBAC and admission policies (the fixtures of test_e2e_rbac.py),
and the rule is checked with the workers' own tokens, then end to end with real worker Jobs.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import test_e2e_rbac
import yaml
from kubernetes import client, config
from kubernetes.client.rest import ApiException
from kubetest import wait_for
from operator_harness import Cluster, OperatorThread
from test_e2e_rbac import FLOWS, OPERATOR_NAMESPACE, WORKER_TIMEOUT

from conveyor.api.models import Deployment
from conveyor.api.names import GROUP, VERSION, worker_job_name
from conveyor.controller.runtime import OperatorOptions
from conveyor.controller.worker_identity import (
    MAX_DEPLOYMENT_NAME_LENGTH,
    build_worker_role_binding,
    build_worker_service_account,
    managed_identity_of,
)
from conveyor.controller.worker_job import build_worker_job
from conveyor.controller.worker_policy import MESSAGE_CREATE_DELETE, OWN_DEPLOYMENT_ONLY

pytestmark = pytest.mark.sim_only

FORBIDDEN = 403
rbac_sim, admin = test_e2e_rbac.rbac_sim, test_e2e_rbac.admin
operator_kubeconfig = test_e2e_rbac.operator_kubeconfig
"""The fixtures of test_e2e_rbac.py: a control plane enforcing RBAC and policies, with the chart's."""


def _deployment(namespace: str, name: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}", "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"source": {"configMap": "flows"}, "workflows": {"hello": {"mapping": "flows.hello"}}},
    }


def _namespace_with_deployments(kubectl: Callable[..., Any], *names: str) -> str:
    namespace = f"iso-{uuid.uuid4().hex[:6]}"
    kubectl("create", "namespace", namespace)
    source = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "flows", "namespace": namespace},
              "data": {"flows.py": FLOWS}}
    deployments = [_deployment(namespace, name) for name in names]
    kubectl("apply", "-f", "-", input=yaml.safe_dump_all([source, *deployments]))
    return namespace


# ----- the rule, with the workers' own tokens (no operator: the accounts are made as it makes them) ---


class Tenancy:
    """A namespace with Deployments `a` and `b`, one Execution of each, and `a`'s worker identity."""

    def __init__(self, sim: Any, kubectl: Callable[..., Any], tmp_path: Path) -> None:
        self.admin = kubectl
        self.namespace = _namespace_with_deployments(kubectl, "a", "b")
        self.executions = {name: self._create_execution(name) for name in ("a", "b")}
        deployment = yaml.safe_load(kubectl("get", "cvd", "a", "-n", self.namespace, "-o", "yaml").stdout)
        job = build_worker_job(
            Deployment.model_validate(deployment), default_image="img", operator_namespace=OPERATOR_NAMESPACE
        )
        identity = managed_identity_of(job)
        assert identity is not None
        kubectl("apply", "-f", "-", input=yaml.safe_dump_all(
            [build_worker_service_account(identity), build_worker_role_binding(identity)]
        ))
        token = kubectl("create", "token", identity.service_account, "-n", self.namespace).stdout.strip()
        kubeconfig = yaml.safe_load(Path(str(sim.kubeconfig)).read_text())
        for user in kubeconfig["users"]:
            user["user"] = {"token": token}
        path = tmp_path / "worker-a-kubeconfig"
        path.write_text(yaml.safe_dump(kubeconfig))
        self.worker_api = config.new_client_from_config(config_file=str(path))
        self.as_worker_a = client.CustomObjectsApi(self.worker_api)

    def _create_execution(self, deployment: str) -> str:
        manifest = {
            "apiVersion": f"{GROUP}/{VERSION}", "kind": "Execution",
            "metadata": {"generateName": f"{deployment}-", "namespace": self.namespace},
            "spec": {"deployment": deployment, "workflow": "hello"},
        }
        out = self.admin("create", "-o", "name", "-f", "-", input=yaml.safe_dump(manifest)).stdout
        return str(out.strip().split("/")[-1])

    def patch_status_as_worker_a(self, deployment: str) -> Any:
        return self.as_worker_a.patch_namespaced_custom_object_status(
            GROUP, VERSION, self.namespace, "executions", self.executions[deployment],
            {"status": {"phase": "started", "worker": "worker-a-pod"}},
        )

    def grant_worker_a(self, verbs: list[str]) -> None:
        """More than the chart grants: what the policy must refuse even then."""
        role = {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "too-generous", "namespace": self.namespace},
            "rules": [{"apiGroups": [GROUP], "resources": ["executions"], "verbs": verbs}],
        }
        binding = {
            "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "too-generous", "namespace": self.namespace},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "too-generous"},
            "subjects": [
                {"kind": "ServiceAccount", "name": "conveyor-worker-a", "namespace": self.namespace}
            ],
        }
        self.admin("apply", "-f", "-", input=yaml.safe_dump_all([role, binding]))

    def close(self) -> None:
        self.worker_api.close()
        self.admin("delete", "namespace", self.namespace, "--wait=false", check=False)


@pytest.fixture
def tenancy(rbac_sim: Any, admin: Callable[..., Any], tmp_path: Path) -> Iterator[Tenancy]:
    tenancy = Tenancy(rbac_sim, admin, tmp_path)
    yield tenancy
    tenancy.close()


def _forbidden(call: Callable[[], Any]) -> str:
    with pytest.raises(ApiException) as raised:
        call()
    assert raised.value.status == FORBIDDEN, raised.value.body
    return str(raised.value.body)


def test_a_worker_may_patch_the_status_of_its_own_deployments_execution(tenancy: Tenancy) -> None:
    patched = tenancy.patch_status_as_worker_a("a")
    assert patched["status"]["phase"] == "started"


def test_a_worker_gets_403_patching_another_deployments_execution_in_its_namespace(tenancy: Tenancy) -> None:
    body = _forbidden(lambda: tenancy.patch_status_as_worker_a("b"))
    assert OWN_DEPLOYMENT_ONLY in body
    assert '"reason":"Forbidden"' in body.replace(" ", "")


def test_a_worker_may_not_relabel_another_deployments_execution(tenancy: Tenancy) -> None:
    body = _forbidden(lambda: tenancy.as_worker_a.patch_namespaced_custom_object(
        GROUP, VERSION, tenancy.namespace, "executions", tenancy.executions["b"],
        {"metadata": {"labels": {"conveyor.dev/deployment": "a"}}},
    ))
    assert OWN_DEPLOYMENT_ONLY in body


def test_a_worker_may_not_move_its_execution_to_another_deployment(tenancy: Tenancy) -> None:
    body = _forbidden(lambda: tenancy.as_worker_a.patch_namespaced_custom_object(
        GROUP, VERSION, tenancy.namespace, "executions", tenancy.executions["a"],
        {"spec": {"deployment": "b"}},
    ))
    assert OWN_DEPLOYMENT_ONLY in body


def test_a_worker_may_not_create_an_execution_even_when_rbac_would_let_it(tenancy: Tenancy) -> None:
    tenancy.grant_worker_a(["create"])
    body = _forbidden(lambda: tenancy.as_worker_a.create_namespaced_custom_object(
        GROUP, VERSION, tenancy.namespace, "executions",
        {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Execution", "metadata": {"generateName": "a-"},
         "spec": {"deployment": "a", "workflow": "hello"}},
    ))
    assert MESSAGE_CREATE_DELETE in body


def test_a_worker_may_not_delete_an_execution_even_when_rbac_would_let_it(tenancy: Tenancy) -> None:
    tenancy.grant_worker_a(["delete"])
    body = _forbidden(lambda: tenancy.as_worker_a.delete_namespaced_custom_object(
        GROUP, VERSION, tenancy.namespace, "executions", tenancy.executions["a"],
    ))
    assert MESSAGE_CREATE_DELETE in body


def test_without_extra_grants_rbac_already_refuses_a_worker_creating_executions(tenancy: Tenancy) -> None:
    _forbidden(lambda: tenancy.as_worker_a.create_namespaced_custom_object(
        GROUP, VERSION, tenancy.namespace, "executions",
        {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Execution", "metadata": {"generateName": "a-"},
         "spec": {"deployment": "a", "workflow": "hello"}},
    ))


# ----- end to end: the operator makes each worker's identity, and the worker still does its job ---------


@pytest.fixture
def two_deployments(
    rbac_sim: Any, admin: Callable[..., Any], operator_kubeconfig: str
) -> Iterator[Cluster]:
    """Deployments `a` and `b` in a namespace the chart does not know, an operator (as its
    ServiceAccount) watching it."""
    namespace = _namespace_with_deployments(admin, "a", "b")
    api = config.new_client_from_config(config_file=str(rbac_sim.kubeconfig))
    thread = OperatorThread(
        OperatorOptions(
            operator_namespace=OPERATOR_NAMESPACE,
            namespaces=[namespace],
            kubeconfig=operator_kubeconfig,
            metrics_port=0,
            identity=f"iso-{namespace}",
            lease_check_interval=0.5,
        )
    ).start()
    cluster = Cluster(api, namespace, admin)
    yield cluster
    thread.stop()
    cluster.clear_finalizers()
    admin("delete", "namespace", namespace, "--wait=false", check=False)
    api.close()


def _get(cluster: Cluster, kind: str, name: str) -> dict[str, Any] | None:
    proc = cluster.kubectl("get", kind, name, "-n", cluster.namespace, "-o", "yaml", check=False)
    return yaml.safe_load(proc.stdout) if proc.returncode == 0 else None


def test_an_execution_runs_to_terminated_on_a_worker_job_as_its_deployments_own_account(
    two_deployments: Cluster,
) -> None:
    name = two_deployments.execution("a", "hello")
    status = two_deployments.wait_phase(name, "terminated", "failed", timeout=WORKER_TIMEOUT)["status"]
    assert status["phase"] == "terminated", status
    job = _get(two_deployments, "job", "conveyor-worker-a")
    assert job is not None
    assert job["spec"]["template"]["spec"]["serviceAccountName"] == "conveyor-worker-a"


def test_the_workers_account_and_binding_are_owned_by_its_deployment_and_go_with_it(
    two_deployments: Cluster,
) -> None:
    two_deployments.execution("b", "hello")
    account = wait_for(lambda: _get(two_deployments, "serviceaccount", "conveyor-worker-b"), 20,
                       "the worker's ServiceAccount")
    binding = wait_for(lambda: _get(two_deployments, "rolebinding", "conveyor-worker-b"), 20,
                       "the worker's RoleBinding")
    for obj in (account, binding):
        (owner,) = obj["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["name"]) == ("Deployment", "b")
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "conveyor-worker-b", "namespace": two_deployments.namespace}
    ]
    two_deployments.kubectl("delete", "cvd", "b", "-n", two_deployments.namespace, "--wait=false")
    wait_for(
        lambda: _get(two_deployments, "serviceaccount", "conveyor-worker-b") is None
        and _get(two_deployments, "rolebinding", "conveyor-worker-b") is None,
        WORKER_TIMEOUT, "the account and binding collected with their Deployment",
    )


def test_a_deployment_name_too_long_for_a_worker_account_fails_its_execution_saying_why(
    two_deployments: Cluster,
) -> None:
    long_name = "l" * (MAX_DEPLOYMENT_NAME_LENGTH + 1)
    two_deployments.kubectl("apply", "-f", "-", input=yaml.safe_dump(
        _deployment(two_deployments.namespace, long_name)
    ))
    name = two_deployments.execution(long_name, "hello")
    status = two_deployments.wait_phase(name, "failed", "terminated", timeout=20)["status"]
    assert status["phase"] == "failed"
    assert f"{MAX_DEPLOYMENT_NAME_LENGTH + 1} characters" in status["error"], status["error"]
    assert any(c.get("reason") == "WorkerUnavailable" for c in status.get("conditions") or []), status
    wait_for(lambda: "WorkerUnavailable" in two_deployments.events_for(long_name), 10,
             "an Event on the Deployment")
    assert _get(two_deployments, "job", worker_job_name(long_name)) is None
