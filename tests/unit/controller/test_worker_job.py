"""The worker Job builder (conveyor.controller.worker_job)."""

from __future__ import annotations

from conveyor.api.models import Deployment
from conveyor.controller.worker_job import build_system_worker_job, build_worker_job


def _deployment(**worker: object) -> Deployment:
    return Deployment.model_validate(
        {
            "metadata": {"name": "web", "namespace": "shop", "uid": "u-1"},
            "spec": {"worker": worker, "workflows": {}},
        }
    )


def test_the_worker_job_runs_conveyor_worker_for_its_deployment() -> None:
    job = build_worker_job(_deployment(), default_image="img:1", operator_namespace="conveyor-system")
    assert job["metadata"]["name"] == "conveyor-worker-web"
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"][:6] == ["conveyor", "worker", "--namespace", "shop", "--deployment", "web"]
    assert container["image"] == "img:1"


def test_the_worker_pod_meets_the_restricted_pod_security_standard() -> None:
    job = build_worker_job(_deployment(), default_image="img", operator_namespace="ns")
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]["securityContext"]
    assert pod["securityContext"]["runAsNonRoot"] and container["runAsNonRoot"]
    assert container["allowPrivilegeEscalation"] is False
    assert container["capabilities"] == {"drop": ["ALL"]}
    assert container["seccompProfile"] == {"type": "RuntimeDefault"}


def test_the_worker_job_is_owned_by_its_deployment() -> None:
    job = build_worker_job(_deployment(), default_image="img", operator_namespace="ns")
    (owner,) = job["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"]) == ("Deployment", "web", "u-1")


def test_the_deployment_worker_settings_override_the_defaults() -> None:
    deployment = _deployment(
        image="mine:2", serviceAccountName="sa", idleTimeoutSeconds=30, env=[{"name": "A", "value": "1"}]
    )
    job = build_worker_job(deployment, default_image="img", operator_namespace="ns")
    pod = job["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["image"] == "mine:2" and pod["serviceAccountName"] == "sa"
    assert container["command"][-1] == "30"
    assert {"name": "A", "value": "1"} in container["env"]


def test_the_job_and_its_pods_carry_the_deployment_label() -> None:
    job = build_worker_job(_deployment(), default_image="img", operator_namespace="ns")
    assert job["metadata"]["labels"]["conveyor.dev/deployment"] == "web"
    assert job["spec"]["template"]["metadata"]["labels"]["conveyor.dev/deployment"] == "web"


def test_a_long_deployment_name_gives_a_valid_job_name() -> None:
    deployment = Deployment.model_validate(
        {"metadata": {"name": "x" * 100, "namespace": "shop"}, "spec": {"workflows": {}}}
    )
    job = build_worker_job(deployment, default_image="img", operator_namespace="ns")
    assert len(job["metadata"]["name"]) <= 63
    assert len(job["metadata"]["labels"]["conveyor.dev/deployment"]) <= 63


def test_the_system_worker_runs_in_the_operator_namespace() -> None:
    job = build_system_worker_job("conveyor-system", image="img")
    assert job["metadata"]["name"] == "conveyor-worker-system"
    assert job["metadata"]["namespace"] == "conveyor-system"
    assert "--system" in job["spec"]["template"]["spec"]["containers"][0]["command"]


def test_workers_run_as_their_deployment_own_service_account_by_default() -> None:
    job = build_worker_job(_deployment(), default_image="img", operator_namespace="ns")
    assert job["spec"]["template"]["spec"]["serviceAccountName"] == "conveyor-worker-web"


def test_a_long_deployment_name_keeps_its_whole_name_in_the_service_account() -> None:
    """Never shortened: the isolation policy computes the name from spec.deployment."""
    deployment = Deployment.model_validate(
        {"metadata": {"name": "x" * 100, "namespace": "shop"}, "spec": {"workflows": {}}}
    )
    job = build_worker_job(deployment, default_image="img", operator_namespace="ns")
    assert job["spec"]["template"]["spec"]["serviceAccountName"] == "conveyor-worker-" + "x" * 100


def test_the_system_worker_runs_as_the_conveyor_worker_service_account() -> None:
    job = build_system_worker_job("conveyor-system", image="img")
    assert job["spec"]["template"]["spec"]["serviceAccountName"] == "conveyor-worker"
