"""Spec validation of the built-in kinds Conveyor and its users write, with kube's paths and wording.

Not all of kube's validation: the rules a user of Conveyor can trip over (missing containers, a
Job's restartPolicy, a Deployment selector that does not match its template, Service ports,
ConfigMap keys and sizes, Lease fields, RBAC rules). One function per kind, found in `VALIDATORS`.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol, TypeGuard

from conveyor.sim.schema import field_errors as fe
from conveyor.sim.schema import names
from conveyor.sim.selectors import selector_from_match

Causes = list[dict[str, str]]
MAX_CONFIG_SIZE = 1024 * 1024

RESTART_POLICIES = ("Always", "OnFailure", "Never")
PULL_POLICIES = ("Always", "IfNotPresent", "Never")
DNS_POLICIES = ("ClusterFirstWithHostNet", "ClusterFirst", "Default", "None")
PROTOCOLS = ("SCTP", "TCP", "UDP")
SUBJECT_KINDS = ("ServiceAccount", "User", "Group")
SERVICE_TYPES = ("ClusterIP", "ExternalName", "LoadBalancer", "NodePort")
_IANA_SVC_NAME = re.compile(r"[-a-z0-9]*[a-z][-a-z0-9]*")
_IANA_MESSAGE = "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"


class ResourceTypeLike(Protocol):
    @property
    def group(self) -> str: ...

    @property
    def kind(self) -> str: ...


def _int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _non_negative(spec: dict[str, Any], key: str, path: str, causes: Causes) -> None:
    value = spec.get(key)
    if _int(value) and value < 0:
        causes.append(fe.invalid(fe.child(path, key), value, "must be greater than or equal to 0"))


def _port_range(value: Any, path: str, causes: Causes) -> None:
    if _int(value) and not 1 <= value <= 65535:
        causes.append(fe.invalid(path, value, "must be between 1 and 65535, inclusive"))


def _containers(containers: Any, path: str, seen: set[str], causes: Causes) -> None:
    for i, c in enumerate(containers or ()):
        cpath = fe.index(path, i)
        if not isinstance(c, dict):
            continue
        name = c.get("name") or ""
        if not name:
            causes.append(fe.required(fe.child(cpath, "name")))
        elif errs := names.is_dns1123_label(name):
            causes.extend(fe.invalid(fe.child(cpath, "name"), name, e) for e in errs)
        elif name in seen:
            causes.append(fe.duplicate(fe.child(cpath, "name"), name))
        seen.add(name)
        if not c.get("image"):
            causes.append(fe.required(fe.child(cpath, "image")))
        policy = c.get("imagePullPolicy")
        if policy and policy not in PULL_POLICIES:
            causes.append(fe.not_supported(fe.child(cpath, "imagePullPolicy"), policy, PULL_POLICIES))
        for j, port in enumerate(c.get("ports") or ()):
            ppath = fe.index(fe.child(cpath, "ports"), j)
            if isinstance(port, dict):
                if "containerPort" not in port:
                    causes.append(fe.required(fe.child(ppath, "containerPort")))
                _port_range(port.get("containerPort"), fe.child(ppath, "containerPort"), causes)
        for j, env in enumerate(c.get("env") or ()):
            if isinstance(env, dict) and not env.get("name"):
                causes.append(fe.required(fe.child(fe.index(fe.child(cpath, "env"), j), "name")))


def validate_pod_spec(spec: Any, path: str) -> Causes:
    causes: Causes = []
    if not isinstance(spec, dict):
        return [fe.required(fe.child(path, "containers"))]
    containers = spec.get("containers")
    if not containers:
        causes.append(fe.required(fe.child(path, "containers")))
    seen: set[str] = set()
    _containers(containers, fe.child(path, "containers"), seen, causes)
    _containers(spec.get("initContainers"), fe.child(path, "initContainers"), seen, causes)
    policy = spec.get("restartPolicy")
    if policy and policy not in RESTART_POLICIES:
        causes.append(fe.not_supported(fe.child(path, "restartPolicy"), policy, RESTART_POLICIES))
    dns = spec.get("dnsPolicy")
    if dns and dns not in DNS_POLICIES:
        causes.append(fe.not_supported(fe.child(path, "dnsPolicy"), dns, DNS_POLICIES))
    _non_negative(spec, "terminationGracePeriodSeconds", path, causes)
    deadline = spec.get("activeDeadlineSeconds")
    if _int(deadline) and deadline < 1:
        causes.append(fe.invalid(fe.child(path, "activeDeadlineSeconds"), deadline,
                                 "must be between 1 and 2147483647, inclusive"))
    volumes: set[str] = set()
    for i, vol in enumerate(spec.get("volumes") or ()):
        vname = vol.get("name") if isinstance(vol, dict) else None
        vpath = fe.child(fe.index(fe.child(path, "volumes"), i), "name")
        if not vname:
            causes.append(fe.required(vpath))
        elif vname in volumes:
            causes.append(fe.duplicate(vpath, vname))
        volumes.add(vname or "")
    return causes


def _template(spec: dict[str, Any], selector: Any, restart: tuple[str, ...] | None) -> Causes:
    causes: Causes = []
    template = spec.get("template")
    if not isinstance(template, dict):
        return [fe.required("spec.template")]
    labels = (template.get("metadata") or {}).get("labels") or {}
    # An empty selector matches anything (its own rule is on spec.selector); a malformed expression
    # is left out of the check rather than failing the request (see selector_from_match).
    if isinstance(selector, dict) and not selector_from_match(selector, tolerant=True).matches(labels):
        causes.append(fe.invalid("spec.template.metadata.labels", labels,
                                 "`selector` does not match template `labels`"))
    pod_spec = template.get("spec")
    causes.extend(validate_pod_spec(pod_spec, "spec.template.spec"))
    if restart and isinstance(pod_spec, dict):
        # Validation sees defaulted objects, where a missing restartPolicy has become Always.
        policy = pod_spec.get("restartPolicy") or "Always"
        if policy not in restart:
            causes.append(fe.not_supported("spec.template.spec.restartPolicy", policy, restart))
    return causes


def _pod(obj: dict[str, Any]) -> Causes:
    return validate_pod_spec(obj.get("spec"), "spec")


def _job(obj: dict[str, Any]) -> Causes:
    spec = obj.get("spec") or {}
    causes: Causes = []
    for key in ("backoffLimit", "parallelism", "completions"):
        _non_negative(spec, key, "spec", causes)
    deadline = spec.get("activeDeadlineSeconds")
    if _int(deadline) and deadline <= 0:
        causes.append(fe.invalid("spec.activeDeadlineSeconds", deadline, "must be greater than or equal to 0"
                                 if deadline < 0 else "must be greater than 0"))
    mode = spec.get("completionMode")
    if mode and mode not in ("NonIndexed", "Indexed"):
        causes.append(fe.not_supported("spec.completionMode", mode, ["NonIndexed", "Indexed"]))
    causes.extend(_template(spec, spec.get("selector"), ("OnFailure", "Never")))
    return causes


def _replicated(obj: dict[str, Any], what: str) -> Causes:
    spec = obj.get("spec") or {}
    causes: Causes = []
    _non_negative(spec, "replicas", "spec", causes)
    _non_negative(spec, "revisionHistoryLimit", "spec", causes)
    _non_negative(spec, "minReadySeconds", "spec", causes)
    selector = spec.get("selector")
    if selector is None:
        causes.append(fe.required("spec.selector"))
    elif not (selector.get("matchLabels") or selector.get("matchExpressions")):
        causes.append(fe.invalid("spec.selector", selector, f"empty selector is invalid for {what}"))
    strategy = (spec.get("strategy") or {}).get("type")
    if what == "deployment" and strategy and strategy not in ("Recreate", "RollingUpdate"):
        causes.append(fe.not_supported("spec.strategy.type", strategy, ["Recreate", "RollingUpdate"]))
    causes.extend(_template(spec, selector, ("Always",)))
    return causes


def _service(obj: dict[str, Any]) -> Causes:
    spec = obj.get("spec") or {}
    causes: Causes = []
    stype = spec.get("type") or "ClusterIP"
    if stype not in SERVICE_TYPES:
        causes.append(fe.not_supported("spec.type", stype, SERVICE_TYPES))
    ports = spec.get("ports") or []
    if not ports and stype != "ExternalName" and spec.get("clusterIP") != "None":
        causes.append(fe.required("spec.ports"))
    seen: set[str] = set()
    for i, port in enumerate(ports):
        ppath = fe.index("spec.ports", i)
        if not isinstance(port, dict):
            continue
        pname = port.get("name") or ""
        if len(ports) > 1 and not pname:
            causes.append(fe.required(fe.child(ppath, "name")))
        elif pname:
            causes.extend(fe.invalid(fe.child(ppath, "name"), pname, e)
                          for e in names.is_dns1123_label(pname))
            if pname in seen:
                causes.append(fe.duplicate(fe.child(ppath, "name"), pname))
            seen.add(pname)
        if "port" not in port:
            causes.append(fe.required(fe.child(ppath, "port")))
        _port_range(port.get("port"), fe.child(ppath, "port"), causes)
        protocol = port.get("protocol")
        if protocol and protocol not in PROTOCOLS:
            causes.append(fe.not_supported(fe.child(ppath, "protocol"), protocol, PROTOCOLS))
        target = port.get("targetPort")
        if _int(target):
            _port_range(target, fe.child(ppath, "targetPort"), causes)
        elif isinstance(target, str) and (len(target) > 15 or not _IANA_SVC_NAME.fullmatch(target)):
            causes.append(fe.invalid(fe.child(ppath, "targetPort"), target, _IANA_MESSAGE))
    affinity = spec.get("sessionAffinity")
    if affinity and affinity not in ("ClientIP", "None"):
        causes.append(fe.not_supported("spec.sessionAffinity", affinity, ["ClientIP", "None"]))
    return causes


def _config_data(obj: dict[str, Any], binary_decode: bool) -> Causes:
    """ConfigMap and Secret: valid keys, no key in both maps, at most 1 MiB in all."""
    causes: Causes = []
    total = 0
    data = obj.get("data") or {}
    other_key = "binaryData" if not binary_decode else "stringData"
    other = obj.get(other_key) or {}
    for key, value in data.items():
        causes.extend(fe.invalid(fe.key("data", key), key, e) for e in names.is_config_map_key(key))
        if key in other and not binary_decode:
            causes.append(fe.invalid(fe.key("data", key), key, "duplicate of key present in binaryData"))
        if isinstance(value, str):
            if binary_decode:
                try:
                    total += len(base64.b64decode(value, validate=True))
                except (binascii.Error, ValueError):
                    total += len(value)
            else:
                total += len(value.encode())
    for key, value in other.items():
        causes.extend(fe.invalid(fe.key(other_key, key), key, e) for e in names.is_config_map_key(key))
        if isinstance(value, str):
            total += len(value) * 3 // 4 if not binary_decode else len(value.encode())
    if total > MAX_CONFIG_SIZE:
        causes.append(fe.too_long("", MAX_CONFIG_SIZE))
    return causes


def _config_map(obj: dict[str, Any]) -> Causes:
    return _config_data(obj, binary_decode=False)


def _secret(obj: dict[str, Any]) -> Causes:
    return _config_data(obj, binary_decode=True)


def _micro_time(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _lease(obj: dict[str, Any]) -> Causes:
    """Lease fields are typed; kube refuses ill-typed ones when decoding, we name the field."""
    spec = obj.get("spec") or {}
    causes: Causes = []
    for key in ("leaseDurationSeconds", "leaseTransitions"):
        value = spec.get(key)
        if value is not None and not _int(value):
            causes.append(fe.invalid(fe.child("spec", key), value, "must be an integer"))
    duration = spec.get("leaseDurationSeconds")
    if _int(duration) and duration <= 0:
        causes.append(fe.invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"))
    _non_negative(spec, "leaseTransitions", "spec", causes)
    for key in ("holderIdentity", "preferredHolder", "strategy"):
        value = spec.get(key)
        if value is not None and not isinstance(value, str):
            causes.append(fe.invalid(fe.child("spec", key), value, "must be a string"))
    for key in ("acquireTime", "renewTime"):
        value = spec.get(key)
        if value is not None and not _micro_time(value):
            causes.append(fe.invalid(fe.child("spec", key), value, "must be an RFC 3339 date-time"))
    return causes


def _policy_rules(obj: dict[str, Any], namespaced: bool) -> Causes:
    causes: Causes = []
    for i, rule in enumerate(obj.get("rules") or ()):
        path = fe.index("rules", i)
        if not isinstance(rule, dict):
            continue
        if not rule.get("verbs"):
            causes.append(fe.required(fe.child(path, "verbs"), "verbs must contain at least one value"))
        if rule.get("nonResourceURLs"):
            if namespaced:
                causes.append(fe.invalid(fe.child(path, "nonResourceURLs"), rule["nonResourceURLs"],
                                         "namespaced rules cannot apply to non-resource URLs"))
            if rule.get("apiGroups") or rule.get("resources") or rule.get("resourceNames"):
                causes.append(fe.invalid(fe.child(path, "nonResourceURLs"), rule["nonResourceURLs"],
                                         "rules cannot apply to both regular resources and non-resource "
                                         "URLs"))
            continue
        if not rule.get("apiGroups"):
            causes.append(fe.required(fe.child(path, "apiGroups"),
                                      "resource rules must supply at least one api group"))
        if not rule.get("resources"):
            causes.append(fe.required(fe.child(path, "resources"),
                                      "resource rules must supply at least one resource"))
    return causes


def _binding(obj: dict[str, Any], namespaced: bool) -> Causes:
    causes: Causes = []
    ref = obj.get("roleRef") or {}
    kinds = ["Role", "ClusterRole"] if namespaced else ["ClusterRole"]
    if ref.get("apiGroup") != "rbac.authorization.k8s.io":
        causes.append(fe.not_supported("roleRef.apiGroup", ref.get("apiGroup") or "",
                                       ["rbac.authorization.k8s.io"]))
    if ref.get("kind") not in kinds:
        causes.append(fe.not_supported("roleRef.kind", ref.get("kind") or "", kinds))
    if not ref.get("name"):
        causes.append(fe.required("roleRef.name"))
    for i, subject in enumerate(obj.get("subjects") or ()):
        path = fe.index("subjects", i)
        kind = subject.get("kind")
        if kind not in SUBJECT_KINDS:
            causes.append(fe.not_supported(fe.child(path, "kind"), kind or "", SUBJECT_KINDS))
        if not subject.get("name"):
            causes.append(fe.required(fe.child(path, "name")))
        if kind == "ServiceAccount" and not namespaced and not subject.get("namespace"):
            causes.append(fe.required(fe.child(path, "namespace")))
    return causes


VALIDATORS: dict[tuple[str, str], Callable[[dict[str, Any]], Causes]] = {
    ("", "Pod"): _pod,
    ("batch", "Job"): _job,
    ("apps", "Deployment"): lambda o: _replicated(o, "deployment"),
    ("apps", "ReplicaSet"): lambda o: _replicated(o, "replicaset"),
    ("", "Service"): _service,
    ("", "ConfigMap"): _config_map,
    ("", "Secret"): _secret,
    ("coordination.k8s.io", "Lease"): _lease,
    ("rbac.authorization.k8s.io", "Role"): lambda o: _policy_rules(o, True),
    ("rbac.authorization.k8s.io", "ClusterRole"): lambda o: _policy_rules(o, False),
    ("rbac.authorization.k8s.io", "RoleBinding"): lambda o: _binding(o, True),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"): lambda o: _binding(o, False),
}


def validate_builtin(rt: ResourceTypeLike, obj: dict[str, Any]) -> Causes:
    """Kind-specific causes for `obj` (metadata is `validate_metadata`'s job)."""
    validator = VALIDATORS.get((rt.group, rt.kind))
    return validator(obj) if validator else []
