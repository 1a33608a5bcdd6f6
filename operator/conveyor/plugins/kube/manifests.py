"""Manifests as the `kubernetes` plugin takes them, and the namespace rule.

Input forms: one YAML or JSON text (several documents allowed), one object, or a list of objects or
texts; `kind: List` objects are expanded. Empty documents are skipped. Every object must name its
apiVersion, kind and metadata.name (no generateName: an apply must be repeatable).

The namespace rule, which keeps a deployment's workflow inside its own namespace even where RBAC is
broader than it should be: namespaced objects go into the target namespace, by default the
deployment's; a manifest that names another namespace is refused, and so is a target namespace
other than the deployment's. A system-wide execution (no deployment) may target any namespace; a
manifest's own namespace is then used when no target is given. Cluster-scoped objects carry no
namespace; whether they may be written is RBAC's decision.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import yaml


class ManifestError(ValueError):
    """Manifests that cannot be applied as given; the message names the object at fault."""


def _documents(text: str) -> Iterator[Any]:
    try:
        yield from yaml.safe_load_all(text)
    except yaml.YAMLError as error:
        raise ManifestError(f"manifests are not valid YAML: {error}") from error


def _flatten(item: Any) -> Iterator[dict[str, Any]]:
    if item is None:
        return
    if isinstance(item, str):
        for document in _documents(item):
            yield from _flatten(document)
        return
    if isinstance(item, list | tuple):
        for element in item:
            yield from _flatten(element)
        return
    if not isinstance(item, dict):
        raise ManifestError(f"a manifest must be a mapping, got {type(item).__name__}: {item!r:.80}")
    if item.get("kind") == "List" and isinstance(item.get("items"), list):
        yield from _flatten(item["items"])
        return
    yield item


def parse_manifests(manifests: Any) -> list[dict[str, Any]]:
    """The objects in `manifests` (see the module docstring), deep-copied, in their order."""
    objects = [copy.deepcopy(obj) for obj in _flatten(manifests)]
    for index, obj in enumerate(objects):
        missing = [field for field in ("apiVersion", "kind") if not isinstance(obj.get(field), str)]
        metadata = obj.get("metadata")
        name = metadata.get("name") if isinstance(metadata, dict) else None
        if not isinstance(name, str) or not name:
            missing.append("metadata.name")
        if missing:
            raise ManifestError(f"manifest #{index + 1} ({obj.get('kind', '?')}) has no {', '.join(missing)}"
                                + (" (generateName cannot be applied repeatably)"
                                   if isinstance(metadata, dict) and metadata.get("generateName") else ""))
    return objects


def manifests_from_config_map(config_map: dict[str, Any], key: str | None) -> list[dict[str, Any]]:
    """The manifests in one key, or, without a key, in every *.yaml/*.yml/*.json key in name order."""
    data: dict[str, str] = config_map.get("data") or {}
    name = (config_map.get("metadata") or {}).get("name", "?")
    if key is not None:
        if key not in data:
            present = ", ".join(sorted(data)) or "none"
            raise ManifestError(f"ConfigMap {name} has no key {key!r} (keys: {present})")
        return parse_manifests(data[key])
    keys = sorted(k for k in data if k.endswith((".yaml", ".yml", ".json")))
    if not keys:
        raise ManifestError(f"ConfigMap {name} has no *.yaml, *.yml or *.json key; name one with `key`")
    return parse_manifests([data[k] for k in keys])


@dataclass(frozen=True)
class NamespacePolicy:
    """`allowed`: the only namespace objects may go to (the deployment's); None for system-wide.
    `default`: where namespaced objects go when neither the call nor the manifest says."""

    allowed: str | None
    default: str

    def target(self, requested: str | None) -> NamespacePolicy:
        """The policy for a call that asked for `requested` (None: the default)."""
        if requested is None or requested == self.default:
            return self
        if self.allowed is not None and requested != self.allowed:
            raise ManifestError(
                f"namespace {requested!r} refused: this deployment's workflows work in its own namespace "
                f"{self.allowed!r} only"
            )
        return NamespacePolicy(self.allowed, requested)

    def namespace_of(self, obj: dict[str, Any], namespaced: bool, explicit: bool) -> str | None:
        """The namespace `obj` goes to; ManifestError when the rule refuses it.

        explicit: the caller named the target namespace (then a manifest may not name another).
        """
        if not namespaced:
            return None
        named = (obj.get("metadata") or {}).get("namespace")
        if not named:
            return self.default
        if named == self.default or (self.allowed is None and not explicit):
            return str(named)
        what = f"{obj['kind']} {obj['metadata']['name']}"
        if self.allowed is not None and named != self.allowed:
            raise ManifestError(
                f"{what} names namespace {named!r}: refused, this deployment's workflows work in its own "
                f"namespace {self.allowed!r} only"
            )
        raise ManifestError(f"{what} names namespace {named!r}, but the target namespace is {self.default!r}")


def describe(obj: dict[str, Any], namespace: str | None) -> str:
    """How logs name an object: `Deployment web (namespace shop)`."""
    where = f" (namespace {namespace})" if namespace else ""
    return f"{obj.get('kind')} {(obj.get('metadata') or {}).get('name')}{where}"


def with_namespace(objects: Iterable[tuple[dict[str, Any], str | None]]) -> list[dict[str, Any]]:
    """Copies of the objects with metadata.namespace set to their target (removed when cluster-scoped)."""
    placed = []
    for obj, namespace in objects:
        copied = copy.deepcopy(obj)
        metadata = copied.setdefault("metadata", {})
        if namespace is None:
            metadata.pop("namespace", None)
        else:
            metadata["namespace"] = namespace
        placed.append(copied)
    return placed
