"""The worker's identity (conveyor.controller.worker_identity): a ServiceAccount bound, in its own
namespace only, to the ClusterRole `conveyor-worker`."""

from __future__ import annotations

from conveyor.controller.worker_identity import (
    build_worker_cluster_role,
    build_worker_role_binding,
    build_worker_service_account,
)


def test_the_role_binding_grants_the_cluster_role_to_the_namespace_worker_only() -> None:
    binding = build_worker_role_binding("shop")
    assert binding["kind"] == "RoleBinding" and binding["metadata"]["namespace"] == "shop"
    assert binding["roleRef"]["kind"] == "ClusterRole" and binding["roleRef"]["name"] == "conveyor-worker"
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "conveyor-worker", "namespace": "shop"}]


def test_the_service_account_is_conveyor_worker_in_the_namespace() -> None:
    account = build_worker_service_account("shop")
    assert (account["metadata"]["name"], account["metadata"]["namespace"]) == ("conveyor-worker", "shop")


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
