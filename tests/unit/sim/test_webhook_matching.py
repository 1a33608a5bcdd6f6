"""Which writes a validating webhook applies to: rules, scope, selectors, matchPolicy, exemptions
(conveyor.sim.admission.matching, shared with policies), as kube-apiserver matches them."""

from __future__ import annotations

from typing import Any

import pytest

from conveyor.sim.admission.attributes import AdmissionAttributes, Operation
from conveyor.sim.admission.matching import MatchedAs, is_exempt, match, subject_of
from conveyor.sim.admission.webhook_config import ValidatingWebhook, read_webhook
from conveyor.sim.api import ApiService
from conveyor.sim.errors import StatusError
from conveyor.sim.identity import user_info
from conveyor.sim.resources import ResourceType


@pytest.fixture
def api() -> ApiService:
    service = ApiService()
    for name, labels in (("shop", {"team": "web"}), ("other", {"team": "ops"})):
        service.store.create(
            "",
            "namespaces",
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}},
        )
    return service


def hook(**fields: Any) -> ValidatingWebhook:
    raw: dict[str, Any] = {
        "name": "check.example.com",
        "clientConfig": {"url": "https://127.0.0.1:1/"},
        "rules": [
            {"operations": ["CREATE"], "apiGroups": [""], "apiVersions": ["v1"], "resources": ["configmaps"]}
        ],
        "sideEffects": "None",
        "admissionReviewVersions": ["v1"],
    }
    raw.update(fields)
    return read_webhook("config", raw)


def write(
    operation: Operation = "CREATE",
    *,
    resource: str = "configmaps",
    kind: str = "ConfigMap",
    group: str = "",
    version: str = "v1",
    subresource: str = "",
    namespace: str = "shop",
    name: str = "c",
    labels: dict[str, str] | None = None,
    old_labels: dict[str, str] | None = None,
) -> AdmissionAttributes:
    def obj(lab: dict[str, str] | None) -> dict[str, Any]:
        return {"apiVersion": version, "kind": kind, "metadata": {"name": name, "labels": lab or {}}}

    return AdmissionAttributes(
        operation=operation,
        group=group,
        version=version,
        resource=resource,
        subresource=subresource,
        kind=kind,
        namespace=namespace,
        name=name,
        object=None if operation == "DELETE" else obj(labels),
        old_object=None if operation == "CREATE" else obj(old_labels),
        user=user_info("kubernetes-admin"),
    )


def select(api: ApiService, h: ValidatingWebhook, attrs: AdmissionAttributes) -> MatchedAs | None:
    return match(h.criteria, subject_of(api, attrs))


def rule(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"operations": ["*"], "apiGroups": ["*"], "apiVersions": ["*"], "resources": ["*"]}
    return {**base, **fields}


def test_a_rule_matches_its_operation_group_version_and_resource(api: ApiService) -> None:
    assert select(api, hook(), write()) is not None


def test_a_rule_skips_other_operations(api: ApiService) -> None:
    assert select(api, hook(), write("UPDATE")) is None


def test_operation_star_matches_every_operation(api: ApiService) -> None:
    h = hook(rules=[rule(operations=["*"], resources=["configmaps"])])
    assert all(select(api, h, write(op)) is not None for op in ("CREATE", "UPDATE", "DELETE"))


def test_a_rule_skips_other_resources(api: ApiService) -> None:
    assert select(api, hook(), write(resource="secrets", kind="Secret")) is None


def test_a_plain_resource_does_not_match_its_subresources(api: ApiService) -> None:
    h = hook(rules=[rule(resources=["executions"])])
    assert select(api, h, write("UPDATE", resource="executions", subresource="status")) is None


def test_a_named_subresource_matches_only_that_subresource(api: ApiService) -> None:
    h = hook(rules=[rule(resources=["executions/status"])])
    assert select(api, h, write("UPDATE", resource="executions", subresource="status")) is not None
    assert select(api, h, write("UPDATE", resource="executions")) is None


def test_star_slash_status_matches_the_status_of_every_resource(api: ApiService) -> None:
    h = hook(rules=[rule(resources=["*/status"])])
    assert select(api, h, write("UPDATE", resource="pods", subresource="status")) is not None
    assert select(api, h, write("UPDATE", resource="pods", subresource="scale")) is None


def test_star_matches_every_resource_but_no_subresource(api: ApiService) -> None:
    h = hook(rules=[rule(resources=["*"])])
    assert select(api, h, write(resource="secrets", kind="Secret")) is not None
    assert select(api, h, write("UPDATE", resource="pods", subresource="status")) is None


def test_scope_namespaced_skips_cluster_scoped_writes(api: ApiService) -> None:
    h = hook(rules=[rule(scope="Namespaced")])
    assert select(api, h, write(resource="clusterroles", kind="ClusterRole", namespace="")) is None
    assert select(api, h, write()) is not None


def test_scope_cluster_counts_the_namespace_object_as_cluster_scoped(api: ApiService) -> None:
    h = hook(rules=[rule(scope="Cluster")])
    assert (
        select(api, h, write(resource="namespaces", kind="Namespace", namespace="", name="new")) is not None
    )
    assert select(api, h, write()) is None


def test_namespace_selector_reads_the_labels_of_the_write_s_namespace(api: ApiService) -> None:
    h = hook(namespaceSelector={"matchLabels": {"team": "web"}})
    assert select(api, h, write(namespace="shop")) is not None
    assert select(api, h, write(namespace="other")) is None


def test_namespace_selector_reads_a_namespace_write_s_own_new_labels(api: ApiService) -> None:
    h = hook(
        namespaceSelector={"matchExpressions": [{"key": "team", "operator": "In", "values": ["web"]}]},
        rules=[rule(resources=["namespaces"])],
    )
    new = write(resource="namespaces", kind="Namespace", namespace="", name="fresh", labels={"team": "web"})
    assert select(api, h, new) is not None
    plain = write(resource="namespaces", kind="Namespace", namespace="", name="plain")
    assert select(api, h, plain) is None


def test_namespace_selector_never_exempts_other_cluster_scoped_writes(api: ApiService) -> None:
    h = hook(namespaceSelector={"matchLabels": {"team": "nobody"}}, rules=[rule()])
    assert select(api, h, write(resource="clusterroles", kind="ClusterRole", namespace="")) is not None


def test_a_missing_namespace_is_404_when_the_webhook_otherwise_matches(api: ApiService) -> None:
    h = hook(namespaceSelector={"matchLabels": {"team": "web"}})
    with pytest.raises(StatusError) as err:
        select(api, h, write(namespace="ghost"))
    assert (err.value.code, err.value.message) == (404, 'namespaces "ghost" not found')


def test_object_selector_matches_the_new_or_the_old_labels(api: ApiService) -> None:
    h = hook(objectSelector={"matchLabels": {"audit": "yes"}}, rules=[rule()])
    assert select(api, h, write("UPDATE", labels={"audit": "yes"})) is not None
    assert select(api, h, write("UPDATE", old_labels={"audit": "yes"})) is not None
    assert select(api, h, write("UPDATE", labels={"audit": "no"})) is None


def test_object_selector_sees_the_old_object_of_a_delete(api: ApiService) -> None:
    h = hook(objectSelector={"matchLabels": {"audit": "yes"}}, rules=[rule()])
    assert select(api, h, write("DELETE", old_labels={"audit": "yes"})) is not None


def test_webhook_configurations_themselves_are_exempt() -> None:
    assert is_exempt("admissionregistration.k8s.io", "validatingwebhookconfigurations")
    assert not is_exempt("", "configmaps")


def _two_versions(api: ApiService) -> None:
    api.registry.set_custom(
        "example.com",
        "widgets",
        [
            ResourceType("example.com", version, "Widget", "widgets", "widget", True)
            for version in ("v1", "v2")
        ],
    )


def test_match_policy_equivalent_calls_at_a_version_the_rule_names(api: ApiService) -> None:
    _two_versions(api)
    h = hook(rules=[rule(apiGroups=["example.com"], apiVersions=["v1"], resources=["widgets"])])
    invocation = select(api, h, write(group="example.com", version="v2", resource="widgets", kind="Widget"))
    assert invocation is not None and invocation.version == "v1"


def test_match_policy_exact_skips_other_versions(api: ApiService) -> None:
    _two_versions(api)
    h = hook(
        matchPolicy="Exact",
        rules=[rule(apiGroups=["example.com"], apiVersions=["v1"], resources=["widgets"])],
    )
    assert select(api, h, write(group="example.com", version="v2", resource="widgets", kind="Widget")) is None
