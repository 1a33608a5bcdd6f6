"""The worker's identity (conveyor.controller.worker_identity): each deployment's worker has a
ServiceAccount of its own, owned by its Deployment, bound in its namespace only to the ClusterRole
`conveyor-worker`; the system worker runs as `conveyor-worker`."""

from __future__ import annotations

from typing import Any

from conveyor.api.models import Deployment
from conveyor.controller.worker_identity import (
    MAX_DEPLOYMENT_NAME_LENGTH,
    WorkerIdentity,
    build_worker_cluster_role,
    build_worker_role_binding,
    build_worker_service_account,
    managed_identity_of,
    service_account_name_problem,
    worker_service_account_name,
)
from conveyor.controller.worker_job import build_system_worker_job, build_worker_job

UID = "0b5c1f2e-7d4a-4f51-9c1e-1a2b3c4d5e6f"


def _job(name: str = "web", account: str | None = None, uid: str | None = UID) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name, "namespace": "shop"}
    if uid:
        metadata["uid"] = uid
    spec: dict[str, Any] = {"workflows": {}}
    if account:
        spec["worker"] = {"serviceAccountName": account}
    deployment = Deployment.model_validate({"metadata": metadata, "spec": spec})
    return build_worker_job(deployment, default_image="img", operator_namespace="conveyor-system")


def _web() -> WorkerIdentity:
    identity = managed_identity_of(_job())
    assert identity is not None
    return identity


def test_each_deployment_worker_has_its_own_service_account_named_after_the_deployment() -> None:
    assert (_web().namespace, _web().service_account) == ("shop", "conveyor-worker-web")
    assert worker_service_account_name("a.b-c") == "conveyor-worker-a.b-c"


def test_the_role_binding_grants_the_cluster_role_to_that_one_account_in_its_namespace() -> None:
    binding = build_worker_role_binding(_web())
    assert (binding["metadata"]["name"], binding["metadata"]["namespace"]) == ("conveyor-worker-web", "shop")
    assert binding["roleRef"]["kind"] == "ClusterRole" and binding["roleRef"]["name"] == "conveyor-worker"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "conveyor-worker-web", "namespace": "shop"}
    ]


def test_account_and_binding_are_owned_by_the_deployment_so_they_go_with_it() -> None:
    for obj in (build_worker_service_account(_web()), build_worker_role_binding(_web())):
        (owner,) = obj["metadata"]["ownerReferences"]
        assert owner == {"apiVersion": "conveyor.dev/v1alpha1", "kind": "Deployment", "name": "web",
                         "uid": UID, "blockOwnerDeletion": False}


def test_account_and_binding_carry_the_worker_and_deployment_labels() -> None:
    labels = build_worker_service_account(_web())["metadata"]["labels"]
    assert labels["app.kubernetes.io/component"] == "worker"
    assert labels["conveyor.dev/deployment"] == "web"


def test_the_system_worker_keeps_the_shared_account_conveyor_worker_without_owner() -> None:
    identity = managed_identity_of(build_system_worker_job("conveyor-system", image="img"))
    assert identity is not None
    account = build_worker_service_account(identity)
    assert (account["metadata"]["name"], account["metadata"]["namespace"]) == (
        "conveyor-worker", "conveyor-system"
    )
    assert "ownerReferences" not in account["metadata"]


def test_an_account_the_deployment_names_itself_is_not_made_by_the_operator() -> None:
    assert managed_identity_of(_job(account="deployer")) is None
    assert managed_identity_of(_job(account="conveyor-worker")) is None


def test_a_deployment_name_of_237_characters_still_fits_its_account_name() -> None:
    name = "x" * MAX_DEPLOYMENT_NAME_LENGTH
    assert service_account_name_problem(name) is None
    assert len(worker_service_account_name(name)) == 253


def test_a_longer_deployment_name_gets_no_account_and_says_why() -> None:
    problem = service_account_name_problem("x" * (MAX_DEPLOYMENT_NAME_LENGTH + 1))
    assert problem is not None
    assert "238 characters" in problem and "253" in problem and "serviceAccountName" in problem


def test_the_worker_cluster_role_grants_no_rbac_and_no_wildcards() -> None:
    rules = build_worker_cluster_role()["rules"]
    for rule in rules:
        assert "rbac.authorization.k8s.io" not in rule["apiGroups"]
        assert not {"*"} & {*rule["apiGroups"], *rule["resources"], *rule["verbs"]}


def test_the_worker_may_claim_executions_and_renew_leases() -> None:
    granted = {
        (group, resource): set(rule["verbs"])
        for rule in build_worker_cluster_role()["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }
    assert {"patch", "watch"} <= granted[("conveyor.dev", "executions")]
    assert "patch" in granted[("conveyor.dev", "executions/status")]
    assert "update" in granted[("coordination.k8s.io", "leases")]


def test_the_cluster_role_the_operator_makes_leaves_helm_room_to_take_it_over() -> None:
    assert "app.kubernetes.io/managed-by" not in build_worker_cluster_role()["metadata"]["labels"]
