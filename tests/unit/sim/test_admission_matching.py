"""Which writes a ValidatingAdmissionPolicy's matchConstraints and a binding's matchResources select
(conveyor.sim.admission.matching, the matcher webhooks share), decided from the request alone as
kube-apiserver does."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor.sim.admission.attributes import AdmissionAttributes, Operation
from conveyor.sim.admission.matching import (
    Rule,
    Subject,
    match,
    read_match_resources,
    read_rule,
    resource_matches,
    rule_matches,
)
from conveyor.sim.identity import user_info


def attrs(
    operation: Operation = "UPDATE",
    group: str = "conveyor.dev",
    resource: str = "executions",
    subresource: str = "",
    kind: str = "Execution",
    namespace: str = "shop",
    name: str = "x1",
    labels: dict[str, str] | None = None,
    old_labels: dict[str, str] | None = None,
) -> AdmissionAttributes:
    def obj(lbls: dict[str, str] | None) -> dict[str, Any]:
        return {"metadata": {"name": name, "namespace": namespace, "labels": lbls or {}}}

    return AdmissionAttributes(
        operation=operation, group=group, version="v1alpha1", resource=resource, subresource=subresource,
        kind=kind, namespace=namespace, name=name,
        object=None if operation == "DELETE" else obj(labels),
        old_object=None if operation == "CREATE" else obj(old_labels if old_labels is not None else labels),
        user=user_info("kubernetes-admin"),
    )


def raw_rule(**overrides: Any) -> dict[str, Any]:
    return {"apiGroups": ["conveyor.dev"], "apiVersions": ["*"], "operations": ["UPDATE"],
            "resources": ["executions"], **overrides}


def rule(**overrides: Any) -> Rule:
    return read_rule(raw_rule(**overrides))


def matches(
    raw: dict[str, Any] | None, write: AdmissionAttributes, namespace: dict[str, Any] | None,
    *, rules_required: bool,
) -> bool:
    criteria = read_match_resources(raw)
    return match(criteria, Subject(write, namespace), rules_required=rules_required) is not None


NAMESPACE = {"metadata": {"name": "shop", "labels": {"team": "a"}}}


@pytest.mark.parametrize(
    ("pattern", "resource", "subresource", "expected"),
    [
        ("executions", "executions", "", True),
        ("executions", "executions", "status", False),
        ("executions/status", "executions", "status", True),
        ("executions/status", "executions", "", False),
        ("*", "executions", "", True),
        ("*", "executions", "status", False),
        ("*/status", "deployments", "status", True),
        ("*/status", "deployments", "scale", False),
        ("executions/*", "executions", "status", True),
        ("executions/*", "executions", "", True),  # kube: "*" matches the empty subresource too
        ("*/*", "executions", "status", True),
        ("*/*", "executions", "", True),
        ("deployments", "executions", "", False),
    ],
)
def test_resource_patterns_follow_kubes_subresource_rules(
    pattern: str, resource: str, subresource: str, expected: bool
) -> None:
    assert resource_matches([pattern], resource, subresource) is expected


def test_a_rule_matches_only_its_operations() -> None:
    assert rule_matches(rule(), attrs("UPDATE"))
    assert not rule_matches(rule(), attrs("CREATE"))
    assert rule_matches(rule(operations=["*"]), attrs("DELETE"))


def test_a_rule_matches_only_its_api_groups() -> None:
    assert not rule_matches(rule(apiGroups=[""]), attrs())
    assert rule_matches(rule(apiGroups=["*"]), attrs())


def test_a_rule_with_resource_names_matches_only_those_objects() -> None:
    assert rule_matches(rule(resourceNames=["x1"]), attrs(name="x1"))
    assert not rule_matches(rule(resourceNames=["x1"]), attrs(name="x2"))


def test_a_rule_scope_separates_namespaced_from_cluster_objects() -> None:
    assert rule_matches(rule(scope="Namespaced"), attrs())
    assert not rule_matches(rule(scope="Cluster"), attrs())
    cluster = attrs(group="", resource="namespaces", kind="Namespace", namespace="", name="shop")
    assert rule_matches(rule(apiGroups=[""], resources=["namespaces"], scope="Cluster"), cluster)


def test_policy_constraints_without_resource_rules_match_nothing() -> None:
    assert not matches({}, attrs(), NAMESPACE, rules_required=True)


def test_binding_match_resources_without_rules_leave_resources_to_the_policy() -> None:
    assert matches({}, attrs(), NAMESPACE, rules_required=False)
    assert matches(None, attrs(), NAMESPACE, rules_required=False)


def test_an_exclude_rule_wins_over_a_resource_rule() -> None:
    resources = {"resourceRules": [raw_rule(resources=["executions", "executions/status"])],
             "excludeResourceRules": [raw_rule(resources=["executions/status"])]}
    assert matches(resources, attrs(), NAMESPACE, rules_required=True)
    assert not matches(resources, attrs(subresource="status"), NAMESPACE, rules_required=True)


def test_the_namespace_selector_reads_the_request_namespace_labels() -> None:
    resources = {"resourceRules": [raw_rule()], "namespaceSelector": {"matchLabels": {"team": "a"}}}
    assert matches(resources, attrs(), NAMESPACE, rules_required=True)
    other = {"metadata": {"name": "shop", "labels": {"team": "b"}}}
    assert not matches(resources, attrs(), other, rules_required=True)


def test_the_namespace_selector_does_not_constrain_cluster_scoped_objects() -> None:
    resources = {"resourceRules": [raw_rule(apiGroups=["*"], resources=["*"], operations=["*"])],
             "namespaceSelector": {"matchLabels": {"team": "a"}}}
    crd = attrs(group="apiextensions.k8s.io", resource="customresourcedefinitions",
                kind="CustomResourceDefinition", namespace="", name="x.conveyor.dev")
    assert matches(resources, crd, None, rules_required=True)


def test_a_namespace_is_judged_by_its_own_labels() -> None:
    resources = {"resourceRules": [raw_rule(apiGroups=[""], resources=["namespaces"], operations=["CREATE"])],
             "namespaceSelector": {"matchLabels": {"team": "a"}}}
    def namespace(labels: dict[str, str]) -> AdmissionAttributes:
        return attrs("CREATE", group="", resource="namespaces", kind="Namespace", namespace="",
                     name="shop", labels=labels)

    assert matches(resources, namespace({"team": "a"}), None, rules_required=True)
    assert not matches(resources, namespace({"team": "b"}), None, rules_required=True)


def test_the_object_selector_passes_when_the_new_or_the_old_object_matches() -> None:
    resources = {"resourceRules": [raw_rule()], "objectSelector": {"matchLabels": {"tier": "gold"}}}
    assert matches(resources, attrs(labels={"tier": "gold"}, old_labels={}), NAMESPACE, rules_required=True)
    assert matches(resources, attrs(labels={}, old_labels={"tier": "gold"}), NAMESPACE, rules_required=True)
    assert not matches(resources, attrs(labels={}, old_labels={}), NAMESPACE, rules_required=True)


def test_a_delete_is_selected_by_its_old_object() -> None:
    resources = {"resourceRules": [raw_rule(operations=["DELETE"])],
             "objectSelector": {"matchExpressions": [{"key": "tier", "operator": "Exists"}]}}
    assert matches(resources, attrs("DELETE", labels={"tier": "x"}), NAMESPACE, rules_required=True)
    assert not matches(resources, attrs("DELETE", labels={}), NAMESPACE, rules_required=True)


def widget(version: str, subresource: str = "", kind: tuple[str, str] | None = None) -> AdmissionAttributes:
    return AdmissionAttributes(
        operation="UPDATE", group="example.com", version=version, resource="widgets",
        subresource=subresource, kind=kind[1] if kind else "Widget", namespace="shop", name="w",
        object={"apiVersion": f"example.com/{version}", "metadata": {"name": "w"}},
        old_object={"apiVersion": f"example.com/{version}", "metadata": {"name": "w"}},
        user=user_info("kubernetes-admin"),
        kind_group=None if kind is None else kind[0].split("/")[0],
        kind_version=None if kind is None else kind[0].split("/")[1],
    )


V1_RULES = {"resourceRules": [{"apiGroups": ["example.com"], "apiVersions": ["v1"], "operations": ["*"],
                               "resources": ["widgets", "widgets/scale"]}]}


def test_match_policy_equivalent_matches_at_another_served_version() -> None:
    subject = Subject(widget("v2"), NAMESPACE, equivalents=(("v1", "Widget"),))
    matched = match(read_match_resources(V1_RULES), subject)
    assert matched is not None
    assert (matched.version, matched.kind_version, matched.kind) == ("v1", "v1", "Widget")


def test_match_policy_exact_matches_the_written_version_only() -> None:
    subject = Subject(widget("v2"), NAMESPACE, equivalents=(("v1", "Widget"),))
    assert match(read_match_resources({**V1_RULES, "matchPolicy": "Exact"}), subject) is None


def test_an_equivalent_scale_write_keeps_its_autoscaling_kind() -> None:
    write = widget("v2", "scale", kind=("autoscaling/v1", "Scale"))
    subject = Subject(write, NAMESPACE, equivalents=(("v1", "Widget"),))
    matched = match(read_match_resources(V1_RULES), subject)
    assert matched is not None
    assert (matched.version, matched.kind_group, matched.kind_version, matched.kind) == (
        "v1", "autoscaling", "v1", "Scale")
