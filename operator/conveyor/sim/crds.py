"""CustomResourceDefinitions: what the apiextensions apiserver does when one is written.

A CRD is accepted and Established within the same write (kube does it a moment later in a
controller; clients wait on the condition either way), and its served versions become
`ResourceType`s in the registry. Versions share one storage: objects are stored with the storage
version's apiVersion and relabelled when read at another version (conversion strategy None).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from conveyor.sim import schema
from conveyor.sim.errors import cause
from conveyor.sim.resources import ResourceType

CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def key_of(crd: dict[str, Any]) -> tuple[str, str]:
    spec = crd.get("spec") or {}
    return spec.get("group", ""), (spec.get("names") or {}).get("plural", "")


def is_established(crd: dict[str, Any]) -> bool:
    return any(
        c.get("type") == "Established" and c.get("status") == "True"
        for c in (crd.get("status") or {}).get("conditions") or ()
    )


def _accepted_names(spec: dict[str, Any]) -> dict[str, Any]:
    names = dict(spec.get("names") or {})
    kind = names.get("kind", "")
    names.setdefault("singular", kind.lower())
    names.setdefault("listKind", f"{kind}List")
    return names


def prepare(crd: dict[str, Any]) -> None:
    """Defaults and status for a CRD being created or updated (before validation)."""
    spec = crd.setdefault("spec", {})
    spec.setdefault("conversion", {"strategy": "None"})
    names = spec.setdefault("names", {})
    if names.get("kind"):
        names.setdefault("singular", names["kind"].lower())
        names.setdefault("listKind", f"{names['kind']}List")
    meta = crd.setdefault("metadata", {})
    finalizers = meta.setdefault("finalizers", [])
    if CLEANUP_FINALIZER not in finalizers:
        finalizers.append(CLEANUP_FINALIZER)
    set_status(crd, None)


def set_status(crd: dict[str, Any], old: dict[str, Any] | None) -> None:
    spec = crd.get("spec") or {}
    old_conditions = {c.get("type"): c for c in ((old or {}).get("status") or {}).get("conditions") or ()}
    now = _now()

    def condition(kind: str, reason: str, message: str) -> dict[str, Any]:
        previous = old_conditions.get(kind)
        since = previous["lastTransitionTime"] if previous and previous.get("status") == "True" else now
        return {
            "type": kind,
            "status": "True",
            "lastTransitionTime": since,
            "reason": reason,
            "message": message,
        }

    stored = list(((old or {}).get("status") or {}).get("storedVersions") or ())
    for version in spec.get("versions") or ():
        if version.get("storage") and version.get("name") not in stored:
            stored.append(version["name"])
    crd["status"] = {
        "conditions": [
            condition("NamesAccepted", "NoConflicts", "no conflicts found"),
            condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        ],
        "acceptedNames": _accepted_names(spec),
        "storedVersions": stored,
    }


def validate(crd: dict[str, Any], old: dict[str, Any] | None) -> list[dict[str, str]]:
    """The CRD's own validation (schema.validate_crd) plus the one rule this module relies on."""
    causes: list[dict[str, str]] = []
    causes.extend(schema.validate_crd(crd))
    group, plural = key_of(crd)
    name = (crd.get("metadata") or {}).get("name")
    if (
        plural
        and group
        and name != f"{plural}.{group}"
        and not any(c.get("field") == "metadata.name" for c in causes)
    ):
        causes.append(
            cause("metadata.name", f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group')
        )
    if old is not None and key_of(old) != (group, plural) and group:
        causes.append(cause("spec.group", f'Invalid value: "{group}": field is immutable'))
    return causes


def types_for(crd: dict[str, Any]) -> list[ResourceType]:
    spec = crd["spec"]
    names = _accepted_names(spec)
    out = []
    for version in spec.get("versions") or ():
        if not version.get("served", True):
            continue
        subresources = version.get("subresources") or {}
        out.append(
            ResourceType(
                group=spec["group"],
                version=version["name"],
                kind=names["kind"],
                plural=names["plural"],
                singular=names["singular"],
                namespaced=spec.get("scope", "Namespaced") == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                categories=tuple(names.get("categories") or ()),
                subresources=tuple(s for s in ("status", "scale") if s in subresources),
                crd_version=version,
                crd_spec=spec,
                storage=bool(version.get("storage")),
            )
        )
    return out
