"""OpenAPI documents (`/openapi/v2`, `/openapi/v3`, `/openapi/v3/{api/v1|apis/g/v}`) for clients.

Who reads them, and what must hold for each (kubectl 1.35, helm 4):
- client-side `kubectl apply` computes a strategic merge patch from the v3 document of the object's
  group version: it needs a PATCH operation tagged with the kind's `x-kubernetes-group-version-kind`
  whose request body accepts `application/strategic-merge-patch+json` (built-ins only; custom
  resources get JSON merge patches), and a components schema tagged with the kind whose `$ref`s
  resolve inside the same document and carry `x-kubernetes-patch-merge-key/-strategy` (containers,
  env, ports, volumes, volumeMounts, conditions...).
- kubectl and helm (`--validate=strict`, their default) look for a `fieldValidation` query
  parameter on that PATCH operation; finding it, they leave validation to the server, otherwise
  they fall back to client-side validation against `/openapi/v2`.
- `kubectl explain` walks the v3 schemas (descriptions, `$ref`/`allOf`), or v2 when asked.
- The v2 document is parsed by gnostic, which rejects keys Swagger 2.0 does not define
  (`oneOf`, `anyOf`, `nullable`...), so v2 schemas are reduced to Swagger's vocabulary.

Built-in schemas come from the JSON schemas of Kubernetes 1.35 shipped by `kubernetes-validate`
(generated from kube's own OpenAPI, patch tags and list types included), converted back to
OpenAPI form; custom resource schemas come from their CRDs. Documents are built lazily and kept
per registry state, since they are large and kubectl asks for them on every apply.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import json
import struct
import threading
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

from conveyor.sim.resources import Registry, ResourceType

T = TypeVar("T")
KUBE_VERSION = "v1.35.0"
_SCHEMA_DIR = f"{KUBE_VERSION}-local"
_META = "io.k8s.apimachinery.pkg.apis.meta.v1"
_V2_REF = "#/definitions/"
_V3_REF = "#/components/schemas/"
# Schema keywords whose values are schemas (or lists/maps of schemas); everything else is data.
_SCHEMA_MAPS = ("properties", "patternProperties", "definitions")
_SCHEMA_LISTS = ("allOf", "anyOf", "oneOf")
_SCHEMA_ONE = ("items", "additionalProperties", "not")
# Swagger 2.0's schema vocabulary: gnostic fails on any other key that is not an `x-` extension.
_V2_KEYS = frozenset({"$ref", "format", "title", "description", "default", "multipleOf", "maximum",
                      "exclusiveMaximum", "minimum", "exclusiveMinimum", "maxLength", "minLength", "pattern",
                      "maxItems", "minItems", "uniqueItems", "maxProperties", "minProperties", "required",
                      "enum", "additionalProperties", "type", "items", "allOf", "properties",
                      "discriminator", "readOnly", "example"})
_PATCH_TYPES_BUILTIN = ("application/apply-patch+yaml", "application/json-patch+json",
                        "application/merge-patch+json", "application/strategic-merge-patch+json")
_PATCH_TYPES_CUSTOM = ("application/apply-patch+yaml", "application/json-patch+json",
                       "application/merge-patch+json")
_SUBRESOURCE_KIND = {"scale": ("autoscaling", "v1", "Scale"),
                     "token": ("authentication.k8s.io", "v1", "TokenRequest")}


class OpenAPISourceMissing(RuntimeError):
    """The built-in schemas (package `kubernetes-validate`) are not installed."""


# ---------------------------------------------------------------------------------------------
# Built-in definitions.
# ---------------------------------------------------------------------------------------------

def _schema_file() -> Path:
    spec = importlib.util.find_spec("kubernetes_validate")
    if spec is None or spec.origin is None:
        raise OpenAPISourceMissing("conveyor.sim needs the `kubernetes-validate` package for built-in "
                                   "OpenAPI schemas")
    base = Path(spec.origin).parent / "kubernetes-json-schema"
    path = base / _SCHEMA_DIR / "_definitions.json"
    if not path.exists():  # fall back to the newest release the package ships
        candidates = sorted(base.glob("v*-local/_definitions.json"))
        if not candidates:
            raise OpenAPISourceMissing(f"no Kubernetes JSON schemas under {base}")
        path = candidates[-1]
    return path


def _to_openapi(schema: Any, *, top_level: bool = False) -> Any:
    """JSON-schema (2020-12, nullable types) back to kube's OpenAPI form, refs as #/definitions/."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "type" and isinstance(value, list):
            types = [t for t in value if t != "null"]
            if len(types) == 1:
                out["type"] = types[0]
        elif key == "$ref" and isinstance(value, str):
            out["$ref"] = _V2_REF + value.rsplit("/", 1)[-1]
        elif key in _SCHEMA_MAPS and isinstance(value, dict):
            props = {k: _to_openapi(v) for k, v in value.items()}
            if key == "properties" and top_level:
                for typemeta in ("apiVersion", "kind"):  # kube publishes no enum for these
                    if isinstance(props.get(typemeta), dict):
                        props[typemeta].pop("enum", None)
            out[key] = props
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [_to_openapi(v) for v in value]
        elif key in _SCHEMA_ONE:
            out[key] = _to_openapi(value)
        else:
            out[key] = value
    return out


@cache
def builtin_definitions() -> dict[str, dict[str, Any]]:
    """Every built-in definition of Kubernetes 1.35 by kube's name (`io.k8s.api.core.v1.Pod`)."""
    raw = json.loads(_schema_file().read_text())["$defs"]
    defs = {name: _to_openapi(schema, top_level=True) for name, schema in raw.items()}
    # kube publishes these two as strings; clients special-case them by format.
    defs["io.k8s.apimachinery.pkg.util.intstr.IntOrString"] = {
        "description": "IntOrString is a type that can hold an int32 or a string.",
        "type": "string", "format": "int-or-string"}
    defs["io.k8s.apimachinery.pkg.api.resource.Quantity"] = {
        "description": "Quantity is a fixed-point representation of a number, such as `100m` or `1Gi`.",
        "type": "string"}
    return defs


@cache
def _builtin_gvk_index() -> dict[tuple[str, str, str], str]:
    index: dict[tuple[str, str, str], str] = {}
    for name, schema in builtin_definitions().items():
        gvks = schema.get("x-kubernetes-group-version-kind") or []
        if len(gvks) == 1:  # kinds; shared types (DeleteOptions, WatchEvent) list many
            g = gvks[0]
            index[(g.get("group", ""), g.get("version", ""), g.get("kind", ""))] = name
    return index


def warm_builtin_definitions() -> None:
    """Load and index the built-in definitions now. The server runs this in an executor at start,
    so the first request that needs them (kubectl's first apply or explain) does not hold the event
    loop while a few megabytes of JSON are read and converted."""
    _builtin_gvk_index()


# ---------------------------------------------------------------------------------------------
# Custom resource definitions.
# ---------------------------------------------------------------------------------------------

def definition_name(rt: ResourceType) -> str:
    """kube's name for a kind's schema; CRDs get their group reversed (`dev.conveyor.v1.Execution`)."""
    if not rt.is_custom:
        found = _builtin_gvk_index().get((rt.group, rt.version, rt.kind))
        if found:
            return found
    prefix = ".".join(reversed(rt.group.split("."))) if rt.group else "core"
    return f"{prefix}.{rt.version}.{rt.kind}"


def _gvk(group: str, version: str, kind: str) -> dict[str, str]:
    return {"group": group, "kind": kind, "version": version}


def _custom_definitions(rt: ResourceType) -> dict[str, dict[str, Any]]:
    schema = copy.deepcopy(rt.schema) if rt.schema else {"type": "object",
                                                          "x-kubernetes-preserve-unknown-fields": True}
    schema = _to_openapi(schema)
    schema.setdefault("type", "object")
    props = schema.setdefault("properties", {})
    props["apiVersion"] = {"description": "APIVersion defines the versioned schema of this representation "
                           "of an object.", "type": "string"}
    props["kind"] = {"description": "Kind is a string value representing the REST resource this object "
                     "represents.", "type": "string"}
    props["metadata"] = {"$ref": f"{_V2_REF}{_META}.ObjectMeta",
                         "description": "Standard object's metadata."}
    schema["x-kubernetes-group-version-kind"] = [_gvk(rt.group, rt.version, rt.kind)]
    name = definition_name(rt)
    list_schema = {
        "description": f"{rt.kind}List is a list of {rt.kind}",
        "type": "object", "required": ["items"],
        "properties": {
            "apiVersion": props["apiVersion"], "kind": props["kind"],
            "items": {"description": f"List of {rt.plural}.", "type": "array",
                      "items": {"$ref": _V2_REF + name}},
            "metadata": {"$ref": f"{_V2_REF}{_META}.ListMeta", "description": "Standard list metadata."},
        },
        "x-kubernetes-group-version-kind": [_gvk(rt.group, rt.version, rt.list_kind)],
    }
    return {name: schema, name + "List": list_schema}


# ---------------------------------------------------------------------------------------------
# Assembling documents.
# ---------------------------------------------------------------------------------------------

def _refs(schema: Any) -> Iterable[str]:
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "$ref" and isinstance(value, str):
                yield value.rsplit("/", 1)[-1]
            else:
                yield from _refs(value)
    elif isinstance(schema, list):
        for item in schema:
            yield from _refs(item)


def _closure(roots: Iterable[str], defs: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The named definitions and everything they reference, so every `$ref` resolves locally."""
    out: dict[str, dict[str, Any]] = {}
    todo = [r for r in roots if r in defs]
    while todo:
        name = todo.pop()
        if name in out:
            continue
        out[name] = defs[name]
        todo.extend(r for r in _refs(defs[name]) if r in defs and r not in out)
    return dict(sorted(out.items()))


_COMMON = tuple(f"{_META}.{n}" for n in ("Status", "DeleteOptions", "Patch", "WatchEvent", "APIResourceList"))


def _all_definitions(types: list[ResourceType]) -> dict[str, dict[str, Any]]:
    defs = dict(builtin_definitions())
    for rt in types:
        if rt.is_custom:
            defs.update(_custom_definitions(rt))
    return defs


def _roots(types: Iterable[ResourceType]) -> list[str]:
    index = _builtin_gvk_index()
    roots = list(_COMMON)
    for rt in types:
        roots.append(definition_name(rt))
        if rt.is_custom:
            roots.append(definition_name(rt) + "List")
        elif (rt.group, rt.version, rt.list_kind) in index:
            roots.append(index[(rt.group, rt.version, rt.list_kind)])
        for sub in rt.subresources:
            if sub in _SUBRESOURCE_KIND and _SUBRESOURCE_KIND[sub] in index:
                roots.append(index[_SUBRESOURCE_KIND[sub]])
    return roots


# Paths and operations: enough for clients to find a kind's operations, patch types and query
# parameters; responses name the schemas.

_PARAM_DOCS = {
    "dryRun": "When present, indicates that modifications should not be persisted.",
    "fieldManager": "fieldManager is a name associated with the actor or entity that is making these "
                    "changes.",
    "fieldValidation": "fieldValidation instructs the server on how to handle objects in the request "
                       "containing unknown or duplicate fields. Valid values are: Ignore, Warn, Strict.",
    "force": "Force is going to \"force\" Apply requests.",
    "pretty": "If 'true', then the output is pretty printed.",
    "labelSelector": "A selector to restrict the list of returned objects by their labels.",
    "fieldSelector": "A selector to restrict the list of returned objects by their fields.",
    "limit": "limit is a maximum number of responses to return for a list call.",
    "continue": "The continue option should be set when retrieving more results from the server.",
    "resourceVersion": "resourceVersion sets a constraint on what resource versions a request may be "
                       "served from.",
    "watch": "Watch for changes to the described resources.",
    "gracePeriodSeconds": "The duration in seconds before the object should be deleted.",
    "propagationPolicy": "Whether and how garbage collection will be performed.",
}
_PARAM_TYPES = {"force": "boolean", "watch": "boolean", "limit": "integer", "gracePeriodSeconds": "integer"}
_OP_QUERY = {
    "list": ("labelSelector", "fieldSelector", "limit", "continue", "resourceVersion", "watch"),
    "create": ("dryRun", "fieldManager", "fieldValidation"),
    "update": ("dryRun", "fieldManager", "fieldValidation"),
    "patch": ("dryRun", "fieldManager", "fieldValidation", "force"),
    "delete": ("dryRun", "gracePeriodSeconds", "propagationPolicy"),
    "deletecollection": ("dryRun", "gracePeriodSeconds", "propagationPolicy", "labelSelector",
                         "fieldSelector"),
    "get": (),
}


class _Target:
    """The differences between Swagger 2.0 and OpenAPI 3.0 output, in one place."""

    def __init__(self, v3: bool) -> None:
        self.v3 = v3
        self.prefix = _V3_REF if v3 else _V2_REF

    def ref(self, name: str) -> dict[str, str]:
        return {"$ref": self.prefix + name}

    def param(self, name: str, where: str, required: bool = False) -> dict[str, Any]:
        ptype = "string" if where == "path" else _PARAM_TYPES.get(name, "string")
        out: dict[str, Any] = {"name": name, "in": where, "description": _PARAM_DOCS.get(name, name)}
        if required:
            out["required"] = True
        if self.v3:
            out["schema"] = {"type": ptype, "uniqueItems": True}
        else:
            out.update(type=ptype, uniqueItems=True)
        return out

    def operation(self, op_id: str, action: str, gvk: dict[str, str], response: str,
                  body: tuple[str, tuple[str, ...]] | None, tag: str) -> dict[str, Any]:
        op: dict[str, Any] = {"tags": [tag], "description": f"{action} {gvk['kind']}", "operationId": op_id}
        params = [self.param(q, "query") for q in _OP_QUERY[action]]
        if self.v3:
            if params:
                op["parameters"] = params
            if body is not None:
                schema_name, types = body
                op["requestBody"] = {"content": {t: {"schema": self.ref(schema_name)} for t in types},
                                     "required": True}
            op["responses"] = {"200": {"description": "OK", "content": {
                t: {"schema": self.ref(response)} for t in ("application/json", "application/yaml")}},
                "401": {"description": "Unauthorized"}}
        else:
            if body is not None:
                schema_name, types = body
                op["consumes"] = list(types)
                params.insert(0, {"name": "body", "in": "body", "required": True,
                                  "schema": self.ref(schema_name)})
            else:
                op["consumes"] = ["*/*"]
            op["produces"] = ["application/json", "application/yaml"]
            op["schemes"] = ["https"]
            if params:
                op["parameters"] = params
            op["responses"] = {"200": {"description": "OK", "schema": self.ref(response)},
                               "401": {"description": "Unauthorized"}}
        op["x-kubernetes-action"] = action
        op["x-kubernetes-group-version-kind"] = gvk
        return op

    def path_params(self, names: Iterable[str]) -> list[dict[str, Any]]:
        return [self.param(n, "path", required=True) for n in names] + [self.param("pretty", "query")]


def _op_id(verb: str, rt: ResourceType, suffix: str = "", all_namespaces: bool = False) -> str:
    group = "".join(p.capitalize() for p in rt.group.replace("-", ".").split(".")[:1]) or "Core"
    scope = "Namespaced" if rt.namespaced and not all_namespaces else ""
    if all_namespaces:
        suffix += "ForAllNamespaces"
    return f"{verb}{group}{rt.version.capitalize()}{scope}{rt.kind}{suffix}"


def _paths(types: list[ResourceType], target: _Target) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for rt in sorted(types, key=lambda t: t.plural):
        root = f"/apis/{rt.group}/{rt.version}" if rt.group else f"/api/{rt.version}"
        tag = f"{rt.group or 'core'}_{rt.version}"
        gvk = _gvk(rt.group, rt.version, rt.kind)
        kind_def = definition_name(rt)
        list_def = kind_def + "List" if rt.is_custom else _builtin_gvk_index().get(
            (rt.group, rt.version, rt.list_kind), f"{_META}.Status")
        patch_types = _PATCH_TYPES_CUSTOM if rt.is_custom else _PATCH_TYPES_BUILTIN
        write = (kind_def, ("application/json", "application/yaml"))
        patch = (f"{_META}.Patch", patch_types)
        scope = ["namespace"] if rt.namespaced else []
        base = f"{root}/namespaces/{{namespace}}/{rt.plural}" if rt.namespaced else f"{root}/{rt.plural}"
        verbs = set(rt.verbs)

        collection: dict[str, Any] = {}
        if "list" in verbs:
            collection["get"] = target.operation(_op_id("list", rt), "list", gvk, list_def, None, tag)
        if "create" in verbs:
            collection["post"] = target.operation(_op_id("create", rt), "create", gvk, kind_def, write, tag)
        if "deletecollection" in verbs:
            collection["delete"] = target.operation(_op_id("deletecollection", rt, "Collection"),
                                                    "deletecollection", gvk, f"{_META}.Status", None, tag)
        if collection:
            collection["parameters"] = target.path_params(scope)
            paths[base] = collection

        item: dict[str, Any] = {}
        if "get" in verbs:
            item["get"] = target.operation(_op_id("read", rt), "get", gvk, kind_def, None, tag)
        if "update" in verbs:
            item["put"] = target.operation(_op_id("replace", rt), "update", gvk, kind_def, write, tag)
        if "patch" in verbs:
            item["patch"] = target.operation(_op_id("patch", rt), "patch", gvk, kind_def, patch, tag)
        if "delete" in verbs:
            item["delete"] = target.operation(_op_id("delete", rt), "delete", gvk, f"{_META}.Status", None,
                                              tag)
        if item:
            item["parameters"] = target.path_params([*scope, "name"])
            paths[f"{base}/{{name}}"] = item

        for sub in rt.subresources:
            sub_gvk, sub_def = gvk, kind_def
            if sub in _SUBRESOURCE_KIND:
                sub_gvk = _gvk(*_SUBRESOURCE_KIND[sub])
                sub_def = _builtin_gvk_index().get(_SUBRESOURCE_KIND[sub], kind_def)
            suffix = sub.capitalize()
            ops: dict[str, Any]
            if sub in ("status", "scale"):
                sub_write = (sub_def, ("application/json", "application/yaml"))
                ops = {"get": target.operation(_op_id("read", rt, suffix), "get", sub_gvk, sub_def, None,
                                               tag),
                       "put": target.operation(_op_id("replace", rt, suffix), "update", sub_gvk, sub_def,
                                               sub_write, tag),
                       "patch": target.operation(_op_id("patch", rt, suffix), "patch", sub_gvk, sub_def,
                                                 patch, tag)}
            elif sub == "token":
                ops = {"post": target.operation(_op_id("create", rt, suffix), "create", sub_gvk, sub_def,
                                                (sub_def, ("application/json", "application/yaml")), tag)}
            else:
                ops = {"get": target.operation(_op_id("read", rt, suffix), "get", sub_gvk, kind_def, None,
                                               tag)}
            ops["parameters"] = target.path_params([*scope, "name"])
            paths[f"{base}/{{name}}/{sub}"] = ops

        if rt.namespaced and "list" in verbs:
            paths[f"{root}/{rt.plural}"] = {
                "get": target.operation(_op_id("list", rt, all_namespaces=True), "list", gvk, list_def, None,
                                        tag),
                "parameters": target.path_params([])}
    return dict(sorted(paths.items()))


def _v2_schema(schema: Any) -> Any:
    """A schema reduced to Swagger 2.0's vocabulary (see the module docstring)."""
    if isinstance(schema, list):
        return [_v2_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key not in _V2_KEYS and not key.startswith("x-"):
            continue
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {k: _v2_schema(v) for k, v in value.items()}
        elif key in ("allOf",):
            out[key] = [_v2_schema(v) for v in value]
        elif key in _SCHEMA_ONE and isinstance(value, dict):
            out[key] = _v2_schema(value)
        else:
            out[key] = value
    return out


def _v3_schema(schema: Any) -> Any:
    """kube's v3 form: refs under #/components/schemas/, and a `$ref` that has siblings (a
    description) wrapped in `allOf`, since OpenAPI 3.0 ignores siblings of `$ref`."""
    if isinstance(schema, list):
        return [_v3_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "$ref":
            continue
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {k: _v3_schema(v) for k, v in value.items()}
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [_v3_schema(v) for v in value]
        elif key in _SCHEMA_ONE and isinstance(value, dict):
            out[key] = _v3_schema(value)
        else:
            out[key] = value
    ref = schema.get("$ref")
    if isinstance(ref, str):
        target = {"$ref": _V3_REF + ref.rsplit("/", 1)[-1]}
        if not out:
            return target
        out["allOf"] = [target]
    return out


_BEARER = {"type": "apiKey", "name": "authorization", "in": "header",
           "description": "Bearer Token authentication"}


def _info() -> dict[str, str]:
    return {"title": "Kubernetes", "version": KUBE_VERSION}


def _build_v2(types: list[ResourceType]) -> dict[str, Any]:
    defs = _all_definitions(types)
    chosen = _closure(_roots(types), defs)
    return {"swagger": "2.0", "info": _info(), "paths": _paths(types, _Target(v3=False)),
            "definitions": {name: _v2_schema(s) for name, s in chosen.items()},
            "securityDefinitions": {"BearerToken": _BEARER},
            "security": [{"BearerToken": []}]}


def _build_v3(gv_types: list[ResourceType]) -> dict[str, Any]:
    defs = _all_definitions(gv_types)
    chosen = _closure(_roots(gv_types), defs)
    return {"openapi": "3.0.0", "info": _info(), "paths": _paths(gv_types, _Target(v3=True)),
            "components": {"schemas": {name: _v3_schema(s) for name, s in chosen.items()},
                           "securitySchemes": {"BearerToken": _BEARER}}}


# ---------------------------------------------------------------------------------------------
# Caching per registry state.
# ---------------------------------------------------------------------------------------------

def _served(registry: Registry) -> list[ResourceType]:
    return sorted((rt for rt in registry.all() if rt.served),
                  key=lambda rt: (rt.group, rt.version, rt.plural))


def _fingerprint(types: Iterable[ResourceType]) -> str:
    """Changes whenever a document could: any served type, or a CRD version's schema, changes."""
    h = hashlib.sha512(_SCHEMA_DIR.encode())
    for rt in types:
        h.update(json.dumps([rt.group, rt.version, rt.kind, rt.plural, rt.namespaced, list(rt.verbs),
                             list(rt.subresources), rt.crd_version], sort_keys=True, default=str).encode())
    return h.hexdigest().upper()


def gv_path(group: str, version: str) -> str:
    """The key of a group version in the /openapi/v3 index: `api/v1` or `apis/apps/v1`."""
    return f"apis/{group}/{version}" if group else f"api/{version}"


class _Cache:
    """Built documents for the latest registry states; a CRD change yields a new fingerprint, so
    old entries are never wrong, only unused, and the oldest are dropped."""

    def __init__(self, keep: int = 64) -> None:
        self._lock = threading.Lock()
        self._keep = keep
        self._docs: dict[tuple[str, ...], Any] = {}

    def get(self, key: tuple[str, ...], build: Callable[[], T]) -> T:
        with self._lock:
            if key in self._docs:
                return self._docs[key]
        value = build()  # outside the lock: a duplicate build is harmless, a blocked reader is not
        with self._lock:
            self._docs[key] = value
            while len(self._docs) > self._keep:
                self._docs.pop(next(iter(self._docs)))
        return value


_cache = _Cache()


def openapi_v2(registry: Registry) -> dict[str, Any]:
    """`/openapi/v2` as JSON (kubectl asks for protobuf first and accepts JSON)."""
    types = _served(registry)
    return _cache.get(("v2", _fingerprint(types)), lambda: _build_v2(types))


def openapi_v3_paths(registry: Registry) -> dict[str, Any]:
    """`/openapi/v3`: one entry per served group version, with a hash that changes with its content
    (clients cache a document by that URL for good)."""
    types = _served(registry)
    groups: dict[tuple[str, str], list[ResourceType]] = {}
    for rt in types:
        groups.setdefault((rt.group, rt.version), []).append(rt)
    paths = {}
    for (group, version), gv_types in sorted(groups.items()):
        digest = _fingerprint(gv_types)
        paths[gv_path(group, version)] = {
            "serverRelativeURL": f"/openapi/v3/{gv_path(group, version)}?hash={digest}"}
    return {"paths": paths}


def openapi_v3_document(registry: Registry, group: str, version: str) -> dict[str, Any] | None:
    """`/openapi/v3/api/v1` or `/openapi/v3/apis/{group}/{version}`; None for an unknown group version."""
    types = _served(registry)
    gv_types = [rt for rt in types if rt.group == group and rt.version == version]
    if not gv_types:
        return None
    # Built-in schemas do not depend on CRDs; custom ones only on their own group version.
    return _cache.get(("v3", group, version, _fingerprint(gv_types)), lambda: _build_v3(gv_types))


def openapi_v3_hash(registry: Registry, group: str, version: str) -> str | None:
    """The hash the index advertises for a group version (for the server's ETag)."""
    gv = [rt for rt in _served(registry) if rt.group == group and rt.version == version]
    return _fingerprint(gv) if gv else None


# ---------------------------------------------------------------------------------------------
# /openapi/v2 as protobuf. kubectl and client-go ask for v2 only in gnostic's protobuf encoding
# (Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf) and cannot read JSON
# there; they need it for client-side validation (kind: List manifests, kinds the v3 documents do
# not know) and `kubectl explain --output=plaintext-openapiv2`. The encoder below writes the
# subset of gnostic's openapi.v2.Document that the JSON document above uses; field numbers are
# those of gnostic's OpenAPIv2.proto. Extension, enum and default values travel as YAML text
# (JSON is YAML), as gnostic stores them.
# ---------------------------------------------------------------------------------------------

# What clients put in Accept (either spelling), and what the server must answer in Content-Type:
# Go's mime parser, which client-go runs on every response, rejects the `@` spelling.
OPENAPI_V2_PROTOBUF_ACCEPT = ("application/com.github.proto-openapi.spec.v2@v1.0+protobuf",
                              "application/com.github.proto-openapi.spec.v2.v1.0+protobuf")
OPENAPI_V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"


def wants_protobuf_v2(accept_header: str | None) -> bool:
    """Whether an Accept header on /openapi/v2 asks for the protobuf encoding."""
    return any(t in (accept_header or "") for t in OPENAPI_V2_PROTOBUF_ACCEPT)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


class _Msg:
    """A protobuf message being written; proto3 defaults (empty, zero, false) are left out."""

    def __init__(self) -> None:
        self.buf = bytearray()

    def bytes_(self, field: int, data: bytes) -> _Msg:
        self.buf += _varint(field << 3 | 2) + _varint(len(data)) + data
        return self

    def msg(self, field: int, message: _Msg) -> _Msg:
        return self.bytes_(field, bytes(message.buf))

    def str_(self, field: int, value: Any) -> _Msg:
        if isinstance(value, str) and value:
            self.bytes_(field, value.encode())
        return self

    def strs(self, field: int, values: Any) -> _Msg:
        for value in values or ():
            self.bytes_(field, str(value).encode())
        return self

    def bool_(self, field: int, value: Any) -> _Msg:
        if value is True:
            self.buf += _varint(field << 3) + b"\x01"
        return self

    def oneof_bool(self, field: int, value: bool) -> _Msg:
        """A bool inside a oneof is written even when false: its presence is the information."""
        self.buf += _varint(field << 3) + (b"\x01" if value else b"\x00")
        return self

    def int_(self, field: int, value: Any) -> _Msg:
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            self.buf += _varint(field << 3) + _varint(value)
        return self

    def double(self, field: int, value: Any) -> _Msg:
        if isinstance(value, int | float) and not isinstance(value, bool) and value:
            self.buf += _varint(field << 3 | 1) + struct.pack("<d", float(value))
        return self


def _pb_any(value: Any) -> _Msg:
    return _Msg().str_(2, json.dumps(value))  # Any.yaml


def _pb_extensions(msg: _Msg, field: int, obj: dict[str, Any]) -> None:
    for key, value in obj.items():
        if key.startswith("x-"):
            msg.msg(field, _Msg().str_(1, key).msg(2, _pb_any(value)))  # NamedAny


def _pb_schema(schema: dict[str, Any]) -> _Msg:
    m = _Msg()
    m.str_(1, schema.get("$ref")).str_(2, schema.get("format")).str_(3, schema.get("title"))
    m.str_(4, schema.get("description"))
    if "default" in schema:
        m.msg(5, _pb_any(schema["default"]))
    m.double(6, schema.get("multipleOf")).double(7, schema.get("maximum"))
    m.bool_(8, schema.get("exclusiveMaximum")).double(9, schema.get("minimum"))
    m.bool_(10, schema.get("exclusiveMinimum")).int_(11, schema.get("maxLength"))
    m.int_(12, schema.get("minLength")).str_(13, schema.get("pattern")).int_(14, schema.get("maxItems"))
    m.int_(15, schema.get("minItems")).bool_(16, schema.get("uniqueItems"))
    m.int_(17, schema.get("maxProperties")).int_(18, schema.get("minProperties"))
    m.strs(19, schema.get("required"))
    for value in schema.get("enum") or ():
        m.msg(20, _pb_any(value))
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        m.msg(21, _Msg().msg(1, _pb_schema(extra)))
    elif isinstance(extra, bool):
        m.msg(21, _Msg().oneof_bool(2, extra))
    if schema.get("type"):
        m.msg(22, _Msg().strs(1, [schema["type"]] if isinstance(schema["type"], str) else schema["type"]))
    items = schema.get("items")
    if isinstance(items, dict):
        m.msg(23, _Msg().msg(1, _pb_schema(items)))
    for sub in schema.get("allOf") or ():
        m.msg(24, _pb_schema(sub))
    if isinstance(schema.get("properties"), dict):
        props = _Msg()
        for name, sub in schema["properties"].items():
            props.msg(1, _Msg().str_(1, name).msg(2, _pb_schema(sub)))
        m.msg(25, props)
    m.bool_(27, schema.get("readOnly"))
    _pb_extensions(m, 31, schema)
    return m


def _pb_parameter(param: dict[str, Any]) -> _Msg:
    """A ParametersItem: body parameters carry a schema, query and path ones a type."""
    if param.get("in") == "body":
        body = _Msg().str_(1, param.get("description")).str_(2, param.get("name")).str_(3, "body")
        body.bool_(4, param.get("required")).msg(5, _pb_schema(param.get("schema") or {}))
        return _Msg().msg(1, _Msg().msg(1, body))
    sub = _Msg().bool_(1, param.get("required")).str_(2, param.get("in")).str_(3, param.get("description"))
    sub.str_(4, param.get("name"))
    if param.get("in") == "path":
        sub.str_(5, param.get("type")).bool_(19, param.get("uniqueItems"))
        non_body = _Msg().msg(4, sub)
    else:
        sub.str_(6, param.get("type")).bool_(20, param.get("uniqueItems"))
        non_body = _Msg().msg(3, sub)
    return _Msg().msg(1, _Msg().msg(2, non_body))


def _pb_operation(op: dict[str, Any]) -> _Msg:
    m = _Msg().strs(1, op.get("tags")).str_(3, op.get("description")).str_(5, op.get("operationId"))
    m.strs(6, op.get("produces")).strs(7, op.get("consumes"))
    for param in op.get("parameters") or ():
        m.msg(8, _pb_parameter(param))
    responses = _Msg()
    for code, response in (op.get("responses") or {}).items():
        resp = _Msg().str_(1, response.get("description"))
        if isinstance(response.get("schema"), dict):
            resp.msg(2, _Msg().msg(1, _pb_schema(response["schema"])))
        responses.msg(1, _Msg().str_(1, code).msg(2, _Msg().msg(1, resp)))
    m.msg(9, responses).strs(10, op.get("schemes"))
    _pb_extensions(m, 13, op)
    return m


_PB_METHODS = {"get": 2, "put": 3, "post": 4, "delete": 5, "options": 6, "head": 7, "patch": 8}


def encode_openapi_v2(doc: dict[str, Any]) -> bytes:
    """gnostic's protobuf encoding of a Swagger 2.0 document built by `openapi_v2`."""
    m = _Msg().str_(1, doc.get("swagger"))
    info = doc.get("info") or {}
    m.msg(2, _Msg().str_(1, info.get("title")).str_(2, info.get("version")))
    paths = _Msg()
    for path, item in (doc.get("paths") or {}).items():
        pi = _Msg()
        for method, field in _PB_METHODS.items():
            if method in item:
                pi.msg(field, _pb_operation(item[method]))
        for param in item.get("parameters") or ():
            pi.msg(9, _pb_parameter(param))
        paths.msg(2, _Msg().str_(1, path).msg(2, pi))
    m.msg(8, paths)
    definitions = _Msg()
    for name, schema in (doc.get("definitions") or {}).items():
        definitions.msg(1, _Msg().str_(1, name).msg(2, _pb_schema(schema)))
    m.msg(9, definitions)
    for requirement in doc.get("security") or ():
        req = _Msg()
        for name, scopes in requirement.items():
            req.msg(1, _Msg().str_(1, name).msg(2, _Msg().strs(1, scopes)))
        m.msg(12, req)
    security = _Msg()
    for name, scheme in (doc.get("securityDefinitions") or {}).items():
        api_key = _Msg().str_(1, scheme.get("type")).str_(2, scheme.get("name")).str_(3, scheme.get("in"))
        api_key.str_(4, scheme.get("description"))
        security.msg(1, _Msg().str_(1, name).msg(2, _Msg().msg(2, api_key)))
    m.msg(13, security)
    return bytes(m.buf)


def openapi_v2_protobuf(registry: Registry) -> bytes:
    """`/openapi/v2` for clients whose Accept names OPENAPI_V2_PROTOBUF (kubectl, client-go)."""
    types = _served(registry)
    key = ("v2pb", _fingerprint(types))
    return _cache.get(key, lambda: encode_openapi_v2(openapi_v2(registry)))
