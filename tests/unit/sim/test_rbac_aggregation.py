"""ClusterRole aggregation and the bootstrap roles users bind to (cluster-admin, admin, edit, view)."""

from __future__ import annotations

import asyncio
from typing import Any

from conveyor.sim.aggregation import aggregated_rules
from conveyor.sim.api import ApiService, Request
from conveyor.sim.identity import ANONYMOUS_USER, user_info
from conveyor.sim.rbac import RBAC, Attributes, rule_allows
from conveyor.sim.role_aggregator import ClusterRoleAggregation

GET_PODS = {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}
LIST_JOBS = {"verbs": ["list"], "apiGroups": ["batch"], "resources": ["jobs"]}


def cluster_role(name: str, rules: list[dict[str, Any]] | None = None, labels: dict[str, str] | None = None,
                 selects: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    role: dict[str, Any] = {"metadata": {"name": name, "labels": labels or {}}, "rules": rules or []}
    if selects is not None:
        role["aggregationRule"] = {"clusterRoleSelectors": selects}
    return role


def picks(label: str) -> list[dict[str, Any]]:
    return [{"matchLabels": {label: "true"}}]


def test_an_aggregated_role_holds_the_union_of_the_selected_roles_rules() -> None:
    everything = {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}
    roles = [cluster_role("agg", [everything], selects=picks("x")),
             cluster_role("b", [LIST_JOBS], {"x": "true"}), cluster_role("a", [GET_PODS], {"x": "true"}),
             cluster_role("c", [{"verbs": ["delete"], "apiGroups": [""], "resources": ["pods"]}])]
    assert aggregated_rules(roles) == {"agg": [GET_PODS, LIST_JOBS]}


def test_a_rule_two_roles_share_is_aggregated_once() -> None:
    roles = [cluster_role("agg", selects=picks("x")), cluster_role("a", [GET_PODS], {"x": "true"}),
             cluster_role("b", [GET_PODS], {"x": "true"})]
    assert aggregated_rules(roles) == {"agg": [GET_PODS]}


def test_aggregation_composes_through_aggregated_roles() -> None:
    roles = [cluster_role("top", selects=picks("to-top")),
             cluster_role("mid", labels={"to-top": "true"}, selects=picks("to-mid")),
             cluster_role("leaf", [GET_PODS], {"to-mid": "true"})]
    assert aggregated_rules(roles) == {"top": [GET_PODS], "mid": [GET_PODS]}


def test_a_cycle_of_aggregated_roles_settles() -> None:
    roles = [cluster_role("a", [GET_PODS], {"y": "true"}, selects=picks("x")),
             cluster_role("b", [LIST_JOBS], {"x": "true"}, selects=picks("y"))]
    result = aggregated_rules(roles)
    assert result["a"] == [LIST_JOBS]
    assert result["b"] == [LIST_JOBS]


# -- the bootstrap policy ------------------------------------------------------------------------------
def bootstrapped() -> ApiService:
    api = ApiService()
    api.bootstrap()
    return api


def role_allows(api: ApiService, role: str, attrs: Attributes) -> bool:
    stored = api.store.get(RBAC, "clusterroles", "", role)
    assert stored is not None
    return any(rule_allows(r, attrs) for r in stored["rules"])


def test_view_reads_workloads_but_not_secrets_nor_rbac() -> None:
    api = bootstrapped()
    assert role_allows(api, "view", Attributes("list", "", "pods", namespace="x"))
    assert role_allows(api, "view", Attributes("watch", "batch", "jobs", namespace="x"))
    assert role_allows(api, "view", Attributes("get", "", "pods", "log", "p", "x"))
    assert not role_allows(api, "view", Attributes("get", "", "secrets", name="s", namespace="x"))
    assert not role_allows(api, "view", Attributes("list", RBAC, "roles", namespace="x"))
    assert not role_allows(api, "view", Attributes("create", "", "configmaps", namespace="x"))


def test_edit_holds_view_and_writes_workloads_and_secrets_but_not_rbac() -> None:
    api = bootstrapped()
    assert role_allows(api, "edit", Attributes("list", "", "pods", namespace="x"))
    assert role_allows(api, "edit", Attributes("create", "apps", "deployments", namespace="x"))
    assert role_allows(api, "edit", Attributes("get", "", "secrets", name="s", namespace="x"))
    assert role_allows(api, "edit", Attributes("impersonate", "", "serviceaccounts", name="a", namespace="x"))
    assert not role_allows(api, "edit", Attributes("create", RBAC, "rolebindings", namespace="x"))
    assert not role_allows(api, "edit", Attributes("update", "", "resourcequotas", name="q", namespace="x"))


def test_admin_holds_edit_and_manages_roles_but_not_quotas_nor_its_namespace() -> None:
    api = bootstrapped()
    assert role_allows(api, "admin", Attributes("delete", "", "secrets", name="s", namespace="x"))
    assert role_allows(api, "admin", Attributes("create", RBAC, "rolebindings", namespace="x"))
    assert not role_allows(api, "admin", Attributes("update", "", "resourcequotas", name="q", namespace="x"))
    assert not role_allows(api, "admin", Attributes("delete", "", "namespaces", name="x", namespace="x"))


def test_system_masters_is_bound_to_cluster_admin() -> None:
    binding = bootstrapped().store.get(RBAC, "clusterrolebindings", "", "cluster-admin")
    assert binding is not None
    assert binding["subjects"] == [{"apiGroup": RBAC, "kind": "Group", "name": "system:masters"}]


def test_anonymous_users_may_read_the_version_but_not_discovery() -> None:
    api = bootstrapped()
    anonymous = user_info(ANONYMOUS_USER)
    assert api.authorizer.allows(anonymous, Attributes("get", path="/version"))
    assert not api.authorizer.allows(anonymous, Attributes("get", path="/apis"))


def test_a_bootstrap_role_edited_by_a_user_is_kept_on_the_next_start() -> None:
    api = bootstrapped()
    stored = api.store.get(RBAC, "clusterroles", "", "system:discovery")
    assert stored is not None
    api.store.update(RBAC, "clusterroles", {**stored, "rules": []}, None)
    api.bootstrap()
    assert api.store.get(RBAC, "clusterroles", "", "system:discovery")["rules"] == []  # type: ignore[index]


def test_the_controller_adds_a_labelled_roles_rules_to_view_edit_and_admin() -> None:
    async def scenario() -> None:
        api = bootstrapped()
        admin_written = asyncio.Event()
        api.store.subscribe(lambda e: admin_written.set() if e.obj["metadata"]["name"] == "admin" else None)
        controller = ClusterRoleAggregation(api)
        task = asyncio.create_task(controller.run())
        rt = api.resource((RBAC, "v1", "clusterroles"))
        leases = {"verbs": ["get"], "apiGroups": ["coordination.k8s.io"], "resources": ["leases"]}
        await api.create(rt, None, {"apiVersion": f"{RBAC}/v1", "kind": "ClusterRole",
                                    "metadata": {"name": "extra", "labels": {
                                        "rbac.authorization.k8s.io/aggregate-to-view": "true"}},
                                    "rules": [leases]}, req=Request())
        attrs = Attributes("get", "coordination.k8s.io", "leases", name="l", namespace="x")
        async with asyncio.timeout(5):
            while not all(role_allows(api, r, attrs) for r in ("view", "edit", "admin")):
                await admin_written.wait()
                admin_written.clear()
        await api.delete(rt, None, "extra", req=Request())
        async with asyncio.timeout(5):
            while any(role_allows(api, r, attrs) for r in ("view", "edit", "admin")):
                await admin_written.wait()
                admin_written.clear()
        task.cancel()

    asyncio.run(scenario())
