"""Lists: label selectors, field selectors, pagination."""

from __future__ import annotations

import pytest
from kubernetes.client.rest import ApiException
from kubetest import status_of


@pytest.fixture
def labelled(core, namespace):
    for name, labels in (
        ("a", {"tier": "web", "env": "prod"}),
        ("b", {"tier": "db", "env": "prod"}),
        ("c", {"tier": "web"}),
        ("d", {}),
    ):
        core.create_namespaced_config_map(namespace, {"metadata": {"name": name, "labels": labels}})
    return namespace


def _names(core, namespace, **kw):
    return sorted(
        c.metadata.name
        for c in core.list_namespaced_config_map(namespace, **kw).items
        if c.metadata.name != "kube-root-ca.crt"
    )


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("tier=web", ["a", "c"]),
        ("tier==web", ["a", "c"]),
        ("tier!=web", ["b", "d"]),
        ("tier in (web,db)", ["a", "b", "c"]),
        ("tier notin (web)", ["b", "d"]),
        ("env", ["a", "b"]),
        ("!env", ["c", "d"]),
        ("tier=web,env=prod", ["a"]),
    ],
)
def test_label_selector_operators(core, labelled, selector, expected):
    assert _names(core, labelled, label_selector=selector) == expected


def test_kubectl_get_with_label_selector(kubectl, labelled):
    out = kubectl("get", "configmaps", "-n", labelled, "-l", "tier=web", "-o", "name").stdout.split()
    assert out == ["configmap/a", "configmap/c"]


def test_field_selector_on_metadata_name(core, labelled):
    assert _names(core, labelled, field_selector="metadata.name=b") == ["b"]
    assert _names(core, labelled, field_selector="metadata.name!=b") == ["a", "c", "d"]


def test_field_selector_on_metadata_namespace_across_namespaces(core, labelled):
    items = core.list_config_map_for_all_namespaces(field_selector=f"metadata.namespace={labelled}").items
    assert {c.metadata.namespace for c in items} == {labelled}


def test_field_selector_on_pod_phase_and_node_name(core, namespace):
    core.create_namespaced_pod(
        namespace,
        # Bound to another node, so the sim's kubelet leaves it Pending.
        {"metadata": {"name": "p"}, "spec": {"nodeName": "elsewhere",
                                             "containers": [{"name": "c", "image": "busybox"}]}},
    )
    assert [
        p.metadata.name
        for p in core.list_namespaced_pod(namespace, field_selector="status.phase=Pending").items
    ] == ["p"]
    assert core.list_namespaced_pod(namespace, field_selector="spec.nodeName=nowhere").items == []
    assert len(core.list_namespaced_pod(namespace, field_selector="spec.nodeName=elsewhere").items) == 1


def test_field_selector_on_event_involved_object(core, namespace):
    core.create_namespaced_event(
        namespace,
        {
            "metadata": {"name": "e1"},
            "involvedObject": {"kind": "ConfigMap", "name": "a", "namespace": namespace},
            "reason": "Test",
            "message": "m",
        },
    )
    found = core.list_namespaced_event(
        namespace, field_selector="involvedObject.name=a,involvedObject.kind=ConfigMap"
    )
    assert [e.metadata.name for e in found.items] == ["e1"]


def test_unsupported_field_selector_is_400_bad_request(core, namespace):
    with pytest.raises(ApiException) as err:
        core.list_namespaced_config_map(namespace, field_selector="data.foo=bar")
    assert err.value.status == 400
    assert status_of(err.value)["message"] == "field label not supported: data.foo"


def test_pagination_with_limit_and_continue(core, namespace):
    for i in range(7):
        core.create_namespaced_config_map(namespace, {"metadata": {"name": f"p{i}"}})
    seen, token = [], None
    while True:
        page = core.list_namespaced_config_map(namespace, limit=3, _continue=token)
        assert len(page.items) <= 3
        seen += [c.metadata.name for c in page.items]
        token = page.metadata._continue
        if not token:
            break
    assert sorted(seen) == sorted([f"p{i}" for i in range(7)] + ["kube-root-ca.crt"])


def test_first_page_reports_remaining_item_count(core, namespace):
    for i in range(5):
        core.create_namespaced_config_map(namespace, {"metadata": {"name": f"r{i}"}})
    page = core.list_namespaced_config_map(namespace, limit=2)
    assert page.metadata.remaining_item_count == 4  # 6 objects with kube-root-ca.crt


def test_kubectl_get_paginates_with_chunk_size(kubectl, namespace, core):
    for i in range(5):
        core.create_namespaced_config_map(namespace, {"metadata": {"name": f"k{i}"}})
    out = kubectl("get", "configmaps", "-n", namespace, "--chunk-size=2", "-o", "name").stdout.split()
    assert len(out) == 6
