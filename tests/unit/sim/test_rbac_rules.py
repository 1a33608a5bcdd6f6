"""RBAC as the server enforces it: rule matching, request attributes read from URLs, the 403's
wording, the compiled-policy cache, and impersonation."""

from __future__ import annotations

from typing import Any

import pytest
from multidict import CIMultiDict

from conveyor.sim.authorization import RequestAuthorizer
from conveyor.sim.errors import StatusError
from conveyor.sim.identity import ADMIN_USER, UserInfo, user_info
from conveyor.sim.rbac import RBAC, Attributes, Authorizer, rule_allows
from conveyor.sim.request_info import request_attributes
from conveyor.sim.storage import Store

SA = "system:serviceaccount:shop:worker"
GET_PODS = {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}


def binding(kind: str, name: str, role_kind: str, role: str, subjects: list[dict[str, Any]],
            namespace: str = "") -> dict[str, Any]:
    meta = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"kind": kind, "metadata": meta, "roleRef": {"apiGroup": RBAC, "kind": role_kind, "name": role},
            "subjects": subjects}


# -- rule matching -----------------------------------------------------------------------------------
def test_a_star_verb_group_and_resource_match_anything() -> None:
    rule = {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}
    assert rule_allows(rule, Attributes("delete", "apps", "deployments", "scale", namespace="x"))


def test_a_star_subresource_entry_matches_that_subresource_of_any_resource() -> None:
    rule = {"verbs": ["update"], "apiGroups": ["apps"], "resources": ["*/status"]}
    assert rule_allows(rule, Attributes("update", "apps", "deployments", "status"))
    assert not rule_allows(rule, Attributes("update", "apps", "deployments"))
    assert not rule_allows(rule, Attributes("update", "apps", "deployments", "scale"))


def test_a_resource_entry_does_not_cover_its_subresources() -> None:
    rule = {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}
    assert not rule_allows(rule, Attributes("get", "", "pods", "log", name="p"))


def test_the_group_must_match() -> None:
    rule = {"verbs": ["get"], "apiGroups": [""], "resources": ["deployments"]}
    assert not rule_allows(rule, Attributes("get", "apps", "deployments"))


def test_resource_names_deny_unnamed_requests() -> None:
    rule = {"verbs": ["list"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["a"]}
    assert not rule_allows(rule, Attributes("list", "", "configmaps", namespace="x"))
    assert rule_allows(rule, Attributes("list", "", "configmaps", name="a", namespace="x"))


def test_a_resource_rule_never_matches_a_path_nor_a_url_rule_a_resource() -> None:
    resource_rule = {"verbs": ["get"], "apiGroups": ["*"], "resources": ["*"]}
    url_rule = {"verbs": ["get"], "nonResourceURLs": ["*"]}
    assert not rule_allows(resource_rule, Attributes("get", path="/metrics"))
    assert not rule_allows(url_rule, Attributes("get", "", "pods"))


# -- request attributes ------------------------------------------------------------------------------
@pytest.mark.parametrize(("method", "path", "query", "expected"), [
    ("GET", "/api/v1/namespaces/ns/pods", {}, Attributes("list", "", "pods", namespace="ns")),
    ("GET", "/api/v1/namespaces/ns/pods", {"watch": "true"}, Attributes("watch", "", "pods", namespace="ns")),
    ("GET", "/api/v1/watch/namespaces/ns/pods/p", {}, Attributes("watch", "", "pods", "", "p", "ns")),
    ("GET", "/api/v1/namespaces/ns/pods/p/log", {}, Attributes("get", "", "pods", "log", "p", "ns")),
    ("POST", "/api/v1/namespaces/ns/serviceaccounts/sa/token", {},
     Attributes("create", "", "serviceaccounts", "token", "sa", "ns")),
    ("PUT", "/apis/apps/v1/namespaces/ns/deployments/d/scale", {},
     Attributes("update", "apps", "deployments", "scale", "d", "ns")),
    ("PATCH", "/apis/conveyor.dev/v1alpha1/namespaces/ns/executions/e/status", {},
     Attributes("patch", "conveyor.dev", "executions", "status", "e", "ns")),
    ("DELETE", "/api/v1/namespaces/ns/configmaps", {}, Attributes("deletecollection", "", "configmaps",
                                                                  namespace="ns")),
    ("DELETE", "/api/v1/namespaces/ns/configmaps/c", {}, Attributes("delete", "", "configmaps", name="c",
                                                                    namespace="ns")),
    ("GET", "/api/v1/pods", {}, Attributes("list", "", "pods")),
    ("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/view", {},
     Attributes("get", RBAC, "clusterroles", name="view")),
])
def test_resource_requests_are_read_from_method_path_and_query(
    method: str, path: str, query: dict[str, str], expected: Attributes
) -> None:
    assert request_attributes(method, path, query) == expected


def test_a_namespace_is_its_own_namespace_and_name() -> None:
    assert request_attributes("GET", "/api/v1/namespaces/ns", {}) == Attributes(
        "get", "", "namespaces", name="ns", namespace="ns")
    assert request_attributes("PUT", "/api/v1/namespaces/ns/finalize", {}) == Attributes(
        "update", "", "namespaces", "finalize", "ns", "ns")


def test_a_field_selector_on_the_name_names_the_listed_object() -> None:
    attrs = request_attributes("GET", "/api/v1/namespaces/ns/configmaps",
                               {"fieldSelector": "metadata.name=settings", "watch": "1"})
    assert (attrs.verb, attrs.name) == ("watch", "settings")
    assert request_attributes("GET", "/api/v1/configmaps", {"fieldSelector": "metadata.name!=x"}).name == ""


@pytest.mark.parametrize("path", ["/api", "/api/v1", "/apis", "/apis/apps", "/apis/apps/v1", "/version",
                                  "/openapi/v3/apis/apps/v1", "/healthz/ping"])
def test_discovery_and_other_urls_are_non_resource_requests_with_the_method_as_verb(path: str) -> None:
    assert request_attributes("GET", path, {}) == Attributes("get", path=path)
    assert request_attributes("POST", path, {}).verb == "post"


# -- the 403 ------------------------------------------------------------------------------------------
def denial(store: Store, user: UserInfo, attrs: Attributes) -> StatusError:
    with pytest.raises(StatusError) as err:
        RequestAuthorizer(Authorizer(store), "RBAC").check(user, attrs)
    return err.value


def test_a_subresource_refusal_names_resource_slash_subresource_but_details_the_resource() -> None:
    err = denial(Store(), user_info(SA), Attributes("get", "", "pods", "log", "p", "shop"))
    assert err.message == (f'pods "p" is forbidden: User "{SA}" cannot get resource "pods/log" in API '
                           'group "" in the namespace "shop"')
    assert err.details == {"name": "p", "kind": "pods"}


def test_a_cluster_scoped_refusal_in_a_group_names_group_and_resource() -> None:
    err = denial(Store(), user_info(SA), Attributes("list", RBAC, "clusterroles"))
    assert err.message == (f'clusterroles.{RBAC} is forbidden: User "{SA}" cannot list resource '
                           f'"clusterroles" in API group "{RBAC}" at the cluster scope')
    assert (err.code, err.reason, err.details) == (403, "Forbidden", {"group": RBAC, "kind": "clusterroles"})


def test_a_path_refusal_names_the_path() -> None:
    err = denial(Store(), user_info(SA), Attributes("get", path="/metrics"))
    assert err.message == f'forbidden: User "{SA}" cannot get path "/metrics"'


def test_always_allow_lets_everything_through() -> None:
    authorization = RequestAuthorizer(Authorizer(Store()), "AlwaysAllow")
    authorization.check(user_info(SA), Attributes("delete", "", "nodes"))


# -- the cache ----------------------------------------------------------------------------------------
def test_a_new_binding_takes_effect_on_the_next_request() -> None:
    store = Store()
    authorizer = Authorizer(store)
    attrs = Attributes("list", "", "pods", namespace="shop")
    store.create(RBAC, "roles", {"metadata": {"name": "r", "namespace": "shop"},
                                 "rules": [{"verbs": ["list"], "apiGroups": [""], "resources": ["pods"]}]})
    assert not authorizer.allows(user_info(SA), attrs)
    store.create(RBAC, "rolebindings", binding("RoleBinding", "b", "Role", "r",
                                               [{"kind": "ServiceAccount", "name": "worker"}], "shop"))
    assert authorizer.allows(user_info(SA), attrs)


def test_a_changed_role_takes_effect_on_the_next_request() -> None:
    store = Store()
    authorizer = Authorizer(store)
    role = {"metadata": {"name": "r"}, "rules": [GET_PODS]}
    stored = store.create(RBAC, "clusterroles", role)
    store.create(RBAC, "clusterrolebindings", binding("ClusterRoleBinding", "b", "ClusterRole", "r",
                                                      [{"kind": "User", "name": "alice"}]))
    alice = user_info("alice")
    assert authorizer.allows(alice, Attributes("get", "", "pods", namespace="x"))
    store.update(RBAC, "clusterroles", {**stored, "rules": []}, None)
    assert not authorizer.allows(alice, Attributes("get", "", "pods", namespace="x"))


def test_writes_to_other_kinds_keep_the_cache() -> None:
    store = Store()
    authorizer = Authorizer(store)
    before = authorizer.generation
    store.create("", "configmaps", {"metadata": {"name": "c", "namespace": "x"}})
    assert authorizer.generation == before


# -- impersonation ------------------------------------------------------------------------------------
def acting_as(requester: UserInfo, store: Store | None = None, **headers: str | list[str]) -> UserInfo:
    multi: CIMultiDict[str] = CIMultiDict()
    for key, value in headers.items():
        for item in value if isinstance(value, list) else [value]:
            multi.add(key.replace("_", "-"), item)
    return RequestAuthorizer(Authorizer(store or Store()), "RBAC").acting_as(requester, multi)


def test_an_impersonated_user_gets_only_the_groups_asked_for_and_authenticated() -> None:
    user = acting_as(user_info(ADMIN_USER), Impersonate_User="alice", Impersonate_Group=["a", "b"])
    assert user == UserInfo("alice", ("a", "b", "system:authenticated"))


def test_impersonating_the_admins_name_gives_no_masters_group() -> None:
    assert not acting_as(user_info(ADMIN_USER), Impersonate_User=ADMIN_USER).is_superuser


def test_an_impersonated_service_account_gets_its_own_groups() -> None:
    user = acting_as(user_info(ADMIN_USER), Impersonate_User=SA)
    assert user.groups == ("system:serviceaccounts", "system:serviceaccounts:shop", "system:authenticated")


def test_groups_without_a_user_are_refused() -> None:
    with pytest.raises(StatusError) as err:
        acting_as(user_info(ADMIN_USER), Impersonate_Group="a")
    assert err.value.code == 500


def test_impersonating_a_group_needs_the_verb_on_that_group() -> None:
    store = Store()
    store.create(RBAC, "clusterroles", {"metadata": {"name": "as-users"}, "rules": [
        {"verbs": ["impersonate"], "apiGroups": [""], "resources": ["users"]}]})
    store.create(RBAC, "clusterrolebindings", binding("ClusterRoleBinding", "b", "ClusterRole", "as-users",
                                                      [{"kind": "User", "name": "bob"}]))
    assert acting_as(user_info("bob"), store, Impersonate_User="carol").username == "carol"
    with pytest.raises(StatusError) as err:
        acting_as(user_info("bob"), store, Impersonate_User="carol", Impersonate_Group="ops")
    assert err.value.message == ('groups "ops" is forbidden: User "bob" cannot impersonate resource "groups" '
                                 'in API group "" at the cluster scope')


def test_without_headers_the_requester_acts_as_itself() -> None:
    assert acting_as(user_info(SA)) == user_info(SA)
