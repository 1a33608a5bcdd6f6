"""Deployments on the sim, driven with real kubectl: ReplicaSets, scaling, self-healing, rollouts."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import yaml
from kubetest import wait_for

Kubectl = Callable[..., Any]




def deployment(name: str, replicas: int, message: str = "v1") -> str:
    command = ["sh", "-c", f"echo {message}; exec sleep 300"]
    return yaml.safe_dump(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": name}},
                "template": {
                    "metadata": {"labels": {"app": name}},
                    "spec": {
                        "terminationGracePeriodSeconds": 1,
                        "containers": [{"name": "main", "image": "busybox", "command": command}],
                    },
                },
            },
        }
    )


def running_pods(kubectl: Kubectl, namespace: str, app: str) -> list[dict[str, Any]]:
    pods = json.loads(kubectl("get", "pods", "-n", namespace, "-l", f"app={app}", "-o", "json").stdout)[
        "items"
    ]
    return [
        p
        for p in pods
        if (p.get("status") or {}).get("phase") == "Running" and not p["metadata"].get("deletionTimestamp")
    ]


def rollout(kubectl: Kubectl, namespace: str, name: str) -> str:
    return str(
        kubectl(
            "rollout", "status", "-n", namespace, f"deployment/{name}", "--timeout=30s", timeout=40
        ).stdout
    )


def test_rollout_status_returns_once_replicas_are_available(kubectl: Kubectl, namespace: str) -> None:
    kubectl("apply", "-n", namespace, "-f", "-", input=deployment("web", 2))
    assert 'deployment "web" successfully rolled out' in rollout(kubectl, namespace, "web")
    obj = json.loads(kubectl("get", "deployment", "web", "-n", namespace, "-o", "json").stdout)
    status = obj["status"]
    assert (
        status["replicas"],
        status["readyReplicas"],
        status["availableReplicas"],
        status["updatedReplicas"],
    ) == (2, 2, 2, 2)
    assert status["observedGeneration"] == obj["metadata"]["generation"]
    assert {c["type"]: c["reason"] for c in status["conditions"]} == {
        "Available": "MinimumReplicasAvailable",
        "Progressing": "NewReplicaSetAvailable",
    }


def test_replica_set_and_pods_are_named_and_labelled_from_the_template_hash(
    kubectl: Kubectl, namespace: str
) -> None:
    kubectl("apply", "-n", namespace, "-f", "-", input=deployment("named", 1))
    rollout(kubectl, namespace, "named")
    [rs] = json.loads(kubectl("get", "rs", "-n", namespace, "-o", "json").stdout)["items"]
    pod_hash = rs["metadata"]["labels"]["pod-template-hash"]
    assert rs["metadata"]["name"] == f"named-{pod_hash}"
    [pod] = running_pods(kubectl, namespace, "named")
    assert pod["metadata"]["name"].startswith(f"named-{pod_hash}-")
    assert len(pod["metadata"]["name"]) == len(f"named-{pod_hash}-") + 5
    assert pod["metadata"]["labels"]["pod-template-hash"] == pod_hash
    assert pod["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet"


def test_scaling_up_and_down_changes_the_number_of_running_pods(kubectl: Kubectl, namespace: str) -> None:
    kubectl("apply", "-n", namespace, "-f", "-", input=deployment("elastic", 1))
    rollout(kubectl, namespace, "elastic")
    kubectl("scale", "-n", namespace, "deployment/elastic", "--replicas=3")
    wait_for(lambda: len(running_pods(kubectl, namespace, "elastic")) == 3, 20, "three pods")
    rollout(kubectl, namespace, "elastic")
    kubectl("scale", "-n", namespace, "deployment/elastic", "--replicas=1")
    wait_for(lambda: len(running_pods(kubectl, namespace, "elastic")) == 1, 20, "one pod")


def test_deleted_pod_is_replaced(kubectl: Kubectl, namespace: str) -> None:
    kubectl("apply", "-n", namespace, "-f", "-", input=deployment("healing", 2))
    rollout(kubectl, namespace, "healing")
    victim = running_pods(kubectl, namespace, "healing")[0]["metadata"]["name"]
    kubectl("delete", "pod", "-n", namespace, victim)

    def replaced() -> bool:
        names = {p["metadata"]["name"] for p in running_pods(kubectl, namespace, "healing")}
        return len(names) == 2 and victim not in names

    wait_for(replaced, 20, "a replacement pod")


def test_changed_template_rolls_out_a_new_replica_set(kubectl: Kubectl, namespace: str) -> None:
    kubectl("apply", "-n", namespace, "-f", "-", input=deployment("rolling", 2, "v1"))
    rollout(kubectl, namespace, "rolling")
    kubectl("apply", "-n", namespace, "-f", "-", input=deployment("rolling", 2, "v2"))
    assert "successfully rolled out" in rollout(kubectl, namespace, "rolling")
    sets = json.loads(kubectl("get", "rs", "-n", namespace, "-o", "json").stdout)["items"]
    assert sorted(rs["spec"]["replicas"] for rs in sets) == [0, 2]
    wait_for(lambda: len(running_pods(kubectl, namespace, "rolling")) == 2, 20, "two pods")
    pods = running_pods(kubectl, namespace, "rolling")
    assert all(kubectl("logs", "-n", namespace, p["metadata"]["name"]).stdout == "v2\n" for p in pods)
    obj = json.loads(kubectl("get", "deployment", "rolling", "-n", namespace, "-o", "json").stdout)
    assert obj["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "2"
