"""Which writes an admission check applies to, decided from the request alone before any CEL runs:
the one rule matcher of ValidatingAdmissionPolicies (`matchConstraints`, a binding's
`matchResources`) and validating webhooks (`rules` and selectors), as kube-apiserver shares one.

What must hold, as in kube-apiserver (admission/plugin/webhook/predicates, policy/matching):
- writes of the admission configuration kinds themselves are never subject to admission
  (`is_exempt`), so a broken policy or webhook can always be removed;
- a rule matches when its scope, an operation, an API group, an API version and a resource all
  match ("*" matches any); `resourceNames` (policies only), when given, must name the object;
- a resource entry is `res` or `res/sub`: `*` means every resource but no subresource, `*/status`
  the status of every resource, `res/*` the resource and all its subresources (a `*` subresource
  matches the main resource too), `*/*` everything;
- scope: the Namespace object is cluster-scoped; "Namespaced" matches writes in a namespace;
- the namespace selector reads the labels of the request's Namespace (a Namespace's own labels as
  written for its CREATE and UPDATE); other cluster-scoped writes always pass it; a namespace that
  does not exist fails the write with kube's 404, but only when the rest matches;
- the object selector passes when the new or the old object's labels match;
- exclude rules win over rules; an absent selector matches everything;
- matchPolicy Equivalent (the default): a write no rule names at its own version still matches when
  a rule names another served version of the same resource; the check then sees the request at
  that version (`MatchedAs`). Exact matches the write's own version only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from conveyor.sim.admission.attributes import AdmissionAttributes
from conveyor.sim.errors import StatusError, not_found
from conveyor.sim.resources import version_priority
from conveyor.sim.selectors import LabelSelector, selector_from_match

if TYPE_CHECKING:
    from conveyor.sim.api import ApiService

ADMISSION_GROUP = "admissionregistration.k8s.io"
EXEMPT_RESOURCES = frozenset({
    "validatingwebhookconfigurations",
    "mutatingwebhookconfigurations",
    "validatingadmissionpolicies",
    "validatingadmissionpolicybindings",
    "mutatingadmissionpolicies",
    "mutatingadmissionpolicybindings",
})


def is_exempt(group: str, resource: str) -> bool:
    return group == ADMISSION_GROUP and resource in EXEMPT_RESOURCES


def is_namespace_object(attrs: AdmissionAttributes) -> bool:
    return attrs.group == "" and attrs.resource == "namespaces"


def request_namespace(attrs: AdmissionAttributes) -> str:
    """The namespace kube puts in the request: for the Namespace object itself, its own name."""
    if is_namespace_object(attrs) and not attrs.namespace:
        return attrs.name
    return attrs.namespace


@dataclass(frozen=True)
class Rule:
    operations: tuple[str, ...]
    api_groups: tuple[str, ...]
    api_versions: tuple[str, ...]
    resources: tuple[str, ...]
    scope: str  # "Cluster", "Namespaced" or "*"
    resource_names: tuple[str, ...] = ()


def _strings(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in value) if isinstance(value, list) else ()


def read_rule(raw: dict[str, Any]) -> Rule:
    """A RuleWithOperations (webhooks) or NamedRuleWithOperations (policies), scope defaulted."""
    return Rule(
        operations=_strings(raw.get("operations")),
        api_groups=_strings(raw.get("apiGroups")),
        api_versions=_strings(raw.get("apiVersions")),
        resources=_strings(raw.get("resources")),
        scope=str(raw.get("scope") or "*"),
        resource_names=_strings(raw.get("resourceNames")),
    )


def read_rules(raw: Any) -> tuple[Rule, ...]:
    return tuple(read_rule(r) for r in raw or () if isinstance(r, dict))


def _everything() -> LabelSelector:
    return LabelSelector([])


@dataclass(frozen=True)
class Criteria:
    """What one check matches: a MatchResources, or a webhook's rules and selectors."""

    rules: tuple[Rule, ...]
    exclude_rules: tuple[Rule, ...] = ()
    namespace_selector: LabelSelector = field(default_factory=_everything)
    object_selector: LabelSelector = field(default_factory=_everything)
    match_policy: str = "Equivalent"


def read_match_resources(raw: dict[str, Any] | None) -> Criteria:
    """A policy's matchConstraints or a binding's matchResources (absent: matches everything)."""
    raw = raw or {}
    return Criteria(
        rules=read_rules(raw.get("resourceRules")),
        exclude_rules=read_rules(raw.get("excludeResourceRules")),
        namespace_selector=selector_from_match(raw.get("namespaceSelector"), tolerant=True),
        object_selector=selector_from_match(raw.get("objectSelector"), tolerant=True),
        match_policy=str(raw.get("matchPolicy") or "Equivalent"),
    )


@dataclass(frozen=True)
class MatchedAs:
    """The group/version/resource and kind a check sees the write at: the write's own, or an
    equivalent version's under matchPolicy Equivalent."""

    group: str
    version: str
    resource: str
    kind_group: str
    kind_version: str
    kind: str

    @property
    def api_version(self) -> str:
        return f"{self.kind_group}/{self.kind_version}" if self.kind_group else self.kind_version


@dataclass(frozen=True)
class Subject:
    """A write as the matcher reads it: its attributes, its Namespace as stored (None when
    cluster-scoped or missing) and the other served versions of its resource, (version, kind)
    preferred first. Built once per write, whatever number of checks it is matched against."""

    attrs: AdmissionAttributes
    namespace: dict[str, Any] | None = None
    equivalents: tuple[tuple[str, str], ...] = ()

    def own(self) -> MatchedAs:
        a = self.attrs
        return MatchedAs(a.group, a.version, a.resource, *a.kind_at())

    def at_version(self, version: str, kind: str) -> MatchedAs:
        a = self.attrs
        if a.kind_is_resource_kind:
            return MatchedAs(a.group, version, a.resource, a.group, version, kind)
        return MatchedAs(a.group, version, a.resource, *a.kind_at())  # a Scale stays autoscaling/v1


def subject_of(api: ApiService, attrs: AdmissionAttributes) -> Subject:
    name = request_namespace(attrs)
    namespace = api.store.get("", "namespaces", "", name) if name else None
    found = [
        (rt.version, rt.kind) for rt in api.registry.all()
        if rt.group == attrs.group and rt.plural == attrs.resource and rt.served
        and rt.version != attrs.version
    ]
    return Subject(attrs, namespace, tuple(sorted(found, key=lambda vk: version_priority(vk[0]))))


def _listed(values: tuple[str, ...], value: str) -> bool:
    return "*" in values or value in values


def resource_matches(entries: tuple[str, ...] | list[str], resource: str, subresource: str) -> bool:
    """Whether one of a rule's `resources` entries names `resource` (with `subresource`, "" for none)."""
    for entry in entries:
        res, _, sub = entry.partition("/")
        if res in ("*", resource) and sub in ("*", subresource):
            return True
    return False


def _scope_matches(scope: str, attrs: AdmissionAttributes) -> bool:
    if scope == "Namespaced":
        return not is_namespace_object(attrs) and bool(request_namespace(attrs))
    if scope == "Cluster":
        return is_namespace_object(attrs) or not request_namespace(attrs)
    return scope == "*"


def rule_matches(rule: Rule, attrs: AdmissionAttributes, version: str | None = None) -> bool:
    """One rule against the write, seen at `version` (default: its own)."""
    return (
        _scope_matches(rule.scope, attrs)
        and _listed(rule.operations, attrs.operation)
        and _listed(rule.api_groups, attrs.group)
        and _listed(rule.api_versions, attrs.version if version is None else version)
        and resource_matches(rule.resources, attrs.resource, attrs.subresource)
        and (not rule.resource_names or attrs.name in rule.resource_names)
    )


def _first_match(rules: tuple[Rule, ...], subject: Subject, match_policy: str) -> MatchedAs | None:
    if any(rule_matches(rule, subject.attrs) for rule in rules):
        return subject.own()
    if match_policy != "Equivalent":
        return None
    for rule in rules:
        for version, kind in subject.equivalents:
            if rule_matches(rule, subject.attrs, version):
                return subject.at_version(version, kind)
    return None


def _labels(obj: dict[str, Any] | None) -> dict[str, str] | None:
    if obj is None:
        return None
    return (obj.get("metadata") or {}).get("labels") or {}


def _namespace_selector_matches(selector: LabelSelector, subject: Subject) -> bool:
    attrs = subject.attrs
    if selector.empty or (not request_namespace(attrs) and not is_namespace_object(attrs)):
        return True
    if is_namespace_object(attrs) and not attrs.subresource and attrs.operation in ("CREATE", "UPDATE"):
        return selector.matches(_labels(attrs.object))
    if subject.namespace is None:
        raise not_found("namespaces", "", request_namespace(attrs))
    return selector.matches(_labels(subject.namespace))


def _object_selector_matches(selector: LabelSelector, attrs: AdmissionAttributes) -> bool:
    if selector.empty:
        return True
    return any(
        labels is not None and selector.matches(labels)
        for labels in (_labels(attrs.object), _labels(attrs.old_object))
    )


def match(criteria: Criteria, subject: Subject, *, rules_required: bool = True) -> MatchedAs | None:
    """What the check sees the write at, or None when it does not apply.

    `rules_required`: criteria without rules match nothing (a policy's matchConstraints, a webhook);
    otherwise they leave the resources to another check (a binding's matchResources)."""
    namespace_error: StatusError | None = None
    try:
        if not _namespace_selector_matches(criteria.namespace_selector, subject):
            return None
    except StatusError as exc:
        namespace_error = exc
    if not _object_selector_matches(criteria.object_selector, subject.attrs):
        return None
    if _first_match(criteria.exclude_rules, subject, criteria.match_policy) is not None:
        return None
    if criteria.rules:
        matched = _first_match(criteria.rules, subject, criteria.match_policy)
    else:
        matched = None if rules_required else subject.own()
    if matched is not None and namespace_error is not None:
        raise namespace_error
    return matched
