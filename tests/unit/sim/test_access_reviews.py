"""Access and identity reviews: who a token is, and what RBAC grants it (kubectl auth can-i/whoami)."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor.sim.errors import StatusError
from conveyor.sim.identity import ADMIN_USER, user_info
from conveyor.sim.rbac import Attributes, Authorizer
from conveyor.sim.resources import Registry, ResourceType
from conveyor.sim.reviews import answer
from conveyor.sim.storage import Store

RBAC = "rbac.authorization.k8s.io"
SA = "system:serviceaccount:shop:worker"


def role(name: str, rules: list[dict[str, Any]], namespace: str = "") -> dict[str, Any]:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"metadata": meta, "rules": rules}


def binding(name: str, kind: str, role_name: str, subjects: list[dict[str, Any]],
            namespace: str = "") -> dict[str, Any]:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"metadata": meta, "roleRef": {"apiGroup": RBAC, "kind": kind, "name": role_name},
            "subjects": subjects}


@pytest.fixture
def store() -> Store:
    s = Store()
    s.create(RBAC, "roles", role("pod-reader", [
        {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods", "pods/log"]},
        {"verbs": ["update"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["settings"]},
    ], "shop"))
    s.create(RBAC, "rolebindings", binding("worker-reads", "Role", "pod-reader",
                                           [{"kind": "ServiceAccount", "name": "worker"}], "shop"))
    s.create(RBAC, "clusterroles", role("lease-writer", [
        {"verbs": ["*"], "apiGroups": ["coordination.k8s.io"], "resources": ["leases"]},
        {"verbs": ["get"], "nonResourceURLs": ["/metrics", "/debug/*"]},
    ]))
    s.create(RBAC, "clusterrolebindings", binding("ops-leases", "ClusterRole", "lease-writer",
                                                  [{"kind": "Group", "name": "ops"}]))
    return s


def allowed(store: Store, username: str, attrs: Attributes, groups: tuple[str, ...] = ()) -> bool:
    user = user_info(username)
    if groups:
        user = type(user)(username, user.groups + groups)
    return Authorizer(store).authorize(user, attrs)[0]


def test_the_admin_is_a_superuser_in_system_masters(store: Store) -> None:
    assert "system:masters" in user_info(ADMIN_USER).groups
    assert allowed(store, ADMIN_USER, Attributes("delete", "apps", "deployments", namespace="x"))


def test_a_service_account_user_has_its_three_groups() -> None:
    assert user_info(SA).groups == ("system:serviceaccounts", "system:serviceaccounts:shop",
                                    "system:authenticated")


def test_a_role_binding_grants_its_rules_in_its_namespace_only(store: Store) -> None:
    assert allowed(store, SA, Attributes("list", "", "pods", namespace="shop"))
    assert not allowed(store, SA, Attributes("list", "", "pods", namespace="other"))


def test_a_verb_not_in_the_rule_is_denied(store: Store) -> None:
    assert not allowed(store, SA, Attributes("delete", "", "pods", namespace="shop"))


def test_a_subresource_needs_its_own_resource_entry(store: Store) -> None:
    assert allowed(store, SA, Attributes("get", "", "pods", "log", namespace="shop"))
    assert not allowed(store, SA, Attributes("get", "", "pods", "exec", namespace="shop"))


def test_resource_names_limit_a_rule_to_those_objects(store: Store) -> None:
    assert allowed(store, SA, Attributes("update", "", "configmaps", name="settings", namespace="shop"))
    assert not allowed(store, SA, Attributes("update", "", "configmaps", name="other", namespace="shop"))


def test_a_cluster_role_binding_to_a_group_grants_everywhere(store: Store) -> None:
    attrs = Attributes("update", "coordination.k8s.io", "leases", namespace="any")
    assert allowed(store, "alice", attrs, groups=("ops",))
    assert not allowed(store, "bob", attrs)


def test_non_resource_urls_match_exactly_or_by_star_prefix(store: Store) -> None:
    assert allowed(store, "alice", Attributes("get", path="/metrics"), groups=("ops",))
    assert allowed(store, "alice", Attributes("get", path="/debug/pprof"), groups=("ops",))
    assert not allowed(store, "alice", Attributes("get", path="/metricsx"), groups=("ops",))


def test_every_authenticated_user_may_review_its_own_access(store: Store) -> None:
    assert allowed(store, "bob", Attributes("create", "authorization.k8s.io", "selfsubjectaccessreviews"))


def review_type(plural: str) -> ResourceType:
    group = "authentication.k8s.io" if plural == "selfsubjectreviews" else "authorization.k8s.io"
    rt = Registry().get(group, "v1", plural)
    assert rt is not None and rt.verbs == ("create",)
    return rt


def test_self_subject_access_review_answers_for_the_requester(store: Store) -> None:
    body = {"spec": {"resourceAttributes": {"verb": "list", "resource": "pods", "namespace": "shop"}}}
    out = answer(review_type("selfsubjectaccessreviews"), None, body, user_info(SA), Authorizer(store))
    assert out["status"]["allowed"] is True
    assert out["status"]["reason"].startswith('RBAC: allowed by RoleBinding "worker-reads/shop"')


def test_subject_access_review_needs_a_user_or_group(store: Store) -> None:
    body = {"spec": {"resourceAttributes": {"verb": "list", "resource": "pods"}}}
    with pytest.raises(StatusError) as err:
        answer(review_type("subjectaccessreviews"), None, body, user_info(ADMIN_USER), Authorizer(store))
    assert err.value.code == 422


def test_access_review_needs_exactly_one_kind_of_attributes(store: Store) -> None:
    with pytest.raises(StatusError) as err:
        answer(review_type("selfsubjectaccessreviews"), None, {"spec": {}}, user_info(SA), Authorizer(store))
    assert err.value.code == 422


def test_self_subject_review_returns_the_requesters_user_info(store: Store) -> None:
    out = answer(review_type("selfsubjectreviews"), None, {}, user_info(SA), Authorizer(store))
    assert out["status"]["userInfo"] == {"username": SA, "groups": list(user_info(SA).groups)}


def test_self_subject_rules_review_lists_the_rules_bound_in_the_namespace(store: Store) -> None:
    out = answer(review_type("selfsubjectrulesreviews"), None, {"spec": {"namespace": "shop"}},
                 user_info(SA), Authorizer(store))
    assert {"verbs": ["get", "list"], "apiGroups": [""], "resources": ["pods", "pods/log"]} in (
        out["status"]["resourceRules"])
    assert out["status"]["incomplete"] is False
