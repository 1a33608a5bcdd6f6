"""ObjectMeta validation as kube-apiserver's ValidateObjectMeta does it, with its messages.

Which syntax a name must have depends on the kind (most are DNS-1123 subdomains; namespaces are
DNS-1123 labels, services DNS-1035 labels, RBAC objects path segments), so the rules are one table.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from conveyor.sim.schema import field_errors as fe
from conveyor.sim.schema import names

Causes = list[dict[str, str]]
NameRule = Callable[[str], list[str]]

TOTAL_ANNOTATION_SIZE = 256 * 1024

# kind (or "Kind.group") → the name syntax kube-apiserver's strategy for that kind enforces.
NAME_RULES: dict[str, NameRule] = {
    "Namespace": names.is_dns1123_label,
    "Service": names.is_dns1035_label,
    "Role.rbac.authorization.k8s.io": names.is_path_segment_name,
    "RoleBinding.rbac.authorization.k8s.io": names.is_path_segment_name,
    "ClusterRole.rbac.authorization.k8s.io": names.is_path_segment_name,
    "ClusterRoleBinding.rbac.authorization.k8s.io": names.is_path_segment_name,
}


def name_rule(kind_group: str) -> NameRule:
    """`kind_group` is `Kind` for the core group, `Kind.group` otherwise."""
    rule = NAME_RULES.get(kind_group)
    if rule is not None:
        return rule
    kind, _, group = kind_group.partition(".")
    if not group:
        return NAME_RULES.get(kind, names.is_dns1123_subdomain)
    return names.is_dns1123_subdomain


def validate_name(kind_group: str, name: str, path: str = "metadata.name") -> Causes:
    return [fe.invalid(path, name, msg) for msg in name_rule(kind_group)(name)]


def _kind_group(obj: dict[str, Any]) -> str:
    kind = obj.get("kind") or ""
    group = (obj.get("apiVersion") or "").rpartition("/")[0]
    return f"{kind}.{group}" if group else kind


def _labels(labels: Any, path: str) -> Causes:
    causes: Causes = []
    if not isinstance(labels, dict):
        return causes
    for key, value in labels.items():
        causes.extend(fe.invalid(path, key, m) for m in names.is_qualified_name(key))
        if not isinstance(value, str):
            continue
        causes.extend(fe.invalid(path, value, m) for m in names.is_label_value(value))
    return causes


def _annotations(annotations: Any, path: str) -> Causes:
    causes: Causes = []
    if not isinstance(annotations, dict):
        return causes
    total = 0
    for key, value in annotations.items():
        causes.extend(fe.invalid(path, key, m) for m in names.is_qualified_name(key.lower()))
        total += len(key.encode()) + (len(value.encode()) if isinstance(value, str) else 0)
    if total > TOTAL_ANNOTATION_SIZE:
        causes.append(fe.too_long(path, TOTAL_ANNOTATION_SIZE))
    return causes


def validate_metadata(obj: dict[str, Any], namespaced: bool) -> Causes:
    """Causes for `obj.metadata`: name (or generateName), namespace presence, labels, annotations."""
    meta = obj.get("metadata") or {}
    causes: Causes = []
    rule = name_rule(_kind_group(obj))
    name = meta.get("name") or ""
    generate = meta.get("generateName") or ""
    if generate:
        causes.extend(fe.invalid("metadata.generateName", generate, m)
                      for m in rule(names.mask_trailing_dash(generate)))
    if not name and not generate:
        causes.append(fe.required("metadata.name", "name or generateName is required"))
    elif name:
        causes.extend(fe.invalid("metadata.name", name, m) for m in rule(name))
    namespace = meta.get("namespace") or ""
    if namespaced:
        if not namespace:
            causes.append(fe.required("metadata.namespace"))
        else:
            causes.extend(fe.invalid("metadata.namespace", namespace, m)
                          for m in names.is_dns1123_label(namespace))
    elif namespace:
        causes.append(fe.forbidden("metadata.namespace", "not allowed on this type"))
    causes.extend(_labels(meta.get("labels"), "metadata.labels"))
    causes.extend(_annotations(meta.get("annotations"), "metadata.annotations"))
    for i, finalizer in enumerate(meta.get("finalizers") or ()):
        if isinstance(finalizer, str):
            causes.extend(fe.invalid(f"metadata.finalizers[{i}]", finalizer, m)
                          for m in names.is_qualified_name(finalizer))
    return causes
