"""RBAC decisions from the stored Roles, ClusterRoles and their bindings, as kube's RBAC authorizer
makes them: for every HTTP request when the server runs with authorization "RBAC", and for access
reviews (`kubectl auth can-i`) in every mode.

What must hold (k8s.io/kubernetes/plugin/pkg/auth/authorizer/rbac):
- `system:masters` is allowed everything (kube's privileged group, before any authorizer);
- a ClusterRoleBinding grants its role's rules everywhere; a RoleBinding grants its Role's or
  ClusterRole's rules in its own namespace only;
- a rule matches when its verbs, apiGroups and resources (`pods/log` for a subresource, `*`,
  `*/log`) match, and, when it lists resourceNames, the request names one of them;
  nonResourceURLs match exactly or by a trailing `*` prefix;
- a binding whose role does not exist grants nothing; a denial then gives the missing role as
  its reason, as kube does (`RBAC: role.rbac.authorization.k8s.io "x" not found`);
- every authenticated user holds the rules of kube's bootstrap `system:basic-user`,
  `system:discovery` and `system:public-info-viewer`, and the anonymous user those of the last,
  even when their bindings are gone (kube's apiserver re-creates them at every start).

Speed: the server asks once per request, at thousands of requests a second, so the rules a user
holds are compiled once per (user, groups, namespace) and kept until any Role, ClusterRole or
binding changes: a store listener bumps `generation` on every write to those kinds, and a cache
entry compiled under an older generation is thrown away.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from conveyor.sim.bootstrap_policy import (
    BASIC_USER_RULES,
    CLUSTER_ADMIN_RULES,
    DISCOVERY_RULES,
    PUBLIC_INFO_RULES,
)
from conveyor.sim.identity import AUTHENTICATED_GROUP, UNAUTHENTICATED_GROUP, UserInfo, service_account_of
from conveyor.sim.storage import Event, Store

RBAC = "rbac.authorization.k8s.io"
RBAC_KINDS = frozenset({"roles", "clusterroles", "rolebindings", "clusterrolebindings"})
Rule = dict[str, Any]

_PUBLIC_INFO_RULES = PUBLIC_INFO_RULES
_BOOTSTRAP_RULES = (*BASIC_USER_RULES, *DISCOVERY_RULES)
_EVERYTHING = CLUSTER_ADMIN_RULES
_CACHE_LIMIT = 4096  # entries; past it the cache starts over rather than grow with every user seen
_MEMO_LIMIT = 1024  # request shapes remembered per user and namespace


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


class CompiledRule:
    """One PolicyRule as sets, so a match is a few hash lookups; `*` is kept as a member."""

    __slots__ = ("groups", "names", "resources", "urls", "verbs")

    def __init__(self, rule: Rule) -> None:
        self.verbs = frozenset(rule.get("verbs") or ())
        self.groups = frozenset(rule.get("apiGroups") or ())
        self.resources = frozenset(rule.get("resources") or ())
        self.names = frozenset(rule.get("resourceNames") or ())
        self.urls = tuple(rule.get("nonResourceURLs") or ())

    def allows(self, attrs: Attributes) -> bool:
        if attrs.verb not in self.verbs and "*" not in self.verbs:
            return False
        if not attrs.is_resource_request:
            path = attrs.path
            return any(url == path or url == "*" or (url.endswith("*") and path.startswith(url[:-1]))
                       for url in self.urls)
        if attrs.group not in self.groups and "*" not in self.groups:
            return False
        resources = self.resources
        if attrs.subresource:
            if not ("*" in resources or f"{attrs.resource}/{attrs.subresource}" in resources
                    or f"*/{attrs.subresource}" in resources):
                return False
        elif attrs.resource not in resources and "*" not in resources:
            return False
        return not self.names or attrs.name in self.names


def rule_allows(rule: Rule, attrs: Attributes) -> bool:
    """Whether one PolicyRule (as stored) covers the request."""
    return CompiledRule(rule).allows(attrs)


_COMPILED_PUBLIC_INFO = tuple(CompiledRule(r) for r in _PUBLIC_INFO_RULES)
_COMPILED_BOOTSTRAP = tuple(CompiledRule(r) for r in _BOOTSTRAP_RULES)


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


@dataclass(frozen=True)
class Grant:
    """What one binding gives a user: `how` is the reason an allowed review reports."""

    how: str
    rules: tuple[Rule, ...]
    compiled: tuple[CompiledRule, ...]


@dataclass(frozen=True)
class _Policy:
    """A user's grants in one scope (cluster-wide bindings, plus one namespace's), compiled.

    Most requests repeat a few shapes (verb, group, resource, subresource) with varying names, so
    the answer of the rules that name no object is memoised per shape; rules with resourceNames
    (few, in practice) are checked on every request."""

    generation: int
    grants: tuple[Grant, ...]
    errors: tuple[str, ...]
    named: tuple[tuple[str, CompiledRule], ...]
    memo: dict[tuple[str, str, str, str, str], str | None] = field(default_factory=dict)

    def grant_for(self, attrs: Attributes) -> str | None:
        """How `attrs` is allowed (the binding's description), None when no rule allows it."""
        key = (attrs.verb, attrs.group, attrs.resource, attrs.subresource, attrs.path)
        try:
            how = self.memo[key]
        except KeyError:
            how = next((g.how for g in self.grants for r in g.compiled if not r.names and r.allows(attrs)),
                       None)
            if len(self.memo) < _MEMO_LIMIT:
                self.memo[key] = how
        if how is None and attrs.name:
            how = next((how for how, rule in self.named if rule.allows(attrs)), None)
        return how


class Authorizer:
    """Answers from the store through a cache that every RBAC write invalidates (see module doc)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.generation = 0
        self._cache: dict[tuple[str, tuple[str, ...], str], _Policy] = {}
        self._lock = threading.Lock()
        store.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        if event.group == RBAC and event.plural in RBAC_KINDS:
            self.generation += 1

    # ---- policy lookup ---------------------------------------------------------------------------

    def _role(self, ref: dict[str, Any], namespace: str) -> tuple[dict[str, Any] | None, str]:
        """(the role a roleRef names, the error to report when it is missing)."""
        kind, name = ref.get("kind"), ref.get("name", "")
        if kind == "ClusterRole":
            return self.store.get(RBAC, "clusterroles", "", name), f'clusterrole.{RBAC} "{name}" not found'
        if kind == "Role" and namespace:
            return self.store.get(RBAC, "roles", namespace, name), f'role.{RBAC} "{name}" not found'
        return None, f'{str(kind).lower()}.{RBAC} "{name}" not found'

    def _bindings(self, user: UserInfo, namespace: str
                  ) -> Iterator[tuple[str, dict[str, Any] | None, str]]:
        """(how it is granted, the bound role or None, the error if missing) for every binding
        that names the user and applies in `namespace` ("" = cluster-wide bindings only)."""
        for binding in self.store.objects(RBAC, "clusterrolebindings"):
            subject = _subject_matching(binding, user)
            if subject is not None:
                ref = binding.get("roleRef") or {}
                how = (f'ClusterRoleBinding "{binding["metadata"]["name"]}" of '
                       f'{ref.get("kind")} "{ref.get("name")}" to {_describe(subject)}')
                yield (how, *self._role(ref, ""))
        if not namespace:
            return
        for binding in self.store.objects(RBAC, "rolebindings", namespace):
            subject = _subject_matching(binding, user)
            if subject is not None:
                ref = binding.get("roleRef") or {}
                how = (f'RoleBinding "{binding["metadata"]["name"]}/{namespace}" of '
                       f'{ref.get("kind")} "{ref.get("name")}" to {_describe(subject)}')
                yield (how, *self._role(ref, namespace))

    def _compile(self, user: UserInfo, namespace: str, generation: int) -> _Policy:
        grants: list[Grant] = []
        errors: list[str] = []
        for how, role, missing in self._bindings(user, namespace):
            if role is None:
                errors.append(missing)
                continue
            rules = tuple(role.get("rules") or ())
            grants.append(Grant(how, rules, tuple(CompiledRule(r) for r in rules)))
        named = tuple((g.how, r) for g in grants for r in g.compiled if r.names)
        return _Policy(generation, tuple(grants), tuple(errors), named)

    def _policy(self, user: UserInfo, namespace: str) -> _Policy:
        key = (user.username, user.groups, namespace)
        generation = self.generation  # read first: a write during compilation makes the entry stale
        policy = self._cache.get(key)
        if policy is not None and policy.generation == generation:
            return policy
        policy = self._compile(user, namespace, generation)
        with self._lock:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[key] = policy
        return policy

    # ---- decisions -------------------------------------------------------------------------------

    def authorize(self, user: UserInfo, attrs: Attributes) -> tuple[bool, str]:
        """(allowed, reason) as a SubjectAccessReview's status reports them; on a denial the reason
        is empty unless a binding names a missing role."""
        if user.is_superuser:
            return True, ""
        policy = self._policy(user, attrs.namespace)
        how = policy.grant_for(attrs)
        if how is not None:
            return True, f"RBAC: allowed by {how}"
        if AUTHENTICATED_GROUP in user.groups and any(r.allows(attrs) for r in _COMPILED_BOOTSTRAP):
            return True, "RBAC: allowed by the bootstrap roles system:basic-user and system:discovery"
        if UNAUTHENTICATED_GROUP in user.groups and any(r.allows(attrs) for r in _COMPILED_PUBLIC_INFO):
            return True, "RBAC: allowed by the bootstrap role system:public-info-viewer"
        if policy.errors:
            return False, "RBAC: " + (policy.errors[0] if len(policy.errors) == 1
                                      else "[" + ", ".join(policy.errors) + "]")
        return False, ""

    def allows(self, user: UserInfo, attrs: Attributes) -> bool:
        return self.authorize(user, attrs)[0]

    def rules_for(self, user: UserInfo, namespace: str) -> tuple[list[Rule], list[Rule]]:
        """(resourceRules, nonResourceRules) the user holds in `namespace`, as a
        SelfSubjectRulesReview lists them."""
        rules: list[Rule] = list(_EVERYTHING) if user.is_superuser else []
        for grant in self._policy(user, namespace).grants:
            rules.extend(grant.rules)
        if AUTHENTICATED_GROUP in user.groups:
            rules.extend(_BOOTSTRAP_RULES)
        elif UNAUTHENTICATED_GROUP in user.groups:
            rules.extend(_PUBLIC_INFO_RULES)
        return split_rules(rules)


def split_rules(rules: Iterable[Rule]) -> tuple[list[Rule], list[Rule]]:
    """Rules as a rules review lists them: resource rules, then non-resource ones, without
    duplicates (a user bound twice to one role sees its rules once)."""
    resource_rules: list[Rule] = []
    non_resource_rules: list[Rule] = []
    for rule in rules:
        if rule.get("nonResourceURLs"):
            entry: Rule = {"verbs": list(rule.get("verbs") or ()),
                           "nonResourceURLs": list(rule["nonResourceURLs"])}
            target = non_resource_rules
        else:
            entry = {k: list(rule[k]) for k in ("verbs", "apiGroups", "resources", "resourceNames")
                     if rule.get(k)}
            entry.setdefault("verbs", [])
            target = resource_rules
        if entry not in target:
            target.append(entry)
    return resource_rules, non_resource_rules
