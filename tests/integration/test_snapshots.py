"""`create_snapshot` / `restore_snapshot` round trips against a cluster.

The workflow functions run the way the worker runs them (`run_workflow` with a system-wide
WorkflowContext whose namespace is the operator's), with $KUBECONFIG naming the cluster under test.
No operator runs here, so Executions keep the status the test writes. Snapshots are limited to the
test's namespaces (`namespaces=`): a session's other tests have objects of their own.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from conveyor.workflows import (
    MemoryReporter,
    TaskDefaults,
    WorkflowContext,
    WorkflowOutcome,
    run_workflow,
    snapshots,
)
from conveyor.workflows.snapshots import create_snapshot, restore_snapshot

Kubectl = Callable[..., Any]
FINISHED = {
    "phase": "terminated",
    "createdAt": "2026-01-01T00:00:00Z",
    "startedAt": "2026-01-01T00:00:01Z",
    "endedAt": "2026-01-01T00:00:05Z",
    "operations": {"total": 3, "finished": 3},
}


@pytest.fixture(autouse=True)
def cluster_env(kubeconfig: str, crds: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KUBECONFIG", kubeconfig)


@pytest.fixture
def other_namespace(kubectl: Kubectl) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:8]}"
    kubectl("create", "namespace", name)
    yield name
    kubectl("delete", "namespace", name, "--wait=false", "--ignore-not-found", check=False)


def run(
    workflow: Any, operator_namespace: str, execution: str = "snap-x", **parameters: Any
) -> WorkflowOutcome:
    ctx = WorkflowContext(
        execution_name=execution,
        workflow_name=workflow.__name__,
        namespace=operator_namespace,
        reporter=MemoryReporter(),
        defaults=TaskDefaults(retries=0, retry_interval=0.0),
    )
    return run_workflow(workflow, ctx, parameters)


def deployment(namespace: str, name: str, **inputs: Any) -> dict[str, Any]:
    return {
        "apiVersion": "conveyor.dev/v1alpha1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": {"team": "shop"}},
        "spec": {"inputs": inputs, "workflows": {"install": {"mapping": "flows.install"}}},
    }


def execution(
    kubectl: Kubectl, namespace: str, name: str, status: dict[str, Any] | None, deployment: str = "web"
) -> None:
    body = {
        "apiVersion": "conveyor.dev/v1alpha1",
        "kind": "Execution",
        "metadata": {"name": name, "namespace": namespace, "labels": {"conveyor.dev/deployment": deployment}},
        "spec": {"deployment": deployment, "workflow": "install", "parameters": {"target": "prod"}},
    }
    kubectl("create", "-f", "-", input=json.dumps(body))
    if status is not None:
        kubectl(
            "patch",
            "executions.conveyor.dev",
            name,
            "-n",
            namespace,
            "--subresource=status",
            "--type=merge",
            "-p",
            json.dumps({"status": status}),
        )


def get(kubectl: Kubectl, namespace: str, kind: str, name: str) -> dict[str, Any] | None:
    proc = kubectl("get", kind, name, "-n", namespace, "-o", "json", check=False)
    return json.loads(proc.stdout) if proc.returncode == 0 else None


def essence(obj: dict[str, Any] | None) -> dict[str, Any]:
    """What a restore must bring back: identity, labels, spec, and status."""
    assert obj is not None
    meta = obj["metadata"]
    return {
        "name": meta["name"],
        "namespace": meta["namespace"],
        "labels": meta.get("labels"),
        "spec": obj["spec"],
        "status": obj.get("status"),
    }


@pytest.fixture
def populated(kubectl: Kubectl, namespace: str, other_namespace: str) -> dict[str, Any]:
    """Two Deployments in two namespaces, a finished Execution and one still waiting (status-less)."""
    for ns, name in ((namespace, "web"), (other_namespace, "api")):
        kubectl("apply", "-f", "-", input=json.dumps(deployment(ns, name, replicas=3)))
    execution(kubectl, other_namespace, "install-done", FINISHED, deployment="api")
    execution(kubectl, other_namespace, "install-waiting", None, deployment="api")
    return {
        "web": essence(get(kubectl, namespace, "deployments.conveyor.dev", "web")),
        "api": essence(get(kubectl, other_namespace, "deployments.conveyor.dev", "api")),
        "done": essence(get(kubectl, other_namespace, "executions.conveyor.dev", "install-done")),
    }


def delete_all(kubectl: Kubectl, *namespaces: str) -> None:
    for ns in namespaces:
        kubectl(
            "delete", "executions.conveyor.dev,deployments.conveyor.dev", "--all", "-n", ns, "--wait=true"
        )


def test_a_snapshot_round_trip_restores_deployments_and_final_executions(
    kubectl: Kubectl, namespace: str, other_namespace: str, populated: dict[str, Any]
) -> None:
    created = run(create_snapshot, namespace, name="round", namespaces=[namespace, other_namespace])
    assert created.status == "terminated", created.error
    delete_all(kubectl, namespace, other_namespace)
    restored = run(restore_snapshot, namespace, snapshot="round")
    assert restored.status == "terminated", restored.error
    assert essence(get(kubectl, namespace, "deployments.conveyor.dev", "web")) == populated["web"]
    assert essence(get(kubectl, other_namespace, "deployments.conveyor.dev", "api")) == populated["api"]
    assert (
        essence(get(kubectl, other_namespace, "executions.conveyor.dev", "install-done")) == populated["done"]
    )


def test_executions_that_are_not_final_are_not_in_a_snapshot(
    kubectl: Kubectl, namespace: str, other_namespace: str, populated: dict[str, Any]
) -> None:
    assert (
        run(create_snapshot, namespace, name="final", namespaces=[namespace, other_namespace]).status
        == "terminated"
    )
    delete_all(kubectl, other_namespace)
    assert run(restore_snapshot, namespace, snapshot="final").status == "terminated"
    assert get(kubectl, other_namespace, "executions.conveyor.dev", "install-waiting") is None


def test_a_snapshot_is_config_maps_labelled_with_its_name_and_no_secret(
    kubectl: Kubectl, namespace: str, other_namespace: str, populated: dict[str, Any]
) -> None:
    outcome = run(create_snapshot, namespace, name="labelled", namespaces=[namespace, other_namespace])
    assert outcome.result["configMaps"] == ["conveyor-snapshot-labelled"]
    listed = json.loads(
        kubectl(
            "get", "configmaps,secrets", "-n", namespace, "-l", "conveyor.dev/snapshot=labelled", "-o", "json"
        ).stdout
    )["items"]
    assert [(item["kind"], item["metadata"]["name"]) for item in listed] == [
        ("ConfigMap", "conveyor-snapshot-labelled")
    ]


def test_a_large_snapshot_is_split_over_several_config_maps_and_restores_whole(
    kubectl: Kubectl,
    namespace: str,
    other_namespace: str,
    populated: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(snapshots, "PART_LIMIT", 700)
    outcome = run(create_snapshot, namespace, name="split", namespaces=[namespace, other_namespace])
    assert outcome.status == "terminated", outcome.error
    assert len(outcome.result["configMaps"]) == 3
    delete_all(kubectl, namespace, other_namespace)
    assert run(restore_snapshot, namespace, snapshot="split").status == "terminated"
    assert (
        essence(get(kubectl, other_namespace, "executions.conveyor.dev", "install-done")) == populated["done"]
    )
    assert essence(get(kubectl, namespace, "deployments.conveyor.dev", "web")) == populated["web"]


def test_restoring_twice_restores_nothing_the_second_time(
    kubectl: Kubectl, namespace: str, other_namespace: str, populated: dict[str, Any]
) -> None:
    run(create_snapshot, namespace, name="twice", namespaces=[namespace, other_namespace])
    delete_all(kubectl, other_namespace)
    first = run(restore_snapshot, namespace, snapshot="twice")
    second = run(restore_snapshot, namespace, snapshot="twice")
    assert first.result["executions"] == {"restored": 1, "present": 0}
    assert second.result == {
        "snapshot": "twice",
        "deployments": {"restored": 0, "present": 2},
        "executions": {"restored": 0, "present": 1},
    }


def test_restore_leaves_existing_objects_as_they_are(
    kubectl: Kubectl, namespace: str, other_namespace: str, populated: dict[str, Any]
) -> None:
    run(create_snapshot, namespace, name="keep", namespaces=[namespace, other_namespace])
    kubectl("apply", "-f", "-", input=json.dumps(deployment(namespace, "web", replicas=5)))
    run(restore_snapshot, namespace, snapshot="keep")
    restored = get(kubectl, namespace, "deployments.conveyor.dev", "web")
    assert restored is not None and restored["spec"]["inputs"] == {"replicas": 5}


def test_restore_is_refused_while_another_execution_runs(
    kubectl: Kubectl, namespace: str, other_namespace: str, populated: dict[str, Any]
) -> None:
    run(create_snapshot, namespace, name="busy", namespaces=[namespace, other_namespace])
    execution(kubectl, other_namespace, "install-running", {"phase": "started"}, deployment="api")
    outcome = run(restore_snapshot, namespace, snapshot="busy")
    assert outcome.status == "failed"
    assert f"other executions are running: [{other_namespace}/install-running" in (outcome.error or "")


def test_restoring_an_unknown_snapshot_fails_naming_it(namespace: str) -> None:
    outcome = run(restore_snapshot, namespace, snapshot="nothing-here")
    assert outcome.status == "failed" and "snapshot 'nothing-here' not found" in (outcome.error or "")


def test_a_snapshot_name_is_never_reused(
    namespace: str, other_namespace: str, populated: dict[str, Any]
) -> None:
    run(create_snapshot, namespace, name="once", namespaces=[namespace, other_namespace])
    again = run(create_snapshot, namespace, name="once", namespaces=[namespace, other_namespace])
    assert again.status == "failed" and "already exists" in (again.error or "")


def test_the_default_snapshot_name_is_the_executions(namespace: str, other_namespace: str) -> None:
    outcome = run(create_snapshot, namespace, execution="nightly-7x2", namespaces=[other_namespace])
    assert outcome.result["snapshot"] == "nightly-7x2"
