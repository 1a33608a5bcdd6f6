"""Jobs on the sim, driven with real kubectl: completion, failure, deadlines, suspension, TTL, logs."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from kubetest import wait_for

from conveyor.sim.controllers.jobs import parse_time
from conveyor.sim.kubelet.logs import serve_pod_log

Kubectl = Callable[..., Any]




def job(name: str, script: str, restart: str = "Never", **spec: Any) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": name},
            "spec": {
                **spec,
                "template": {
                    "spec": {
                        "restartPolicy": restart,
                        "terminationGracePeriodSeconds": 1,
                        "containers": [
                            {"name": "main", "image": "python:3.11", "command": ["sh", "-c", script]}
                        ],
                    }
                },
            },
        }
    )


def get(kubectl: Kubectl, namespace: str, *what: str) -> Any:
    result = kubectl("get", *what, "-n", namespace, "-o", "json", check=False)
    return json.loads(result.stdout) if result.returncode == 0 else None


def condition(obj: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for c in (obj.get("status") or {}).get("conditions") or ():
        if c["type"] == kind and c["status"] == "True":
            return dict(c)
    return None


def job_pods(kubectl: Kubectl, namespace: str, name: str) -> list[dict[str, Any]]:
    return list(get(kubectl, namespace, "pods", "-l", f"job-name={name}")["items"])


def test_job_that_succeeds_is_complete_and_its_pod_labelled_and_owned(
    kubectl: Kubectl, namespace: str
) -> None:
    kubectl("apply", "-n", namespace, "-f", "-", input=job("ok", "echo done"))
    kubectl("wait", "-n", namespace, "--for=condition=complete", "job/ok", "--timeout=30s")
    obj = get(kubectl, namespace, "job", "ok")
    assert obj["status"]["succeeded"] == 1
    assert obj["status"]["completionTime"] and obj["status"]["startTime"]
    [p] = job_pods(kubectl, namespace, "ok")
    uid = obj["metadata"]["uid"]
    assert {
        k: p["metadata"]["labels"][k]
        for k in (
            "job-name",
            "batch.kubernetes.io/job-name",
            "controller-uid",
            "batch.kubernetes.io/controller-uid",
        )
    } == {
        "job-name": "ok",
        "batch.kubernetes.io/job-name": "ok",
        "controller-uid": uid,
        "batch.kubernetes.io/controller-uid": uid,
    }
    assert p["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "name": "ok",
            "uid": uid,
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert kubectl("logs", "-n", namespace, "job/ok").stdout == "done\n"


def test_job_fails_once_pod_failures_exceed_the_backoff_limit(kubectl: Kubectl, namespace: str) -> None:
    kubectl("apply", "-n", namespace, "-f", "-", input=job("bad", "exit 3", backoffLimit=1))
    kubectl("wait", "-n", namespace, "--for=condition=failed", "job/bad", "--timeout=30s")
    obj = get(kubectl, namespace, "job", "bad")
    failed = condition(obj, "Failed")
    assert failed is not None and failed["reason"] == "BackoffLimitExceeded"
    assert obj["status"]["failed"] == 2
    assert len(job_pods(kubectl, namespace, "bad")) == 2


def test_job_past_its_active_deadline_fails_and_its_pod_is_stopped(kubectl: Kubectl, namespace: str) -> None:
    kubectl("apply", "-n", namespace, "-f", "-", input=job("slow", "sleep 300", activeDeadlineSeconds=1))
    kubectl("wait", "-n", namespace, "--for=condition=failed", "job/slow", "--timeout=30s")
    failed = condition(get(kubectl, namespace, "job", "slow"), "Failed")
    assert failed is not None and failed["reason"] == "DeadlineExceeded"
    wait_for(lambda: not job_pods(kubectl, namespace, "slow"), 20, "the job's pod to be removed")


def test_suspended_job_runs_no_pod_until_resumed(kubectl: Kubectl, namespace: str) -> None:
    kubectl("apply", "-n", namespace, "-f", "-", input=job("later", "echo resumed", suspend=True))
    wait_for(lambda: condition(get(kubectl, namespace, "job", "later"), "Suspended"), 20, "Suspended")
    assert job_pods(kubectl, namespace, "later") == []
    kubectl("patch", "-n", namespace, "job", "later", "--type=merge", "-p", '{"spec":{"suspend":false}}')
    kubectl("wait", "-n", namespace, "--for=condition=complete", "job/later", "--timeout=30s")
    obj = get(kubectl, namespace, "job", "later")
    assert [c["reason"] for c in obj["status"]["conditions"] if c["type"] == "Suspended"] == ["JobResumed"]


def test_suspending_a_running_job_deletes_its_active_pod(kubectl: Kubectl, namespace: str) -> None:
    kubectl("apply", "-n", namespace, "-f", "-", input=job("pause", "sleep 300"))
    wait_for(
        lambda: get(kubectl, namespace, "job", "pause")["status"].get("active") == 1, 20, "an active pod"
    )
    kubectl("patch", "-n", namespace, "job", "pause", "--type=merge", "-p", '{"spec":{"suspend":true}}')
    wait_for(lambda: not job_pods(kubectl, namespace, "pause"), 20, "the pod to go")
    obj = get(kubectl, namespace, "job", "pause")
    assert condition(obj, "Suspended") is not None
    assert obj["status"].get("failed", 0) == 0


def test_finished_job_is_deleted_with_its_pods_after_ttl(kubectl: Kubectl, namespace: str) -> None:
    kubectl("apply", "-n", namespace, "-f", "-", input=job("brief", "true", ttlSecondsAfterFinished=1))
    wait_for(lambda: get(kubectl, namespace, "job", "brief") is None, 30, "the job to be deleted")
    wait_for(lambda: not job_pods(kubectl, namespace, "brief"), 20, "its pods to be collected")


def test_logs_follow_a_running_job_until_it_ends(kubectl: Kubectl, namespace: str) -> None:
    script = "for i in 1 2 3; do echo line $i; sleep 0.3; done"
    kubectl("apply", "-n", namespace, "-f", "-", input=job("chatty", "sleep 1; " + script))
    wait_for(
        lambda: any(
            (p.get("status") or {}).get("phase") == "Running" for p in job_pods(kubectl, namespace, "chatty")
        ),
        20,
        "a running pod",
    )
    out = kubectl("logs", "-n", namespace, "-f", "job/chatty", timeout=30).stdout
    assert out == "line 1\nline 2\nline 3\n"


def test_on_failure_job_counts_container_restarts_against_the_backoff_limit(
    kubectl: Kubectl, namespace: str
) -> None:
    kubectl(
        "apply",
        "-n",
        namespace,
        "-f",
        "-",
        input=job("crashy", "exit 1", restart="OnFailure", backoffLimit=0),
    )
    kubectl("wait", "-n", namespace, "--for=condition=failed", "job/crashy", "--timeout=30s")
    failed = condition(get(kubectl, namespace, "job", "crashy"), "Failed")
    assert failed is not None and failed["reason"] == "BackoffLimitExceeded"


def test_job_runs_pods_in_parallel_until_its_completions_succeed(kubectl: Kubectl, namespace: str) -> None:
    kubectl(
        "apply", "-n", namespace, "-f", "-", input=job("batch", "sleep 0.5", completions=3, parallelism=2)
    )
    kubectl("wait", "-n", namespace, "--for=condition=complete", "job/batch", "--timeout=30s")
    assert get(kubectl, namespace, "job", "batch")["status"]["succeeded"] == 3
    assert len(job_pods(kubectl, namespace, "batch")) == 3


def test_deleting_a_job_with_background_propagation_removes_its_pods(
    kubectl: Kubectl, namespace: str
) -> None:
    kubectl("apply", "-n", namespace, "-f", "-", input=job("doomed", "sleep 300"))
    wait_for(
        lambda: get(kubectl, namespace, "job", "doomed")["status"].get("active") == 1, 20, "an active pod"
    )
    kubectl("delete", "-n", namespace, "job", "doomed", "--cascade=background")
    wait_for(lambda: not job_pods(kubectl, namespace, "doomed"), 20, "the pods to be collected")


def test_failure_delay_doubles_from_the_base_to_the_cap() -> None:
    from conveyor.sim.controllers.jobs import failure_delay

    assert [failure_delay(n, 10, 360) for n in range(0, 8)] == [0, 10, 20, 40, 80, 160, 320, 360]
    assert failure_delay(3, 0, 360) == 0


@pytest.mark.sim_only
def test_failed_pod_is_replaced_only_after_the_failure_back_off(tmp_path: Any) -> None:
    from conveyor.sim.app import SimServer
    from conveyor.sim.controllers import all_controllers

    kubeconfig = str(tmp_path / "kubeconfig")
    with SimServer.run_in_thread(
        kubeconfig=kubeconfig, controllers=all_controllers(job_failure_backoff=1)
    ) as own:
        own.app.register_log_handler(serve_pod_log)
        own.api.server_url = own.url  # type: ignore[attr-defined]

        def kc(*args: str, input: str | None = None, check: bool = True, timeout: float = 60) -> Any:
            result = subprocess.run(
                ["kubectl", *args],
                input=input,
                text=True,
                capture_output=True,
                env={**os.environ, "KUBECONFIG": kubeconfig},
                timeout=timeout,
            )
            assert not check or result.returncode == 0, result.stderr
            return result

        kc("apply", "-n", "default", "-f", "-", input=job("retry", "exit 1", backoffLimit=1))
        kc("wait", "-n", "default", "--for=condition=failed", "job/retry", "--timeout=30s")
        first, second = sorted(
            job_pods(kc, "default", "retry"), key=lambda p: p["metadata"]["creationTimestamp"]
        )
        finished = first["status"]["containerStatuses"][0]["state"]["terminated"]["finishedAt"]
        assert parse_time(second["metadata"]["creationTimestamp"]) - parse_time(finished) >= 1
