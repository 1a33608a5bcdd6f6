"""Validation and defaulting of CustomResourceDefinition objects (apiextensions.k8s.io/v1).

Covers what decides whether a CRD can be served: its name, names, scope, versions, that each schema
is structural, printer columns and subresources. Paths and messages follow
apiextensions-apiserver's validation, since `kubectl apply -f crd.yaml` prints them verbatim.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from conveyor.sim.schema import field_errors as fe
from conveyor.sim.schema import names

Causes = list[dict[str, str]]

_SCOPES = ("Cluster", "Namespaced")
_COLUMN_TYPES = ("boolean", "date", "integer", "number", "string")
_COLUMN_FORMATS = ("byte", "date", "date-time", "double", "float", "int32", "int64", "password")
_SIMPLE_JSON_PATH = re.compile(r"(\.[A-Za-z0-9_$-]+|\[\d+\]|\['[^']*'\]|\[\"[^\"]*\"\])+")
# Keywords a value validation (inside anyOf/allOf/oneOf/not) must leave to the structural part.
_STRUCTURAL_ONLY = ("type", "nullable", "default", "additionalProperties",
                    "x-kubernetes-preserve-unknown-fields", "x-kubernetes-embedded-resource",
                    "x-kubernetes-int-or-string")


def apply_crd_defaults(crd: dict[str, Any]) -> None:
    """The defaults apiextensions.k8s.io/v1 applies to a CRD on create and update."""
    spec = crd.setdefault("spec", {})
    names_ = spec.setdefault("names", {})
    kind = names_.get("kind") or ""
    if kind and not names_.get("singular"):
        names_["singular"] = kind.lower()
    if kind and not names_.get("listKind"):
        names_["listKind"] = kind + "List"
    conversion = spec.setdefault("conversion", {})
    conversion.setdefault("strategy", "None")
    if conversion["strategy"] == "Webhook":
        service = ((conversion.get("webhook") or {}).get("clientConfig") or {}).get("service")
        if isinstance(service, dict):
            service.setdefault("port", 443)


def _structural(schema: Any, path: str, level: str, causes: Causes) -> None:
    """Structural-schema rules for one node: a type everywhere, items for arrays, no mixing."""
    if not isinstance(schema, dict):
        causes.append(fe.invalid(path, fe.OMIT, "must be an object"))
        return
    typ = schema.get("type") or ""
    preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
    int_or_string = bool(schema.get("x-kubernetes-int-or-string"))
    if "$ref" in schema:
        causes.append(fe.forbidden(fe.child(path, "$ref"), "$ref is not supported"))
    if schema.get("x-kubernetes-embedded-resource") and typ != "object":
        if typ:
            causes.append(fe.invalid(fe.child(path, "type"), typ,
                                     "must be object if x-kubernetes-embedded-resource is true"))
        else:
            causes.append(fe.required(fe.child(path, "type"),
                                      "must be object if x-kubernetes-embedded-resource is true"))
    elif not typ and not preserve and not int_or_string:
        detail = {"root": "must not be empty at the root",
                  "item": "must not be empty for specified array items",
                  "field": "must not be empty for specified object fields"}[level]
        causes.append(fe.required(fe.child(path, "type"), detail))
    if level == "root" and typ and typ != "object":
        causes.append(fe.invalid(fe.child(path, "type"), typ, "must be object at the root"))
    if typ and typ not in ("object", "array", "string", "integer", "number", "boolean"):
        causes.append(fe.not_supported(fe.child(path, "type"), typ,
                                       ["array", "boolean", "integer", "number", "object", "string"]))
    if int_or_string and typ:
        causes.append(fe.forbidden(fe.child(path, "type"),
                                   "must be empty if x-kubernetes-int-or-string is true"))
    if schema.get("uniqueItems") is True:
        causes.append(fe.forbidden(fe.child(path, "uniqueItems"),
                                   "uniqueItems cannot be set to true since the runtime complexity becomes "
                                   "quadratic"))
    if "additionalProperties" in schema and "properties" in schema:
        causes.append(fe.forbidden(fe.child(path, "additionalProperties"),
                                   "additionalProperties and properties are mutual exclusive"))
    if schema.get("additionalProperties") is False:
        causes.append(fe.forbidden(fe.child(path, "additionalProperties"), "must not be false"))
    if typ == "array" and not isinstance(schema.get("items"), dict):
        causes.append(fe.required(fe.child(path, "items"), "must be specified"))
    pattern = schema.get("pattern")
    if isinstance(pattern, str):
        try:
            re.compile(pattern)
        except re.error as exc:
            causes.append(fe.invalid(fe.child(path, "pattern"), pattern,
                                     f"must be a valid regular expression, but isn't: {exc}"))
    list_type = schema.get("x-kubernetes-list-type")
    if list_type is not None:
        if list_type not in ("atomic", "set", "map"):
            causes.append(fe.not_supported(fe.child(path, "x-kubernetes-list-type"), list_type,
                                           ["atomic", "set", "map"]))
        if typ != "array":
            causes.append(fe.invalid(fe.child(path, "x-kubernetes-list-type"), list_type,
                                     "must only be used if type == array"))
        if list_type == "map" and not schema.get("x-kubernetes-list-map-keys"):
            causes.append(fe.required(fe.child(path, "x-kubernetes-list-map-keys"),
                                      "must not be empty if x-kubernetes-list-type is map"))
    for i, rule in enumerate(schema.get("x-kubernetes-validations") or ()):
        if not isinstance(rule, dict) or not rule.get("rule"):
            causes.append(fe.required(fe.index(fe.child(path, "x-kubernetes-validations"), i) + ".rule", ""))
    if level == "root":
        _root_metadata(schema, path, causes)
    for key, sub in (schema.get("properties") or {}).items():
        _structural(sub, f"{path}.properties[{key}]", "field", causes)
    if isinstance(schema.get("additionalProperties"), dict):
        _structural(schema["additionalProperties"], f"{path}.additionalProperties", "field", causes)
    if isinstance(schema.get("items"), dict):
        _structural(schema["items"], f"{path}.items", "item", causes)
    for keyword in ("allOf", "anyOf", "oneOf"):
        for i, sub in enumerate(schema.get(keyword) or ()):
            _value_validation(sub, f"{path}.{keyword}[{i}]", causes)
    if isinstance(schema.get("not"), dict):
        _value_validation(schema["not"], f"{path}.not", causes)


def _value_validation(schema: Any, path: str, causes: Causes) -> None:
    if not isinstance(schema, dict):
        return
    for keyword in _STRUCTURAL_ONLY:
        if keyword in schema:
            causes.append(fe.forbidden(fe.child(path, keyword), "must be empty to be structural"))
    for key, sub in (schema.get("properties") or {}).items():
        _value_validation(sub, f"{path}.properties[{key}]", causes)
    if isinstance(schema.get("items"), dict):
        _value_validation(schema["items"], f"{path}.items", causes)
    for keyword in ("allOf", "anyOf", "oneOf"):
        for i, sub in enumerate(schema.get(keyword) or ()):
            _value_validation(sub, f"{path}.{keyword}[{i}]", causes)


def _root_metadata(schema: dict[str, Any], path: str, causes: Causes) -> None:
    props = schema.get("properties") or {}
    for name in ("apiVersion", "kind"):
        sub = props.get(name)
        if isinstance(sub, dict) and sub.get("type") != "string":
            causes.append(fe.invalid(f"{path}.properties[{name}].type", sub.get("type", ""),
                                     "must be string"))
    meta = props.get("metadata")
    if isinstance(meta, dict):
        if meta.get("type") != "object":
            causes.append(fe.invalid(f"{path}.properties[metadata].type", meta.get("type", ""),
                                     "must be object"))
        extra = set(meta) - {"type", "properties", "description"}
        extra_props = set(meta.get("properties") or {}) - {"name", "generateName"}
        if extra or extra_props:
            causes.append(fe.forbidden(f"{path}.properties[metadata]",
                                       "must not specify anything other than name and generateName, but "
                                       "metadata is implicitly specified"))


def _columns(version: dict[str, Any], path: str, causes: Causes) -> None:
    for i, col in enumerate(version.get("additionalPrinterColumns") or ()):
        cpath = fe.index(fe.child(path, "additionalPrinterColumns"), i)
        if not col.get("name"):
            causes.append(fe.required(fe.child(cpath, "name")))
        ctype = col.get("type")
        if not ctype:
            causes.append(fe.required(fe.child(cpath, "type"), "must be one of " + ",".join(_COLUMN_TYPES)))
        elif ctype not in _COLUMN_TYPES:
            causes.append(fe.not_supported(fe.child(cpath, "type"), ctype, _COLUMN_TYPES))
        if col.get("format") and col["format"] not in _COLUMN_FORMATS:
            causes.append(fe.not_supported(fe.child(cpath, "format"), col["format"], _COLUMN_FORMATS))
        json_path = col.get("jsonPath")
        if not json_path:
            causes.append(fe.required(fe.child(cpath, "jsonPath")))
        elif not json_path.startswith("."):
            # Only the leading '.' is checked, as apiextensions does: filters such as
            # `.status.conditions[?(@.type=="Ready")].status` are common and valid.
            causes.append(fe.invalid(fe.child(cpath, "jsonPath"), json_path,
                                     "must be a simple json path starting with ."))
        if col.get("priority") is not None and (not isinstance(col["priority"], int) or col["priority"] < 0):
            causes.append(fe.invalid(fe.child(cpath, "priority"), col["priority"], "must be non-negative"))


def _subresources(version: dict[str, Any], path: str, causes: Causes) -> None:
    scale = (version.get("subresources") or {}).get("scale")
    if not isinstance(scale, dict):
        return
    spath = fe.child(fe.child(path, "subresources"), "scale")
    for key, under in (("specReplicasPath", ".spec"), ("statusReplicasPath", ".status")):
        value = scale.get(key)
        if not value:
            causes.append(fe.required(fe.child(spath, key)))
        elif not (value.startswith(under + ".") and _SIMPLE_JSON_PATH.fullmatch(value)):
            causes.append(fe.invalid(fe.child(spath, key), value, f"should be a json path under {under}"))
    selector = scale.get("labelSelectorPath")
    if selector and not ((selector.startswith(".spec.") or selector.startswith(".status."))
                         and _SIMPLE_JSON_PATH.fullmatch(selector)):
        causes.append(fe.invalid(fe.child(spath, "labelSelectorPath"), selector,
                                 "should be a json path under either .spec or .status"))


def _names(spec: dict[str, Any], causes: Causes) -> None:
    n = spec.get("names") or {}
    for key in ("plural", "singular", "kind", "listKind"):
        if not n.get(key):
            causes.append(fe.required(f"spec.names.{key}"))
    for key in ("plural", "singular"):
        if n.get(key) and (errs := names.is_dns1035_label(n[key])):
            causes.append(fe.invalid(f"spec.names.{key}", n[key], ",".join(errs)))
    for key in ("kind", "listKind"):
        if n.get(key) and (errs := names.is_dns1035_label(n[key].lower())):
            causes.append(fe.invalid(f"spec.names.{key}", n[key],
                                     "may have mixed case, but should otherwise match: " + ",".join(errs)))
    for key in ("shortNames", "categories"):
        for i, value in enumerate(n.get(key) or ()):
            if errs := names.is_dns1035_label(value):
                causes.append(fe.invalid(f"spec.names.{key}[{i}]", value, ",".join(errs)))
    if n.get("kind") and n.get("kind") == n.get("listKind"):
        causes.append(fe.invalid("spec.names.listKind", n["listKind"],
                                 "kind and listKind may not be the same"))


def validate_crd(crd: dict[str, Any]) -> Causes:
    """Every reason kube-apiserver would refuse this CRD; defaults are applied to a copy first."""
    crd = copy.deepcopy(crd)
    apply_crd_defaults(crd)
    causes: Causes = []
    spec = crd.get("spec") or {}
    meta = crd.get("metadata") or {}
    group = spec.get("group") or ""
    plural = (spec.get("names") or {}).get("plural") or ""
    name = meta.get("name") or ""
    if not name:
        causes.append(fe.required("metadata.name", "name or generateName is required"))
    else:
        errs = names.is_dns1123_subdomain(name)
        if name != f"{plural}.{group}":
            errs.append('must be spec.names.plural+"."+spec.group')
        causes.extend(fe.invalid("metadata.name", name, e) for e in errs)
    if not group:
        causes.append(fe.required("spec.group"))
    elif errs := names.is_dns1123_subdomain(group):
        causes.append(fe.invalid("spec.group", group, ",".join(errs)))
    elif "." not in group:
        causes.append(fe.invalid("spec.group", group, "should be a domain with at least one dot"))
    scope = spec.get("scope") or ""
    if not scope:
        causes.append(fe.required("spec.scope"))
    elif scope not in _SCOPES:
        causes.append(fe.not_supported("spec.scope", scope, _SCOPES))
    versions = spec.get("versions") or []
    seen: set[str] = set()
    unique = True
    for i, version in enumerate(versions):
        vpath = f"spec.versions[{i}]"
        vname = version.get("name") or ""
        if vname in seen:
            unique = False
        seen.add(vname)
        if errs := names.is_dns1035_label(vname):
            causes.append(fe.invalid(f"{vpath}.name", vname, ",".join(errs)))
        schema = (version.get("schema") or {}).get("openAPIV3Schema")
        if schema is None:
            causes.append(fe.required(f"{vpath}.schema.openAPIV3Schema", "schemas are required"))
        else:
            _structural(schema, f"{vpath}.schema.openAPIV3Schema", "root", causes)
        _subresources(version, vpath, causes)
        _columns(version, vpath, causes)
    if not unique:
        causes.append(fe.invalid("spec.versions", versions, "must contain unique version names"))
    if sum(1 for v in versions if v.get("storage") is True) != 1:
        causes.append(fe.invalid("spec.versions", versions or None,
                                 "must have exactly one version marked as storage version"))
    _names(spec, causes)
    strategy = (spec.get("conversion") or {}).get("strategy")
    if strategy not in ("None", "Webhook"):
        causes.append(fe.not_supported("spec.conversion.strategy", strategy, ["None", "Webhook"]))
    elif strategy == "Webhook" and not (spec.get("conversion") or {}).get("webhook"):
        causes.append(fe.required("spec.conversion.webhookClientConfig", "required when strategy is set to "
                                                                          "Webhook"))
    return causes
