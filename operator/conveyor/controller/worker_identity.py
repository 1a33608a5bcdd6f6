"""Who a worker runs as. Pure builders.

Each Deployment's worker has an identity of its own: the ServiceAccount `conveyor-worker-<deployment>`,
bound in the deployment's namespace (RoleBinding of the same name) to the ClusterRole
`conveyor-worker`. The system worker, in the operator's namespace, runs as `conveyor-worker`.

Why one account per deployment: RBAC cannot tell one Execution from another by label, so the
ClusterRole lets any worker of a namespace patch every Execution there. With one account per
deployment, the ValidatingAdmissionPolicy of `worker_policy` can (by the account's name alone) hold
each worker to its own deployment's Executions. The name is not hashed or shortened, so that the
policy can compute it in CEL from `spec.deployment`.

Why a ClusterRole bound per namespace: the permissions are written once (by the Helm chart, or by the
operator when the chart did not and it may), yet a RoleBinding grants them only within the
namespace it lives in, so a worker can touch nothing outside its deployment's namespace. The
operator creates the ServiceAccount and the RoleBinding on demand (it needs `bind` on this one
ClusterRole for the latter, never the permissions themselves).

What must hold:
- a deployment's account and binding are owned by its Deployment (garbage-collected with it);
- a deployment whose account name would not be a valid name (over 253 characters) gets no worker:
  `service_account_name_problem` says why (no shortened name: the policy could not match it);
- WORKER_RULES are the calls the worker makes (conveyor/worker): read its Deployment and source
  ConfigMaps, watch and claim its Executions (CAS patches, status included), renew their Leases,
  post Events;
- PLUGIN_RULES are what the `kubernetes` plugin needs in the namespace (server-side apply = get,
  create, patch; delete; waits poll with get: no list or watch), the same as the chart's
  `worker.pluginRules` default (a unit test compares them);
- nothing here grants RBAC verbs, wildcards, or access to other namespaces.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from conveyor.api.names import (
    API_VERSION,
    APP_NAME,
    DEPLOYMENT,
    LABEL_APP_COMPONENT,
    LABEL_APP_MANAGED_BY,
    LABEL_APP_NAME,
    LABEL_DEPLOYMENT,
    label_value,
)

SYSTEM_WORKER_SERVICE_ACCOUNT = "conveyor-worker"
"""The system worker's account (and RoleBinding), in the operator's namespace only. It is not a
deployment worker's: `worker_policy` matches `conveyor-worker-*` and leaves it alone (restoring a
snapshot writes Executions of every deployment)."""
WORKER_SERVICE_ACCOUNT_PREFIX = "conveyor-worker-"
"""A deployment's worker account is this prefix and the Deployment's name."""
WORKER_CLUSTER_ROLE = "conveyor-worker"
RBAC_API_VERSION = "rbac.authorization.k8s.io/v1"
MAX_SERVICE_ACCOUNT_NAME_LENGTH = 253
"""ServiceAccount names are DNS-1123 subdomains."""
MAX_DEPLOYMENT_NAME_LENGTH = MAX_SERVICE_ACCOUNT_NAME_LENGTH - len(WORKER_SERVICE_ACCOUNT_PREFIX)
"""237: the longest Deployment name whose worker account name is valid."""

WORKER_RULES: list[dict[str, Any]] = [
    {"apiGroups": ["conveyor.dev"], "resources": ["executions"], "verbs": ["get", "list", "watch", "patch"]},
    {"apiGroups": ["conveyor.dev"], "resources": ["executions/status"], "verbs": ["get", "patch"]},
    {"apiGroups": ["conveyor.dev"], "resources": ["deployments"], "verbs": ["get"]},
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]},
    {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["get", "update"]},
    {"apiGroups": [""], "resources": ["events"], "verbs": ["create"]},
]
_PLUGIN_VERBS = ["get", "create", "patch", "delete"]
_PLUGIN_RESOURCES = {
    "": ["services", "configmaps", "secrets", "serviceaccounts", "persistentvolumeclaims"],
    "apps": ["deployments", "statefulsets", "daemonsets"],
    "batch": ["jobs", "cronjobs"],
    "networking.k8s.io": ["ingresses", "networkpolicies"],
    "autoscaling": ["horizontalpodautoscalers"],
    "policy": ["poddisruptionbudgets"],
}
PLUGIN_RULES: list[dict[str, Any]] = [
    {"apiGroups": [group], "resources": resources, "verbs": list(_PLUGIN_VERBS)}
    for group, resources in _PLUGIN_RESOURCES.items()
]


@dataclass(frozen=True)
class WorkerIdentity:
    """A ServiceAccount the operator makes for a worker, and the RoleBinding (same name) granting it
    the ClusterRole. `deployment` and `owner` are None for the system worker's."""

    namespace: str
    service_account: str
    deployment: str | None = None
    owner: dict[str, Any] | None = None


def worker_service_account_name(deployment: str) -> str:
    """`conveyor-worker-<deployment>`, never shortened (see `service_account_name_problem`)."""
    return f"{WORKER_SERVICE_ACCOUNT_PREFIX}{deployment}"


def service_account_name_problem(deployment: str) -> str | None:
    """Why the deployment's worker can have no account of its own, or None when it can."""
    if len(deployment) <= MAX_DEPLOYMENT_NAME_LENGTH:
        return None
    return (
        f"the Deployment's name is {len(deployment)} characters long: its worker's ServiceAccount "
        f"{WORKER_SERVICE_ACCOUNT_PREFIX}<name> would exceed {MAX_SERVICE_ACCOUNT_NAME_LENGTH} "
        f"characters (names of up to {MAX_DEPLOYMENT_NAME_LENGTH} fit). Use a shorter Deployment name, "
        "or name an existing account in spec.worker.serviceAccountName"
    )


def system_worker_identity(namespace: str) -> WorkerIdentity:
    return WorkerIdentity(namespace, SYSTEM_WORKER_SERVICE_ACCOUNT)


def managed_identity_of(job: dict[str, Any]) -> WorkerIdentity | None:
    """The identity the operator must make before `job` (`worker_job`) can run, or None when the
    Job runs as an account of the Deployment's own choosing (its owner's business).

    Managed: `conveyor-worker-<D>` in the Job of Deployment D (its controller owner), and
    `conveyor-worker` in a Job no Deployment owns (the system worker's)."""
    metadata = job["metadata"]
    namespace = metadata["namespace"]
    account = job["spec"]["template"]["spec"].get("serviceAccountName")
    owners = [
        ref for ref in metadata.get("ownerReferences") or []
        if ref.get("apiVersion") == API_VERSION and ref.get("kind") == DEPLOYMENT.kind
    ]
    if not owners:
        return system_worker_identity(namespace) if account == SYSTEM_WORKER_SERVICE_ACCOUNT else None
    owner = owners[0]
    if account != worker_service_account_name(owner["name"]):
        return None
    reference = {key: owner[key] for key in ("apiVersion", "kind", "name", "uid")}
    return WorkerIdentity(namespace, account, owner["name"], {**reference, "blockOwnerDeletion": False})


def _labels(identity: WorkerIdentity | None = None) -> dict[str, str]:
    labels = {LABEL_APP_NAME: APP_NAME, LABEL_APP_COMPONENT: "worker", LABEL_APP_MANAGED_BY: APP_NAME}
    if identity is not None and identity.deployment is not None:
        labels[LABEL_DEPLOYMENT] = label_value(identity.deployment)
    return labels


def _metadata(identity: WorkerIdentity) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "name": identity.service_account, "namespace": identity.namespace, "labels": _labels(identity)
    }
    if identity.owner is not None:
        metadata["ownerReferences"] = [identity.owner]
    return metadata


def build_worker_cluster_role() -> dict[str, Any]:
    """The ClusterRole the operator creates when the chart's is missing (same rules). No
    `managed-by` label: a later `helm install` takes it over by server-side apply, and a label value
    of ours would conflict with Helm's."""
    labels = {k: v for k, v in _labels().items() if k != LABEL_APP_MANAGED_BY}
    return {
        "apiVersion": RBAC_API_VERSION,
        "kind": "ClusterRole",
        "metadata": {"name": WORKER_CLUSTER_ROLE, "labels": labels},
        "rules": [*WORKER_RULES, *PLUGIN_RULES],
    }


def build_worker_service_account(identity: WorkerIdentity) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _metadata(identity)}


def build_worker_role_binding(identity: WorkerIdentity) -> dict[str, Any]:
    """Grants the ClusterRole to this one worker account, in its namespace only."""
    return {
        "apiVersion": RBAC_API_VERSION,
        "kind": "RoleBinding",
        "metadata": _metadata(identity),
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": WORKER_CLUSTER_ROLE,
        },
        "subjects": [
            {"kind": "ServiceAccount", "name": identity.service_account, "namespace": identity.namespace}
        ],
    }
