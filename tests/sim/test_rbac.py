"""RBAC enforced by the local control plane (authorization="RBAC"), driven with real kubectl, the
official client and a Pod's own process: 403s worded as kube-apiserver words them, Roles and
bindings, the bootstrap roles, access reviews that agree with enforcement, impersonation."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException
from kubetest import kubectl_at, status_of, wait_for

from conveyor.sim.app import SimServer
from conveyor.sim.controllers import all_controllers

pytestmark = pytest.mark.sim_only

Kubectl = Callable[..., Any]


@pytest.fixture(scope="module")
def rbac_sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimServer]:
    kubeconfig = tmp_path_factory.mktemp("rbac-sim") / "kubeconfig"
    with SimServer.run_in_thread(kubeconfig=kubeconfig, controllers=all_controllers(),
                                 authorization="RBAC") as server:
        yield server


@pytest.fixture(scope="module")
def admin(rbac_sim: SimServer) -> Kubectl:
    return kubectl_at(str(rbac_sim.kubeconfig))


@pytest.fixture
def ns(admin: Kubectl) -> Iterator[str]:
    name = f"r-{uuid.uuid4().hex[:8]}"
    admin("create", "namespace", name)
    yield name
    admin("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture
def other_ns(admin: Kubectl) -> Iterator[str]:
    name = f"o-{uuid.uuid4().hex[:8]}"
    admin("create", "namespace", name)
    yield name
    admin("delete", "namespace", name, "--wait=false", check=False)


class Account:
    """A ServiceAccount with a token from `kubectl create token`, and kubectl acting as it."""

    def __init__(self, admin: Kubectl, namespace: str, name: str = "robot") -> None:
        admin("create", "serviceaccount", name, "-n", namespace)
        self.admin = admin
        self.namespace = namespace
        self.name = name
        self.user = f"system:serviceaccount:{namespace}:{name}"
        self.token = admin("create", "token", name, "-n", namespace).stdout.strip()

    def kubectl(self, *args: str, check: bool = False, input: str | None = None) -> Any:
        return self.admin(f"--token={self.token}", *args, check=check, input=input)


@pytest.fixture
def robot(admin: Kubectl, ns: str) -> Account:
    return Account(admin, ns)


def forbidden_line(proc: Any) -> str:
    assert proc.returncode != 0, proc.stdout
    return proc.stderr.strip().splitlines()[-1]


def api_client(server: SimServer, token: str) -> client.ApiClient:
    config = client.Configuration()
    config.host = server.url
    config.api_key = {"authorization": f"Bearer {token}"}
    ca = Path(str(server.kubeconfig)).with_name("ca.crt")
    ca.write_text(server.api.ca_pem)
    config.ssl_ca_cert = str(ca)
    return client.ApiClient(config)


# -- a ServiceAccount with no bindings ---------------------------------------------------------------
def test_listing_pods_without_a_binding_is_forbidden_in_kubes_words(robot: Account) -> None:
    assert forbidden_line(robot.kubectl("get", "pods", "-n", robot.namespace)) == (
        f'Error from server (Forbidden): pods is forbidden: User "{robot.user}" cannot list resource '
        f'"pods" in API group "" in the namespace "{robot.namespace}"')


def test_getting_a_named_secret_names_it_in_the_refusal(robot: Account) -> None:
    assert forbidden_line(robot.kubectl("get", "secret", "db", "-n", robot.namespace)) == (
        f'Error from server (Forbidden): secrets "db" is forbidden: User "{robot.user}" cannot get '
        f'resource "secrets" in API group "" in the namespace "{robot.namespace}"')


def test_creating_in_another_namespace_is_forbidden(robot: Account, other_ns: str) -> None:
    proc = robot.kubectl("create", "configmap", "c", "-n", other_ns)
    assert forbidden_line(proc) == (
        f'error: failed to create configmap: configmaps is forbidden: User "{robot.user}" cannot create '
        f'resource "configmaps" in API group "" in the namespace "{other_ns}"')


def test_a_cluster_scoped_refusal_says_at_the_cluster_scope(robot: Account) -> None:
    assert forbidden_line(robot.kubectl("get", "nodes")) == (
        f'Error from server (Forbidden): nodes is forbidden: User "{robot.user}" cannot list resource '
        f'"nodes" in API group "" at the cluster scope')


def test_the_forbidden_status_details_name_the_object_group_and_resource(
    rbac_sim: SimServer, robot: Account
) -> None:
    with api_client(rbac_sim, robot.token) as api, pytest.raises(ApiException) as err:
        client.AppsV1Api(api).read_namespaced_deployment("web", robot.namespace)
    assert err.value.status == 403
    status = status_of(err.value)
    assert (status["reason"], status["code"]) == ("Forbidden", 403)
    assert status["details"] == {"name": "web", "group": "apps", "kind": "deployments"}
    assert status["message"] == (
        f'deployments.apps "web" is forbidden: User "{robot.user}" cannot get resource "deployments" '
        f'in API group "apps" in the namespace "{robot.namespace}"')


# -- Roles and bindings ------------------------------------------------------------------------------
def test_a_role_binding_grants_its_role_in_its_namespace_only(
    admin: Kubectl, robot: Account, other_ns: str
) -> None:
    admin("create", "configmap", "settings", "-n", robot.namespace, "--from-literal=a=1")
    admin("create", "role", "cm-reader", "-n", robot.namespace, "--verb=get,list", "--resource=configmaps")
    admin("create", "rolebinding", "robot-reads", "-n", robot.namespace, "--role=cm-reader",
          f"--serviceaccount={robot.namespace}:{robot.name}")
    assert robot.kubectl("get", "configmap", "settings", "-n", robot.namespace).returncode == 0
    assert "settings" in robot.kubectl("get", "configmaps", "-n", robot.namespace, check=True).stdout
    assert "cannot list resource" in forbidden_line(robot.kubectl("get", "configmaps", "-n", other_ns))
    assert "cannot delete resource" in forbidden_line(
        robot.kubectl("delete", "configmap", "settings", "-n", robot.namespace))


def test_a_binding_to_a_missing_role_says_so_in_the_refusal(admin: Kubectl, robot: Account) -> None:
    admin("create", "rolebinding", "dangling", "-n", robot.namespace, "--role=nowhere",
          f"--serviceaccount={robot.namespace}:{robot.name}")
    assert forbidden_line(robot.kubectl("get", "pods", "-n", robot.namespace)).endswith(
        f'in the namespace "{robot.namespace}": RBAC: role.rbac.authorization.k8s.io "nowhere" not found')


def test_view_reads_pods_everywhere_but_no_secrets_and_writes_nothing(
    admin: Kubectl, robot: Account, other_ns: str
) -> None:
    admin("create", "clusterrolebinding", f"view-{robot.namespace}", "--clusterrole=view",
          f"--serviceaccount={robot.namespace}:{robot.name}")
    try:
        assert robot.kubectl("get", "pods", "-n", other_ns).returncode == 0
        assert robot.kubectl("get", "pods", "--all-namespaces").returncode == 0
        assert "cannot list resource \"secrets\"" in forbidden_line(
            robot.kubectl("get", "secrets", "-n", robot.namespace))
        assert "cannot create resource \"configmaps\"" in forbidden_line(
            robot.kubectl("create", "configmap", "x", "-n", robot.namespace))
    finally:
        admin("delete", "clusterrolebinding", f"view-{robot.namespace}")


def test_auth_can_i_agrees_with_enforcement(admin: Kubectl, robot: Account, other_ns: str) -> None:
    admin("create", "role", "pod-reader", "-n", robot.namespace, "--verb=get,list", "--resource=pods")
    admin("create", "rolebinding", "robot-pods", "-n", robot.namespace, "--role=pod-reader",
          f"--serviceaccount={robot.namespace}:{robot.name}")
    cases = [
        (("list", "pods", "-n", robot.namespace), ("get", "pods", "-n", robot.namespace)),
        (("list", "pods", "-n", other_ns), ("get", "pods", "-n", other_ns)),
        (("list", "secrets", "-n", robot.namespace), ("get", "secrets", "-n", robot.namespace)),
        (("create", "configmaps", "-n", robot.namespace),
         ("create", "configmap", "probe", "-n", robot.namespace)),
    ]
    for can_i, request in cases:
        answer = robot.kubectl("auth", "can-i", *can_i).stdout.strip()
        enforced = robot.kubectl(*request).returncode == 0
        assert (answer == "yes") == enforced, (can_i, answer, enforced)


# -- bootstrap roles ---------------------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/api", "/apis", "/version", "/openapi/v3", "/api/v1", "/apis/apps/v1"])
def test_discovery_is_open_to_any_authenticated_user(robot: Account, path: str) -> None:
    proc = robot.kubectl("get", "--raw", path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)


def test_kubectl_discovery_works_for_a_user_with_no_bindings(robot: Account) -> None:
    proc = robot.kubectl("api-resources", "--api-group=apps", "-o", "name")
    assert "deployments.apps" in proc.stdout.split(), proc.stderr


def test_a_non_resource_url_outside_discovery_is_forbidden_by_path(robot: Account) -> None:
    assert forbidden_line(robot.kubectl("get", "--raw", "/metrics")) == (
        f'Error from server (Forbidden): forbidden: User "{robot.user}" cannot get path "/metrics"')


def test_version_and_health_need_no_credentials(rbac_sim: SimServer) -> None:
    context = ssl.create_default_context(cadata=rbac_sim.api.ca_pem)
    for path in ("/version", "/healthz"):
        with urllib.request.urlopen(rbac_sim.url + path, context=context, timeout=10) as resp:
            assert resp.status == 200


def test_an_aggregated_role_follows_the_roles_that_join_it(admin: Kubectl, robot: Account) -> None:
    name = f"leases-{robot.namespace}"
    role = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": name, "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
            "rules": [{"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["list"]}]}
    admin("create", "rolebinding", "robot-admin", "-n", robot.namespace, "--clusterrole=admin",
          f"--serviceaccount={robot.namespace}:{robot.name}")
    assert robot.kubectl("get", "leases", "-n", robot.namespace).returncode != 0
    admin("apply", "-f", "-", input=yaml.safe_dump(role))
    try:
        wait_for(lambda: robot.kubectl("get", "leases", "-n", robot.namespace).returncode == 0,
                 what="admin to aggregate view's new rule")
        admin("delete", "clusterrole", name)
        wait_for(lambda: robot.kubectl("get", "leases", "-n", robot.namespace).returncode != 0,
                 what="admin to drop the deleted role's rule")
    finally:
        admin("delete", "clusterrole", name, "--ignore-not-found")


# -- impersonation -----------------------------------------------------------------------------------
def test_the_admin_may_impersonate_and_is_then_authorized_as_that_user(admin: Kubectl, ns: str) -> None:
    assert forbidden_line(admin("get", "pods", "-n", ns, "--as=alice", check=False)) == (
        f'Error from server (Forbidden): pods is forbidden: User "alice" cannot list resource "pods" '
        f'in API group "" in the namespace "{ns}"')
    admin("create", "rolebinding", "viewers", "-n", ns, "--clusterrole=view", "--group=viewers")
    assert admin("get", "pods", "-n", ns, "--as=alice", "--as-group=viewers", check=False).returncode == 0


def test_impersonating_the_admins_name_does_not_make_one_a_master(admin: Kubectl, ns: str) -> None:
    proc = admin("get", "secrets", "-n", ns, "--as=kubernetes-admin", check=False)
    assert "cannot list resource" in forbidden_line(proc)


def test_a_service_account_without_the_impersonate_verb_cannot_impersonate(robot: Account) -> None:
    assert forbidden_line(robot.kubectl("get", "pods", "-n", robot.namespace, "--as=alice")) == (
        f'Error from server (Forbidden): users "alice" is forbidden: User "{robot.user}" cannot '
        f'impersonate resource "users" in API group "" at the cluster scope')


def test_impersonating_a_service_account_needs_the_verb_in_its_namespace(
    admin: Kubectl, robot: Account
) -> None:
    admin("create", "serviceaccount", "deployer", "-n", robot.namespace)
    target = f"system:serviceaccount:{robot.namespace}:deployer"
    assert forbidden_line(robot.kubectl("get", "pods", "-n", robot.namespace, f"--as={target}")) == (
        f'Error from server (Forbidden): serviceaccounts "deployer" is forbidden: User "{robot.user}" '
        f'cannot impersonate resource "serviceaccounts" in API group "" in the namespace '
        f'"{robot.namespace}"')
    admin("create", "role", "impersonator", "-n", robot.namespace, "--verb=impersonate",
          "--resource=serviceaccounts")
    admin("create", "rolebinding", "robot-impersonates", "-n", robot.namespace, "--role=impersonator",
          f"--serviceaccount={robot.namespace}:{robot.name}")
    whoami = robot.kubectl("auth", "whoami", "-o", "json", f"--as={target}", check=True)
    info = json.loads(whoami.stdout)["status"]["userInfo"]
    assert info["username"] == target
    assert set(info["groups"]) == {"system:serviceaccounts", f"system:serviceaccounts:{robot.namespace}",
                                   "system:authenticated"}


# -- pods ---------------------------------------------------------------------------------------------
def test_a_pods_process_is_subject_to_its_service_accounts_rbac(admin: Kubectl, robot: Account) -> None:
    code = (
        "from kubernetes import client, config\n"
        "config.load_config()\n"
        "try:\n"
        f"    client.CoreV1Api().list_namespaced_secret('{robot.namespace}')\n"
        "    print('allowed')\n"
        "except client.ApiException as e:\n"
        "    print(e.status, e.reason)\n"
    )
    manifest = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "prober"},
                "spec": {"restartPolicy": "Never", "serviceAccountName": robot.name,
                         "containers": [{"name": "main", "image": "python:3.11",
                                         "command": ["python", "-c", code]}]}}
    admin("apply", "-n", robot.namespace, "-f", "-", input=yaml.safe_dump(manifest))

    def phase() -> str | None:
        proc = admin("get", "pod", "prober", "-n", robot.namespace, "-o", "jsonpath={.status.phase}",
                     check=False)
        return proc.stdout if proc.stdout in ("Succeeded", "Failed") else None

    assert wait_for(phase, timeout=60, what="the pod to finish") == "Succeeded"
    assert admin("logs", "prober", "-n", robot.namespace).stdout.strip() == "403 Forbidden"


# -- the default mode -----------------------------------------------------------------------------------
def test_the_default_mode_enforces_rbac_as_kube_apiserver_does(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    with SimServer.run_in_thread(kubeconfig=kubeconfig) as server:
        assert server.authorization == "RBAC"
        plain = kubectl_at(str(kubeconfig))
        token = server.api.token_for_service_account("default", "default")
        proc = plain(f"--token={token}", "get", "secrets", "-n", "kube-system", check=False)
        assert proc.returncode != 0 and "Forbidden" in proc.stderr


def test_always_allow_is_still_selectable_and_lets_any_authenticated_request_through(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    with SimServer.run_in_thread(kubeconfig=kubeconfig, authorization="AlwaysAllow") as server:
        assert server.authorization == "AlwaysAllow"
        plain = kubectl_at(str(kubeconfig))
        token = server.api.token_for_service_account("default", "default")
        assert plain(f"--token={token}", "get", "secrets", "-n", "kube-system", check=False).returncode == 0


def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="authorization must be one of"):
        SimServer(authorization="Webhook")
