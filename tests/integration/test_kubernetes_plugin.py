"""The `kubernetes` plugin against a cluster: real apply, rollout by the cluster's controllers, delete.

Operations are called the way the engine calls them (`operation(ctx, **kwargs)` with an
OperationContext of a deployment's execution), with the session's kubeconfig passed explicitly.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml

from conveyor.plugins import kubernetes
from conveyor.workflows import (
    DeploymentInfo,
    MemoryReporter,
    NonRecoverableError,
    OperationContext,
    RecoverableError,
    Task,
    TaskDefaults,
    WorkflowContext,
    register_plugin,
    unregister_plugin,
)

Kubectl = Callable[..., Any]


@pytest.fixture(autouse=True)
def wired(request: pytest.FixtureRequest) -> None:
    """Until SimServer does it: the URL the kubelet puts in pods' kubeconfigs (as tests/sim do)."""
    if os.environ.get("CONVEYOR_TEST_KUBECONFIG"):
        return
    sim = request.getfixturevalue("sim")
    if not getattr(sim.api, "server_url", None):
        sim.api.server_url = sim.url


def make_ctx(namespace: str, *, dry_run: bool = False, deployment: bool = True) -> OperationContext:
    workflow = WorkflowContext(
        execution_name="install-test",
        workflow_name="install",
        namespace=namespace,
        deployment=DeploymentInfo("web", namespace) if deployment else None,
        reporter=MemoryReporter(),
        dry_run=dry_run,
        defaults=TaskDefaults(retries=0, retry_interval=0.0),
    )
    return workflow.operation_context(Task("op", "op", "kubernetes.op", None, {}, 0, 0.0), attempt=1)


def messages(ctx: OperationContext) -> list[str]:
    reporter = ctx.workflow.reporter
    assert isinstance(reporter, MemoryReporter)
    return reporter.messages()


def web_manifests(name: str = "web", replicas: int = 2, version: str = "v1") -> list[dict[str, Any]]:
    labels = {"app": name}
    return [
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": f"{name}-config"},
            "data": {"version": version},
        },
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "labels": labels},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {
                        "terminationGracePeriodSeconds": 1,
                        "containers": [
                            {
                                "name": "main",
                                "image": "busybox",
                                "command": ["sleep", "300"],
                                "env": [{"name": "V", "value": version}],
                            }
                        ],
                    },
                },
            },
        },
    ]


def get_json(kubectl: Kubectl, namespace: str, *what: str, check: bool = True) -> dict[str, Any] | None:
    proc = kubectl("get", *what, "-n", namespace, "-o", "json", check=check)
    return json.loads(proc.stdout) if proc.returncode == 0 else None


@pytest.fixture
def registered() -> Iterator[None]:
    register_plugin("kubernetes", kubernetes)
    yield
    unregister_plugin("kubernetes")


def test_apply_then_wait_rolls_out_a_real_deployment(
    kubeconfig: str, namespace: str, kubectl: Kubectl
) -> None:
    ctx = make_ctx(namespace)
    applied = kubernetes.apply(ctx, manifests=yaml.safe_dump_all(web_manifests()), kubeconfig=kubeconfig)
    assert [(a["kind"], a["name"], a["namespace"]) for a in applied] == [
        ("ConfigMap", "web-config", namespace),
        ("Deployment", "web", namespace),
    ]
    final = kubernetes.wait(
        ctx, kind="Deployment", name="web", timeout=60, interval=0.1, kubeconfig=kubeconfig
    )
    assert final["status"]["availableReplicas"] == 2
    assert any("successfully rolled out" in message for message in messages(ctx))


def test_apply_uses_the_conveyor_field_manager(kubeconfig: str, namespace: str, kubectl: Kubectl) -> None:
    kubernetes.apply(make_ctx(namespace), manifests=web_manifests()[:1], kubeconfig=kubeconfig)
    config_map = get_json(kubectl, namespace, "configmap", "web-config", "--show-managed-fields")
    assert config_map is not None
    managers = {entry["manager"]: entry["operation"] for entry in config_map["metadata"]["managedFields"]}
    assert managers == {"conveyor": "Apply"}


def test_applying_the_same_manifests_twice_changes_nothing(kubeconfig: str, namespace: str) -> None:
    ctx = make_ctx(namespace)
    first = kubernetes.apply(ctx, manifests=web_manifests()[:1], kubeconfig=kubeconfig)
    second = kubernetes.apply(ctx, manifests=web_manifests()[:1], kubeconfig=kubeconfig)
    assert second[0]["resourceVersion"] == first[0]["resourceVersion"]


def test_a_changed_manifest_updates_the_object(kubeconfig: str, namespace: str, kubectl: Kubectl) -> None:
    ctx = make_ctx(namespace)
    kubernetes.apply(ctx, manifests=web_manifests(version="v1")[:1], kubeconfig=kubeconfig)
    kubernetes.apply(ctx, manifests=web_manifests(version="v2")[:1], kubeconfig=kubeconfig)
    config_map = get_json(kubectl, namespace, "configmap", "web-config")
    assert config_map is not None and config_map["data"] == {"version": "v2"}


def test_a_manifest_naming_another_namespace_is_refused_and_nothing_is_applied(
    kubeconfig: str, namespace: str, kubectl: Kubectl
) -> None:
    manifests = web_manifests()
    manifests[1]["metadata"]["namespace"] = "kube-system"
    with pytest.raises(NonRecoverableError, match="kube-system"):
        kubernetes.apply(make_ctx(namespace), manifests=manifests, kubeconfig=kubeconfig)
    assert get_json(kubectl, namespace, "configmap", "web-config", check=False) is None


def test_a_manifest_naming_the_deployments_namespace_is_accepted(kubeconfig: str, namespace: str) -> None:
    manifests = web_manifests()[:1]
    manifests[0]["metadata"]["namespace"] = namespace
    applied = kubernetes.apply(make_ctx(namespace), manifests=manifests, kubeconfig=kubeconfig)
    assert applied[0]["namespace"] == namespace


def test_an_invalid_manifest_fails_for_good_with_the_servers_message(kubeconfig: str, namespace: str) -> None:
    deployment = web_manifests()[1]
    del deployment["spec"]["selector"]
    with pytest.raises(NonRecoverableError, match="selector"):
        kubernetes.apply(make_ctx(namespace), manifests=[deployment], kubeconfig=kubeconfig)


def test_an_unknown_kind_fails_for_good_before_anything_is_applied(
    kubeconfig: str, namespace: str, kubectl: Kubectl
) -> None:
    manifests = [
        *web_manifests()[:1],
        {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}},
    ]
    with pytest.raises(NonRecoverableError, match="Widget"):
        kubernetes.apply(make_ctx(namespace), manifests=manifests, kubeconfig=kubeconfig)
    assert get_json(kubectl, namespace, "configmap", "web-config", check=False) is None


def test_manifests_can_come_from_a_config_map_key(kubeconfig: str, namespace: str, kubectl: Kubectl) -> None:
    source = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "manifests", "namespace": namespace},
        "data": {"app.yaml": yaml.safe_dump_all(web_manifests()[:1])},
    }
    kubectl("apply", "-f", "-", input=json.dumps(source))
    kubernetes.apply(make_ctx(namespace), config_map="manifests", key="app.yaml", kubeconfig=kubeconfig)
    assert get_json(kubectl, namespace, "configmap", "web-config") is not None


def test_dry_run_changes_nothing_and_says_what_it_would_apply(
    kubeconfig: str, namespace: str, kubectl: Kubectl
) -> None:
    ctx = make_ctx(namespace, dry_run=True)
    kubernetes.apply(ctx, manifests=web_manifests()[:1], kubeconfig=kubeconfig)
    assert get_json(kubectl, namespace, "configmap", "web-config", check=False) is None
    assert f"dry run: would apply ConfigMap web-config (namespace {namespace})" in messages(ctx)


def test_delete_waits_until_the_objects_are_gone(kubeconfig: str, namespace: str, kubectl: Kubectl) -> None:
    ctx = make_ctx(namespace)
    kubernetes.apply(ctx, manifests=web_manifests(), kubeconfig=kubeconfig)
    deleted = kubernetes.delete(ctx, manifests=web_manifests(), timeout=30, kubeconfig=kubeconfig)
    assert [d["kind"] for d in deleted] == ["Deployment", "ConfigMap"]
    assert get_json(kubectl, namespace, "deployment", "web", check=False) is None
    assert get_json(kubectl, namespace, "configmap", "web-config", check=False) is None


def test_deleting_absent_objects_succeeds(kubeconfig: str, namespace: str) -> None:
    assert kubernetes.delete(make_ctx(namespace), manifests=web_manifests(), kubeconfig=kubeconfig) == []


def test_wait_for_a_condition_returns_once_it_holds(kubeconfig: str, namespace: str) -> None:
    ctx = make_ctx(namespace)
    kubernetes.apply(ctx, manifests=web_manifests(replicas=1), kubeconfig=kubeconfig)
    found = kubernetes.wait(
        ctx,
        kind="Deployment",
        name="web",
        condition="Available",
        timeout=60,
        interval=0.1,
        kubeconfig=kubeconfig,
    )
    assert any(c["type"] == "Available" and c["status"] == "True" for c in found["status"]["conditions"])


def test_a_wait_that_times_out_may_be_retried(kubeconfig: str, namespace: str) -> None:
    ctx = make_ctx(namespace)
    kubernetes.apply(ctx, manifests=web_manifests()[:1], kubeconfig=kubeconfig)
    with pytest.raises(RecoverableError, match="timed out"):
        kubernetes.wait(
            ctx,
            kind="ConfigMap",
            name="web-config",
            condition="Ready",
            timeout=0.3,
            interval=0.1,
            kubeconfig=kubeconfig,
        )


def test_get_returns_the_object_or_none_when_allowed_missing(kubeconfig: str, namespace: str) -> None:
    ctx = make_ctx(namespace)
    assert (
        kubernetes.get(ctx, kind="ConfigMap", name="web-config", missing_ok=True, kubeconfig=kubeconfig)
        is None
    )
    kubernetes.apply(ctx, manifests=web_manifests()[:1], kubeconfig=kubeconfig)
    found = kubernetes.get(ctx, kind="ConfigMap", name="web-config", kubeconfig=kubeconfig)
    assert found is not None and found["data"] == {"version": "v1"}


def test_a_graph_applies_and_waits_through_the_plugin_registry(
    kubeconfig: str, namespace: str, registered: None
) -> None:
    workflow = make_ctx(namespace).workflow
    graph = workflow.graph()
    applied = graph.add_task(
        "kubernetes.apply", {"manifests": web_manifests(replicas=1), "kubeconfig": kubeconfig}, name="apply"
    )
    rolled = graph.add_task(
        "kubernetes.wait",
        {"kind": "Deployment", "name": "web", "timeout": 60, "interval": 0.1, "kubeconfig": kubeconfig},
        name="rollout",
    )
    graph.add_dependency(rolled, applied)
    graph.execute()
    assert rolled.result["status"]["availableReplicas"] == 1
