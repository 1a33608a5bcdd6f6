"""Who a worker runs as: the ServiceAccount `conveyor-worker` in its namespace, bound (RoleBinding
`conveyor-worker`) to the ClusterRole `conveyor-worker`. Pure builders.

Why a ClusterRole bound per namespace: the permissions are written once (by the Helm chart, or by the
operator when the chart did not and it may), yet a RoleBinding grants them only within the
namespace it lives in, so a worker can touch nothing outside its deployment's namespace. The
operator creates the ServiceAccount and the RoleBinding on demand (it needs `bind` on this one
ClusterRole for the latter, never the permissions themselves).

What must hold:
- WORKER_RULES are the calls the worker makes (conveyor/worker): read its Deployment and source
  ConfigMaps, watch and claim its Executions (CAS patches, status included), renew their Leases,
  post Events;
- PLUGIN_RULES are what the `kubernetes` plugin needs in the namespace (server-side apply = get,
  create, patch; delete; waits poll with get: no list or watch), the same as the chart's
  `worker.pluginRules` default (a unit test compares them);
- nothing here grants RBAC verbs, wildcards, or access to other namespaces.
"""

from __future__ import annotations

from typing import Any

from conveyor.api.names import APP_NAME, LABEL_APP_COMPONENT, LABEL_APP_MANAGED_BY, LABEL_APP_NAME

WORKER_SERVICE_ACCOUNT = "conveyor-worker"
WORKER_ROLE_BINDING = "conveyor-worker"
WORKER_CLUSTER_ROLE = "conveyor-worker"
RBAC_API_VERSION = "rbac.authorization.k8s.io/v1"

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


def _labels() -> dict[str, str]:
    return {LABEL_APP_NAME: APP_NAME, LABEL_APP_COMPONENT: "worker", LABEL_APP_MANAGED_BY: APP_NAME}


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


def build_worker_service_account(namespace: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {"name": WORKER_SERVICE_ACCOUNT, "namespace": namespace, "labels": _labels()},
    }


def build_worker_role_binding(namespace: str) -> dict[str, Any]:
    """Grants the ClusterRole to the namespace's worker ServiceAccount, in that namespace only."""
    return {
        "apiVersion": RBAC_API_VERSION,
        "kind": "RoleBinding",
        "metadata": {"name": WORKER_ROLE_BINDING, "namespace": namespace, "labels": _labels()},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": WORKER_CLUSTER_ROLE,
        },
        "subjects": [{"kind": "ServiceAccount", "name": WORKER_SERVICE_ACCOUNT, "namespace": namespace}],
    }
