"""The ClusterRoles and ClusterRoleBindings a fresh cluster has and users touch.

What must hold (as kube-apiserver's bootstrap policy behaves; the rules are written here from what
the roles are documented to allow, for the resources this server serves):
- `cluster-admin` allows everything and is bound to the group `system:masters`.
- `admin`, `edit` and `view` carry no rules of their own: each aggregates (aggregationRule) the
  ClusterRoles labelled `rbac.authorization.k8s.io/aggregate-to-<role>: "true"`. `view` is labelled
  to aggregate into `edit`, and `edit` into `admin`, so each role holds the one below it; the
  rules themselves sit in `system:aggregate-to-{view,edit,admin}`, and anyone's ClusterRole (a
  chart's for its CRDs) joins a role by carrying the label.
  - view: read (get, list, watch) most namespaced objects; not Secrets (reading them would let one
    act as any ServiceAccount), not Roles or RoleBindings.
  - edit: view, plus write most namespaced objects, read and write Secrets, run Pods as any
    ServiceAccount (impersonate serviceaccounts, request their tokens); not Roles or RoleBindings,
    not ResourceQuotas, LimitRanges or the Namespace itself.
  - admin: edit, plus read and write Roles and RoleBindings in the namespace, and
    LocalSubjectAccessReviews; still no write access to ResourceQuotas or the Namespace.
- `system:basic-user` (review one's own access), `system:discovery` (discovery and OpenAPI) are
  bound to `system:authenticated`; `system:public-info-viewer` (version, health) to
  `system:authenticated` and `system:unauthenticated`.
- They are created when missing and otherwise left alone: a user's edit to one survives a restart.
"""

from __future__ import annotations

from typing import Any

RBAC_GROUP = "rbac.authorization.k8s.io"
AGGREGATE_TO = "rbac.authorization.k8s.io/aggregate-to-"
Rule = dict[str, Any]

READ = ["get", "list", "watch"]
WRITE = ["create", "delete", "deletecollection", "patch", "update"]

BASIC_USER_RULES: tuple[Rule, ...] = (
    {"verbs": ["create"], "apiGroups": ["authorization.k8s.io"],
     "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]},
    {"verbs": ["create"], "apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"]},
)
DISCOVERY_RULES: tuple[Rule, ...] = (
    {"verbs": ["get"], "nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez",
                                           "/openapi", "/openapi/*", "/readyz", "/version", "/version/"]},
)
PUBLIC_INFO_RULES: tuple[Rule, ...] = (
    {"verbs": ["get"], "nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"]},
)
CLUSTER_ADMIN_RULES: tuple[Rule, ...] = (
    {"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
    {"verbs": ["*"], "nonResourceURLs": ["*"]},
)


def _rule(verbs: list[str], group: str, *resources: str) -> Rule:
    return {"verbs": list(verbs), "apiGroups": [group], "resources": list(resources)}


_VIEW_RULES: tuple[Rule, ...] = (
    _rule(READ, "", "configmaps", "endpoints", "events", "limitranges", "namespaces", "namespaces/status",
          "persistentvolumeclaims", "persistentvolumeclaims/status", "pods", "pods/log", "pods/status",
          "replicationcontrollers", "replicationcontrollers/scale", "replicationcontrollers/status",
          "resourcequotas", "resourcequotas/status", "serviceaccounts", "services", "services/status",
          "bindings"),
    _rule(READ, "apps", "controllerrevisions", "daemonsets", "daemonsets/status", "deployments",
          "deployments/scale", "deployments/status", "replicasets", "replicasets/scale",
          "replicasets/status", "statefulsets", "statefulsets/scale", "statefulsets/status"),
    _rule(READ, "autoscaling", "horizontalpodautoscalers", "horizontalpodautoscalers/status"),
    _rule(READ, "batch", "cronjobs", "cronjobs/status", "jobs", "jobs/status"),
    _rule(READ, "discovery.k8s.io", "endpointslices"),
    _rule(READ, "policy", "poddisruptionbudgets", "poddisruptionbudgets/status"),
    _rule(READ, "networking.k8s.io", "ingresses", "ingresses/status", "networkpolicies"),
)
_EDIT_RULES: tuple[Rule, ...] = (
    _rule(READ, "", "secrets", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy",
          "services/proxy"),
    _rule(["impersonate"], "", "serviceaccounts"),
    _rule(["create"], "", "serviceaccounts/token", "pods/eviction"),
    _rule(WRITE, "", "configmaps", "endpoints", "events", "persistentvolumeclaims", "pods", "pods/attach",
          "pods/exec", "pods/portforward", "pods/proxy", "replicationcontrollers",
          "replicationcontrollers/scale", "secrets", "serviceaccounts", "services", "services/proxy"),
    _rule(WRITE, "apps", "daemonsets", "deployments", "deployments/rollback", "deployments/scale",
          "replicasets", "replicasets/scale", "statefulsets", "statefulsets/scale"),
    _rule(WRITE, "autoscaling", "horizontalpodautoscalers"),
    _rule(WRITE, "batch", "cronjobs", "jobs"),
    _rule(WRITE, "discovery.k8s.io", "endpointslices"),
    _rule(WRITE, "policy", "poddisruptionbudgets"),
    _rule(WRITE, "networking.k8s.io", "ingresses", "networkpolicies"),
)
_ADMIN_RULES: tuple[Rule, ...] = (
    _rule(["create"], "authorization.k8s.io", "localsubjectaccessreviews"),
    _rule([*READ, *WRITE], RBAC_GROUP, "rolebindings", "roles"),
)


def _meta(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    return {"name": name,
            "labels": {"kubernetes.io/bootstrapping": "rbac-defaults", **(labels or {})},
            "annotations": {"rbac.authorization.kubernetes.io/autoupdate": "true"}}


def _cluster_role(name: str, rules: tuple[Rule, ...], labels: dict[str, str] | None = None
                  ) -> dict[str, Any]:
    return {"apiVersion": f"{RBAC_GROUP}/v1", "kind": "ClusterRole", "metadata": _meta(name, labels),
            "rules": [dict(r) for r in rules]}


def _aggregated_role(name: str, labels: dict[str, str] | None = None) -> dict[str, Any]:
    role = _cluster_role(name, (), labels)
    role["aggregationRule"] = {"clusterRoleSelectors": [{"matchLabels": {f"{AGGREGATE_TO}{name}": "true"}}]}
    return role


def _binding(name: str, *groups: str) -> dict[str, Any]:
    return {"apiVersion": f"{RBAC_GROUP}/v1", "kind": "ClusterRoleBinding", "metadata": _meta(name),
            "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": name},
            "subjects": [{"apiGroup": RBAC_GROUP, "kind": "Group", "name": g} for g in groups]}


def cluster_roles() -> list[dict[str, Any]]:
    """The bootstrap ClusterRoles; aggregated ones are listed before the roles they select, with no
    rules (aggregation fills them in)."""
    return [
        _cluster_role("cluster-admin", CLUSTER_ADMIN_RULES),
        _aggregated_role("admin"),
        _aggregated_role("edit", {f"{AGGREGATE_TO}admin": "true"}),
        _aggregated_role("view", {f"{AGGREGATE_TO}edit": "true"}),
        _cluster_role("system:aggregate-to-admin", _ADMIN_RULES, {f"{AGGREGATE_TO}admin": "true"}),
        _cluster_role("system:aggregate-to-edit", _EDIT_RULES, {f"{AGGREGATE_TO}edit": "true"}),
        _cluster_role("system:aggregate-to-view", _VIEW_RULES, {f"{AGGREGATE_TO}view": "true"}),
        _cluster_role("system:basic-user", BASIC_USER_RULES),
        _cluster_role("system:discovery", DISCOVERY_RULES),
        _cluster_role("system:public-info-viewer", PUBLIC_INFO_RULES),
    ]


def cluster_role_bindings() -> list[dict[str, Any]]:
    return [
        _binding("cluster-admin", "system:masters"),
        _binding("system:basic-user", "system:authenticated"),
        _binding("system:discovery", "system:authenticated"),
        _binding("system:public-info-viewer", "system:authenticated", "system:unauthenticated"),
    ]
