"""RBAC decisions from the stored Roles, ClusterRoles and their bindings, as kube's RBAC authorizer
makes them. The sim does not enforce them on requests yet; access reviews (`kubectl auth can-i`)
answer with them, so a chart's or the operator's RBAC can be checked now and holds once enforced.

What must hold (k8s.io/kubernetes/plugin/pkg/auth/authorizer/rbac):
- `system:masters` is allowed everything (kube's privileged group, before any authorizer);
- a ClusterRoleBinding grants its role's rules everywhere; a RoleBinding grants its Role's or
  ClusterRole's rules in its own namespace only;
- a rule matches when its verbs, apiGroups and resources (`pods/log` for a subresource, `*`,
  `*/log`) match, and, when it lists resourceNames, the request names one of them;
  nonResourceURLs match exactly or by a trailing `*` prefix;
- every authenticated user also holds kube's bootstrap `system:basic-user` and `system:discovery`
  rules: it may review its own access and read discovery, even with no binding stored.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from conveyor.sim.identity import AUTHENTICATED_GROUP, UserInfo, service_account_of
from conveyor.sim.storage import Store

RBAC = "rbac.authorization.k8s.io"
Rule = dict[str, Any]

_BOOTSTRAP_RULES: tuple[Rule, ...] = (
    {"verbs": ["create"], "apiGroups": ["authorization.k8s.io"],
     "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]},
    {"verbs": ["create"], "apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"]},
    {"verbs": ["get"], "nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez",
                                           "/openapi", "/openapi/*", "/readyz", "/version", "/version/"]},
)
_EVERYTHING: tuple[Rule, ...] = (
    {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
    {"verbs": ["*"], "nonResourceURLs": ["*"]},
)


@dataclass(frozen=True)
class Attributes:
    """What a request does: a resource request (resource set) or a non-resource one (path set)."""

    verb: str
    group: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    namespace: str = ""
    path: str = ""

    @property
    def is_resource_request(self) -> bool:
        return not self.path


def _has(values: list[str] | None, wanted: str) -> bool:
    return "*" in (values or ()) or wanted in (values or ())


def _resource_matches(rule: Rule, attrs: Attributes) -> bool:
    resources = rule.get("resources") or []
    if attrs.subresource:
        combined = f"{attrs.resource}/{attrs.subresource}"
        return "*" in resources or combined in resources or f"*/{attrs.subresource}" in resources
    return "*" in resources or attrs.resource in resources


def rule_allows(rule: Rule, attrs: Attributes) -> bool:
    if not _has(rule.get("verbs"), attrs.verb):
        return False
    if not attrs.is_resource_request:
        return any(url == attrs.path or url == "*" or (url.endswith("*") and attrs.path.startswith(url[:-1]))
                   for url in rule.get("nonResourceURLs") or ())
    if not _has(rule.get("apiGroups"), attrs.group) or not _resource_matches(rule, attrs):
        return False
    names = rule.get("resourceNames") or []
    return not names or attrs.name in names


def _describe(subject: dict[str, Any]) -> str:
    kind, name = subject.get("kind", ""), subject.get("name", "")
    if kind == "ServiceAccount":
        return f'{kind} "{subject.get("namespace", "")}/{name}"'
    return f'{kind} "{name}"'


def _subject_matching(binding: dict[str, Any], user: UserInfo) -> dict[str, Any] | None:
    account = service_account_of(user.username)
    for subject in binding.get("subjects") or ():
        kind, name = subject.get("kind"), subject.get("name")
        if kind == "User" and name == user.username:
            return dict(subject)
        if kind == "Group" and name in user.groups:
            return dict(subject)
        if kind == "ServiceAccount" and account is not None:
            namespace = subject.get("namespace") or (binding.get("metadata") or {}).get("namespace", "")
            if (namespace, name) == account:
                return {**subject, "namespace": namespace}
    return None


class Authorizer:
    """Reads the policy from the store on each question: bindings change at any time."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def _role_rules(self, ref: dict[str, Any], namespace: str) -> list[Rule]:
        kind, name = ref.get("kind"), ref.get("name", "")
        if kind == "ClusterRole":
            role = self.store.get(RBAC, "clusterroles", "", name)
        elif kind == "Role" and namespace:
            role = self.store.get(RBAC, "roles", namespace, name)
        else:
            role = None
        return list((role or {}).get("rules") or ())

    def _grants(self, user: UserInfo, namespace: str) -> Iterator[tuple[str, dict[str, Any], list[Rule]]]:
        """(how it is granted, binding subject, rules) for every binding that names the user and
        applies in `namespace` ("" = cluster-wide bindings only)."""
        for binding in self.store.objects(RBAC, "clusterrolebindings"):
            subject = _subject_matching(binding, user)
            if subject is not None:
                ref = binding.get("roleRef") or {}
                how = (f'ClusterRoleBinding "{binding["metadata"]["name"]}" of '
                       f'{ref.get("kind")} "{ref.get("name")}" to {_describe(subject)}')
                yield how, subject, self._role_rules(ref, "")
        if not namespace:
            return
        for binding in self.store.objects(RBAC, "rolebindings", namespace):
            subject = _subject_matching(binding, user)
            if subject is not None:
                ref = binding.get("roleRef") or {}
                how = (f'RoleBinding "{binding["metadata"]["name"]}/{namespace}" of '
                       f'{ref.get("kind")} "{ref.get("name")}" to {_describe(subject)}')
                yield how, subject, self._role_rules(ref, namespace)

    def authorize(self, user: UserInfo, attrs: Attributes) -> tuple[bool, str]:
        """(allowed, reason) as a SubjectAccessReview's status reports them."""
        if user.is_superuser:
            return True, ""
        if AUTHENTICATED_GROUP in user.groups and any(rule_allows(r, attrs) for r in _BOOTSTRAP_RULES):
            return True, "RBAC: allowed by the bootstrap roles system:basic-user and system:discovery"
        for how, _subject, rules in self._grants(user, attrs.namespace):
            if any(rule_allows(r, attrs) for r in rules):
                return True, f"RBAC: allowed by {how}"
        return False, ""

    def rules_for(self, user: UserInfo, namespace: str) -> tuple[list[Rule], list[Rule]]:
        """(resourceRules, nonResourceRules) the user holds in `namespace`, as a
        SelfSubjectRulesReview lists them."""
        rules: list[Rule] = list(_EVERYTHING) if user.is_superuser else []
        if AUTHENTICATED_GROUP in user.groups:
            rules.extend(_BOOTSTRAP_RULES)
        for _how, _subject, granted in self._grants(user, namespace):
            rules.extend(granted)
        resource_rules, non_resource_rules = [], []
        for rule in rules:
            if rule.get("nonResourceURLs"):
                non_resource_rules.append({"verbs": list(rule.get("verbs") or ()),
                                           "nonResourceURLs": list(rule["nonResourceURLs"])})
            else:
                entry = {k: list(rule[k]) for k in ("verbs", "apiGroups", "resources", "resourceNames")
                         if rule.get(k)}
                entry.setdefault("verbs", [])
                resource_rules.append(entry)
        return resource_rules, non_resource_rules
