"""Discovery documents: what kubectl, helm, kopf and client-go read to map kinds to URLs.

Both shapes kube-apiserver serves are built here from the `Registry`, so a CRD that becomes
Established shows up everywhere at once:
- legacy discovery (`/api`, `/apis`, `/apis/{group}`, `/api/v1`, `/apis/{group}/{version}`);
- aggregated discovery (`apidiscovery.k8s.io/v2`, and `v2beta1` for clients that ask for it), which
  kubectl 1.35 requests first. client-go only trusts an aggregated answer whose Content-Type names
  the group, version and kind it asked for (see `discovery_content_type`); anything else makes it
  fall back to one request per group version.
Pure functions: the server picks the document and writes it.
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any

from conveyor.sim.resources import Registry, ResourceType

DISCOVERY_GROUP = "apidiscovery.k8s.io"
AGGREGATED_KIND = "APIGroupDiscoveryList"
AGGREGATED_VERSIONS = ("v2", "v2beta1")

# Verbs and response kinds of subresources, as kube-apiserver registers them. A subresource not
# listed here answers with its parent's kind and `get`.
_SUBRESOURCE_VERBS: dict[str, tuple[str, ...]] = {
    "status": ("get", "patch", "update"),
    "scale": ("get", "patch", "update"),
    "log": ("get",),
    "token": ("create",),
    "exec": ("create", "get"),
    "attach": ("create", "get"),
    "portforward": ("create", "get"),
}
_SUBRESOURCE_KIND: dict[str, tuple[str, str, str]] = {
    "scale": ("autoscaling", "v1", "Scale"),
    "token": ("authentication.k8s.io", "v1", "TokenRequest"),
    "exec": ("", "v1", "PodExecOptions"),
    "attach": ("", "v1", "PodAttachOptions"),
    "portforward": ("", "v1", "PodPortForwardOptions"),
}


def discovery_content_type(version: str | None) -> str:
    """The Content-Type the server must answer with: client-go rejects an aggregated document
    whose media type parameters do not name `g`, `v` and `as` exactly."""
    if version is None:
        return "application/json"
    return f"application/json;g={DISCOVERY_GROUP};v={version};as={AGGREGATED_KIND}"


def negotiate_discovery(accept_header: str | None) -> str | None:
    """Which discovery shape an Accept header asks for: "v2", "v2beta1", or None for legacy.

    Media ranges are honoured in the client's order, the first one the server can produce wins,
    as kube-apiserver's negotiation does (q-values are not used by any client we serve).
    """
    for media_range in (accept_header or "").split(","):
        parts = [p.strip() for p in media_range.split(";")]
        mime = parts[0].lower()
        params: dict[str, str] = {}
        for p in parts[1:]:
            key, sep, value = p.partition("=")
            if sep:
                params[key.strip().lower()] = value.strip().strip('"')
        if mime not in ("application/json", "application/*", "*/*"):
            continue
        if params.get("g") == DISCOVERY_GROUP and params.get("as") == AGGREGATED_KIND:
            if params.get("v") in AGGREGATED_VERSIONS:
                return params["v"]
            continue
        if "as" not in params:
            return None
    return None


def core_api_versions(server_address: str = "") -> dict[str, Any]:
    """`/api`: the legacy core group has exactly one version."""
    return {
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    }


def _group_versions(registry: Registry, group: str) -> list[dict[str, str]]:
    return [{"groupVersion": f"{group}/{v}", "version": v} for v in registry.versions_of(group)]


def _api_group(registry: Registry, group: str) -> dict[str, Any] | None:
    versions = _group_versions(registry, group)
    if not versions:
        return None
    return {"name": group, "versions": versions, "preferredVersion": versions[0]}


def api_group_list(registry: Registry) -> dict[str, Any]:
    """`/apis`: every named group with a served version; the preferred version is listed first."""
    groups = [g for g in (_api_group(registry, name) for name in registry.groups()) if g is not None]
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(registry: Registry, group: str) -> dict[str, Any] | None:
    """`/apis/{group}`; None when the group serves nothing (the server answers 404)."""
    doc = _api_group(registry, group)
    if doc is None:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **doc}


def _served(registry: Registry, group: str, version: str) -> list[ResourceType]:
    types = [rt for rt in registry.all() if rt.group == group and rt.version == version and rt.served]
    return sorted(types, key=lambda rt: rt.plural)


def _subresources(rt: ResourceType) -> list[str]:
    subs = list(rt.subresources)
    if rt.crd_version is not None:
        for name in (rt.crd_version.get("subresources") or {}):
            if name not in subs:
                subs.append(name)
    return sorted(subs)


def _subresource_kind(rt: ResourceType, sub: str) -> tuple[str, str, str]:
    return _SUBRESOURCE_KIND.get(sub, (rt.group, rt.version, rt.kind))


def storage_version_hash(registry: Registry, rt: ResourceType) -> str:
    """An opaque token that changes when the storage version of a resource changes (kube derives
    it from the storage group/version/kind; the storage-version migrator compares it)."""
    storage = registry.storage_type(rt.group, rt.plural) or rt
    digest = hashlib.sha256(f"{storage.group}/{storage.version}/{storage.kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def _legacy_resource(registry: Registry, rt: ResourceType) -> list[dict[str, Any]]:
    main: dict[str, Any] = {
        "name": rt.plural,
        "singularName": rt.singular,
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": list(rt.verbs),
    }
    if rt.short_names:
        main["shortNames"] = list(rt.short_names)
    if rt.categories:
        main["categories"] = list(rt.categories)
    main["storageVersionHash"] = storage_version_hash(registry, rt)
    entries = [main]
    for sub in _subresources(rt):
        group, version, kind = _subresource_kind(rt, sub)
        entry: dict[str, Any] = {"name": f"{rt.plural}/{sub}", "singularName": "",
                                 "namespaced": rt.namespaced}
        if (group, version) != (rt.group, rt.version):
            entry["group"] = group
            entry["version"] = version
        entry["kind"] = kind
        entry["verbs"] = list(_SUBRESOURCE_VERBS.get(sub, ("get",)))
        entries.append(entry)
    return entries


def api_resource_list(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    """`/api/v1` or `/apis/{group}/{version}`; None when that group version serves nothing."""
    types = _served(registry, group, version)
    if not types:
        return None
    resources: list[dict[str, Any]] = []
    for rt in types:
        resources.extend(_legacy_resource(registry, rt))
    group_version = f"{group}/{version}" if group else version
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version,
            "resources": resources}


def _aggregated_resource(rt: ResourceType) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resource": rt.plural,
        "responseKind": {"group": rt.group, "version": rt.version, "kind": rt.kind},
        "scope": "Namespaced" if rt.namespaced else "Cluster",
        "singularResource": rt.singular,
        "verbs": list(rt.verbs),
    }
    if rt.short_names:
        resource["shortNames"] = list(rt.short_names)
    if rt.categories:
        resource["categories"] = list(rt.categories)
    subs = []
    for sub in _subresources(rt):
        group, version, kind = _subresource_kind(rt, sub)
        subs.append({"subresource": sub, "responseKind": {"group": group, "version": version, "kind": kind},
                     "verbs": list(_SUBRESOURCE_VERBS.get(sub, ("get",)))})
    if subs:
        resource["subresources"] = subs
    return resource


def _aggregated_group(registry: Registry, group: str) -> dict[str, Any] | None:
    versions = []
    for version in registry.versions_of(group):
        types = _served(registry, group, version)
        if types:
            versions.append({"version": version, "resources": [_aggregated_resource(rt) for rt in types],
                             "freshness": "Current"})
    if not versions:
        return None
    metadata: dict[str, Any] = {"creationTimestamp": None}
    if group:
        metadata["name"] = group
    return {"metadata": metadata, "versions": versions}


def aggregated_discovery(registry: Registry, core: bool, accept_version: str = "v2") -> dict[str, Any]:
    """The aggregated discovery document: for `/api` (core=True, the group named "") or `/apis`.

    Versions within a group come preferred first; that order is how clients learn the preferred
    version, as the aggregated format has no separate field for it.
    """
    if accept_version not in AGGREGATED_VERSIONS:
        raise ValueError(f"unknown aggregated discovery version {accept_version!r}")
    names = [""] if core else registry.groups()
    items = [g for g in (_aggregated_group(registry, name) for name in names) if g is not None]
    return {"kind": AGGREGATED_KIND, "apiVersion": f"{DISCOVERY_GROUP}/{accept_version}",
            "metadata": {}, "items": items}
