"""The worker Job of a deployment (DESIGN.md, "Workers"): a pure builder.

One Job per deployment, `conveyor-worker-<deployment>`, created when its first execution is admitted;
it runs `conveyor worker --namespace N --deployment D` and exits 0 after `idleTimeoutSeconds` with
nothing to do. What must hold:

- the pod runs under the "restricted" Pod Security Standard (non-root, no privilege escalation, all
  capabilities dropped, RuntimeDefault seccomp, read-only root filesystem with a writable /tmp), so
  workers run in locked-down namespaces and workflow code cannot gain more than the pod was given;
- the Job is owned by its Deployment (deleting the Deployment collects its worker);
- the Job's pods are replaced on failure (the new pod takes over: claims are CAS writes, so an old
  and a new pod never both run one execution);
- finished Jobs are cleaned up (`ttlSecondsAfterFinished`), so the next admission can recreate it;
- the pod runs as its deployment's own ServiceAccount `conveyor-worker-<deployment>`
  (`worker_identity`) unless the Deployment names another in `spec.worker.serviceAccountName`; the
  name is never shortened (the isolation policy computes it), so a Deployment name too long for it
  gets a Job naming an invalid account, which `workers` refuses to create;
- the system worker runs as `conveyor-worker`, which the isolation policy does not restrict.
"""

from __future__ import annotations

from typing import Any

from conveyor.api.models import DEFAULT_IDLE_TIMEOUT_SECONDS, Deployment
from conveyor.api.names import (
    API_VERSION,
    APP_NAME,
    DEPLOYMENT,
    LABEL_APP_COMPONENT,
    LABEL_APP_MANAGED_BY,
    LABEL_APP_NAME,
    LABEL_DEPLOYMENT,
    SYSTEM_WORKER_JOB_NAME,
    label_value,
    worker_job_name,
)
from conveyor.controller.worker_identity import SYSTEM_WORKER_SERVICE_ACCOUNT, worker_service_account_name

WORKER_COMPONENT = "worker"
WORKER_CONTAINER = "worker"
FINISHED_JOB_TTL_SECONDS = 60
WORKER_BACKOFF_LIMIT = 6
SYSTEM_DEPLOYMENT_LABEL = "system"
"""The `conveyor.dev/deployment` label of the system worker (no Deployment name can be a system
worker's: a Deployment's worker Job is named after it and `conveyor-worker-system` is reserved)."""

RESTRICTED_CONTAINER_SECURITY_CONTEXT: dict[str, Any] = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
    "seccompProfile": {"type": "RuntimeDefault"},
}
RESTRICTED_POD_SECURITY_CONTEXT: dict[str, Any] = {
    "runAsNonRoot": True,
    "runAsUser": 65532,
    "runAsGroup": 65532,
    "fsGroup": 65532,
    "seccompProfile": {"type": "RuntimeDefault"},
}


def _labels(deployment_label: str) -> dict[str, str]:
    return {
        LABEL_APP_NAME: APP_NAME,
        LABEL_APP_COMPONENT: WORKER_COMPONENT,
        LABEL_APP_MANAGED_BY: APP_NAME,
        LABEL_DEPLOYMENT: deployment_label,
    }


def _job(
    name: str,
    namespace: str,
    labels: dict[str, str],
    command: list[str],
    image: str,
    *,
    env: list[dict[str, Any]],
    resources: dict[str, Any] | None,
    service_account: str | None,
    owner: dict[str, Any] | None,
) -> dict[str, Any]:
    container: dict[str, Any] = {
        "name": WORKER_CONTAINER,
        "image": image,
        "command": command,
        "env": env,
        "securityContext": RESTRICTED_CONTAINER_SECURITY_CONTEXT,
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    if resources:
        container["resources"] = resources
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "securityContext": RESTRICTED_POD_SECURITY_CONTEXT,
        "containers": [container],
        "volumes": [{"name": "tmp", "emptyDir": {}}],
        "automountServiceAccountToken": True,
    }
    if service_account:
        pod_spec["serviceAccountName"] = service_account
    metadata: dict[str, Any] = {"name": name, "namespace": namespace, "labels": labels}
    if owner is not None:
        metadata["ownerReferences"] = [owner]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": metadata,
        "spec": {
            "backoffLimit": WORKER_BACKOFF_LIMIT,
            "ttlSecondsAfterFinished": FINISHED_JOB_TTL_SECONDS,
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        },
    }


def _pod_env(extra: list[dict[str, Any]]) -> list[dict[str, Any]]:
    pod_name = {"name": "CONVEYOR_POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}
    return [pod_name, {"name": "HOME", "value": "/tmp"}, *extra]


def build_worker_job(
    deployment: Deployment, *, default_image: str, operator_namespace: str
) -> dict[str, Any]:
    """The Job that runs `deployment`'s executions; `default_image` when the spec names none."""
    metadata = deployment.metadata
    name, namespace = metadata["name"], metadata["namespace"]
    worker = deployment.spec.worker
    idle = (
        worker.idle_timeout_seconds
        if worker.idle_timeout_seconds is not None
        else DEFAULT_IDLE_TIMEOUT_SECONDS
    )
    command = [
        "conveyor",
        "worker",
        "--namespace",
        namespace,
        "--deployment",
        name,
        "--operator-namespace",
        operator_namespace,
        "--idle-timeout",
        str(idle),
    ]
    env = [e.model_dump(mode="json", by_alias=True, exclude_none=True) for e in worker.env or []]
    resources = (
        worker.resources.model_dump(mode="json", by_alias=True, exclude_none=True)
        if worker.resources
        else None
    )
    owner = None
    if metadata.get("uid"):
        owner = {
            "apiVersion": API_VERSION,
            "kind": DEPLOYMENT.kind,
            "name": name,
            "uid": metadata["uid"],
            "controller": True,
            "blockOwnerDeletion": False,
        }
    return _job(
        worker_job_name(name),
        namespace,
        _labels(label_value(name)),
        command,
        worker.image or default_image,
        env=_pod_env(env),
        resources=resources,
        service_account=worker.service_account_name or worker_service_account_name(name),
        owner=owner,
    )


def build_system_worker_job(
    operator_namespace: str,
    *,
    image: str,
    idle_timeout_seconds: int = DEFAULT_IDLE_TIMEOUT_SECONDS,
    service_account: str = SYSTEM_WORKER_SERVICE_ACCOUNT,
) -> dict[str, Any]:
    """The Job that runs system-wide executions, in the operator's namespace."""
    command = [
        "conveyor",
        "worker",
        "--namespace",
        operator_namespace,
        "--system",
        "--operator-namespace",
        operator_namespace,
        "--idle-timeout",
        str(idle_timeout_seconds),
    ]
    return _job(
        SYSTEM_WORKER_JOB_NAME,
        operator_namespace,
        _labels(SYSTEM_DEPLOYMENT_LABEL),
        command,
        image,
        env=_pod_env([]),
        resources=None,
        service_account=service_account,
        owner=None,
    )
