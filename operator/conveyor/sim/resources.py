"""What the server serves: one `ResourceType` per (group, version, plural), built-in or from a CRD.

Everything that depends on "which kinds exist" (routing, discovery, OpenAPI, Tables, validation,
garbage collection) reads this registry, so a CRD becoming Established is one `add` here.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    group: str  # "" is the core group
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()  # "status", "scale", "log"
    verbs: tuple[str, ...] = ALL_VERBS
    # For custom resources: the CRD's `spec.versions[i]` entry for this version (schema, printer
    # columns, subresources) and the CRD's spec; None for built-in kinds.
    crd_version: dict[str, Any] | None = field(default=None, compare=False, hash=False)
    crd_spec: dict[str, Any] | None = field(default=None, compare=False, hash=False)
    storage: bool = True  # the version objects are stored at (one per group/resource)
    served: bool = True

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    api_version = group_version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def is_custom(self) -> bool:
        return self.crd_spec is not None

    @property
    def key(self) -> tuple[str, str]:
        """(group, plural): objects are stored once per group and resource, whatever the version."""
        return (self.group, self.plural)

    @property
    def schema(self) -> dict[str, Any] | None:
        """The openAPIV3Schema of a custom resource version, None for built-ins."""
        if self.crd_version is None:
            return None
        return (self.crd_version.get("schema") or {}).get("openAPIV3Schema")


def _b(group: str, version: str, kind: str, plural: str, namespaced: bool = True,
       short: Iterable[str] = (), cats: Iterable[str] = (), sub: Iterable[str] = (),
       verbs: tuple[str, ...] = ALL_VERBS) -> ResourceType:
    return ResourceType(group, version, kind, plural, kind.lower(), namespaced, tuple(short), tuple(cats),
                        tuple(sub), verbs)


BUILTIN: tuple[ResourceType, ...] = (
    _b("", "v1", "Namespace", "namespaces", False, ["ns"], sub=["status"],
       verbs=("create", "delete", "get", "list", "patch", "update", "watch")),
    _b("", "v1", "Node", "nodes", False, ["no"], sub=["status"]),
    _b("", "v1", "ConfigMap", "configmaps", short=["cm"]),
    _b("", "v1", "Secret", "secrets"),
    _b("", "v1", "ServiceAccount", "serviceaccounts", short=["sa"], sub=["token"]),
    _b("", "v1", "Service", "services", short=["svc"], cats=["all"], sub=["status"],
       verbs=("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")),
    _b("", "v1", "Endpoints", "endpoints", short=["ep"]),
    _b("", "v1", "Event", "events", short=["ev"]),
    _b("", "v1", "Pod", "pods", short=["po"], cats=["all"],
       sub=["status", "log", "exec", "attach", "portforward"]),
    _b("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", short=["pvc"], sub=["status"]),
    _b("", "v1", "ResourceQuota", "resourcequotas", short=["quota"], sub=["status"]),
    _b("", "v1", "LimitRange", "limitranges", short=["limits"]),
    _b("events.k8s.io", "v1", "Event", "events", short=["ev"]),
    _b("batch", "v1", "Job", "jobs", cats=["all"], sub=["status"]),
    _b("batch", "v1", "CronJob", "cronjobs", short=["cj"], cats=["all"], sub=["status"]),
    _b("apps", "v1", "Deployment", "deployments", short=["deploy"], cats=["all"], sub=["status", "scale"]),
    _b("apps", "v1", "ReplicaSet", "replicasets", short=["rs"], cats=["all"], sub=["status", "scale"]),
    _b("apps", "v1", "StatefulSet", "statefulsets", short=["sts"], cats=["all"], sub=["status", "scale"]),
    _b("apps", "v1", "DaemonSet", "daemonsets", short=["ds"], cats=["all"], sub=["status"]),
    _b("apps", "v1", "ControllerRevision", "controllerrevisions"),
    _b("coordination.k8s.io", "v1", "Lease", "leases"),
    _b("apiextensions.k8s.io", "v1", "CustomResourceDefinition", "customresourcedefinitions", False,
       ["crd", "crds"], cats=["api-extensions"], sub=["status"]),
    _b("rbac.authorization.k8s.io", "v1", "Role", "roles"),
    _b("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
    _b("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", False),
    _b("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", False),
    _b("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration",
       "validatingwebhookconfigurations", False, cats=["api-extensions"]),
    _b("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration",
       "mutatingwebhookconfigurations", False, cats=["api-extensions"]),
    _b("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicy", "validatingadmissionpolicies",
       False, cats=["api-extensions"], sub=["status"]),
    _b("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicyBinding",
       "validatingadmissionpolicybindings", False, cats=["api-extensions"]),
    _b("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", short=["pdb"], sub=["status"]),
    _b("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", short=["netpol"]),
    _b("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices"),
    _b("networking.k8s.io", "v1", "Ingress", "ingresses", short=["ing"], sub=["status"]),
    _b("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers", short=["hpa"],
       cats=["all"], sub=["status"]),
    _b("scheduling.k8s.io", "v1", "PriorityClass", "priorityclasses", False, ["pc"]),
    # Create-only reviews, answered and never stored (reviews.py).
    _b("authorization.k8s.io", "v1", "SelfSubjectAccessReview", "selfsubjectaccessreviews", False,
       verbs=("create",)),
    _b("authorization.k8s.io", "v1", "SelfSubjectRulesReview", "selfsubjectrulesreviews", False,
       verbs=("create",)),
    _b("authorization.k8s.io", "v1", "SubjectAccessReview", "subjectaccessreviews", False, verbs=("create",)),
    _b("authorization.k8s.io", "v1", "LocalSubjectAccessReview", "localsubjectaccessreviews",
       verbs=("create",)),
    _b("authentication.k8s.io", "v1", "SelfSubjectReview", "selfsubjectreviews", False, verbs=("create",)),
)


class Registry:
    """The served resource types; thread-safe because the kubelet and controllers read it too."""

    def __init__(self, builtin: Iterable[ResourceType] = BUILTIN) -> None:
        self._lock = threading.RLock()
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        for rt in builtin:
            self._types[(rt.group, rt.version, rt.plural)] = rt

    def all(self) -> list[ResourceType]:
        with self._lock:
            return list(self._types.values())

    def get(self, group: str, version: str, plural: str) -> ResourceType | None:
        with self._lock:
            return self._types.get((group, version, plural))

    def by_kind(self, api_version: str, kind: str) -> ResourceType | None:
        group, _, version = api_version.rpartition("/")
        with self._lock:
            for rt in self._types.values():
                if rt.group == group and rt.version == version and rt.kind == kind:
                    return rt
        return None

    def storage_type(self, group: str, plural: str) -> ResourceType | None:
        """The version whose shape objects of (group, plural) are stored in."""
        with self._lock:
            for rt in self._types.values():
                if rt.group == group and rt.plural == plural and rt.storage:
                    return rt
        return None

    def versions_of(self, group: str) -> list[str]:
        """Served versions of a group, preferred first (kube-aggregator's version priority)."""
        with self._lock:
            versions = {rt.version for rt in self._types.values() if rt.group == group and rt.served}
        return sorted(versions, key=version_priority)

    def groups(self) -> list[str]:
        """Named groups, in a stable order: built-ins as kube-apiserver lists them, then custom ones."""
        with self._lock:
            seen: dict[str, None] = {}
            for rt in self._types.values():
                if rt.group:
                    seen.setdefault(rt.group, None)
        return list(seen)

    def set_custom(self, group: str, plural: str, types: list[ResourceType]) -> None:
        """Replace every version served for one CRD (called when a CRD is Established or changes)."""
        with self._lock:
            self.remove_custom(group, plural)
            for rt in types:
                self._types[(rt.group, rt.version, rt.plural)] = rt

    def remove_custom(self, group: str, plural: str) -> None:
        with self._lock:
            for key in [k for k, rt in self._types.items()
                        if rt.group == group and rt.plural == plural and rt.is_custom]:
                del self._types[key]


def version_priority(version: str) -> tuple[int, int, int, str]:
    """Kubernetes version ordering: GA > beta > alpha, higher numbers first, others last by name."""
    import re

    m = re.fullmatch(r"v(\d+)(?:(alpha|beta)(\d+))?", version)
    if not m:
        return (3, 0, 0, version)
    major = int(m.group(1))
    stage = {None: 0, "beta": 1, "alpha": 2}[m.group(2)]
    minor = int(m.group(3) or 0)
    return (stage, -major, -minor, version)
