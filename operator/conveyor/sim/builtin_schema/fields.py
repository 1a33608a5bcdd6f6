"""Unknown-field detection for built-in kinds, from the official `kubernetes` client's models.

kubectl sends fieldValidation=Strict by default, so `kubectl apply` of a Pod with `spec.containerz`
must fail with `strict decoding error: unknown field "spec.containerz"`. The client's generated
models (`openapi_types` + `attribute_map`) are the field lists of kube's OpenAPI, so they are the
source of truth here; each model's field table is built once.
"""

from __future__ import annotations

import functools
import re
from typing import Any

from kubernetes import client as k8s

# Kinds whose model name is neither `<Group><Version><Kind>` nor `<Version><Kind>`.
# The convention below finds them too; they are listed so a client upgrade that renames them fails
# loudly in the tests rather than silently accepting every field.
_MODEL_OVERRIDES: dict[tuple[str, str, str], str] = {
    ("", "v1", "Event"): "CoreV1Event",
    ("events.k8s.io", "v1", "Event"): "EventsV1Event",
    ("authentication.k8s.io", "v1", "TokenRequest"): "AuthenticationV1TokenRequest",
    ("storage.k8s.io", "v1", "TokenRequest"): "StorageV1TokenRequest",
}

_LIST = re.compile(r"^list\[(.+)\]$", re.IGNORECASE)
_DICT = re.compile(r"^dict\(str, ?(.+)\)$|^dict\[str, ?(.+)\]$", re.IGNORECASE)
_PRIMITIVES = frozenset({"str", "int", "float", "bool", "datetime", "date", "object", "bytes"})


@functools.cache
def model_for(group: str, version: str, kind: str) -> type | None:
    """The client model class of a kind, or None when the client does not know the kind."""
    name = _MODEL_OVERRIDES.get((group, version, kind))
    candidates = [name] if name else []
    prefix = (group.split(".")[0] if group else "core").capitalize()
    candidates += [f"{prefix}{version.capitalize()}{kind}", f"{version.capitalize()}{kind}"]
    for candidate in candidates:
        model = getattr(k8s, candidate, None)
        if isinstance(model, type) and hasattr(model, "openapi_types"):
            return model
    return None


@functools.cache
def _fields(model_name: str) -> dict[str, str] | None:
    """JSON field name → client type string of one model; None if it is not a model."""
    model = getattr(k8s, model_name, None)
    if model is None or not hasattr(model, "openapi_types"):
        return None
    return {model.attribute_map[attr]: typ for attr, typ in model.openapi_types.items()}


def _walk(type_name: str, value: Any, path: str, out: list[str]) -> None:
    type_name = type_name.strip()
    if type_name in _PRIMITIVES:
        return
    m = _LIST.match(type_name)
    if m:
        if isinstance(value, list):
            for i, item in enumerate(value):
                _walk(m.group(1), item, f"{path}[{i}]", out)
        return
    m = _DICT.match(type_name)
    if m:
        inner = m.group(1) or m.group(2)
        if isinstance(value, dict):
            for key, item in value.items():
                _walk(inner, item, f"{path}[{key}]", out)
        return
    fields = _fields(type_name)
    if fields is None or not isinstance(value, dict):
        return
    for key, item in value.items():
        typ = fields.get(key)
        child = f"{path}.{key}" if path else key
        if typ is None:
            out.append(child)
        elif item is not None:
            _walk(typ, item, child, out)


def unknown_fields(group: str, version: str, kind: str, obj: dict[str, Any]) -> list[str]:
    """Paths in `obj` that the kind's schema does not have, in document order ([] for unknown kinds)."""
    model = model_for(group, version, kind)
    if model is None:
        return []
    out: list[str] = []
    _walk(model.__name__, obj, "", out)
    return out
