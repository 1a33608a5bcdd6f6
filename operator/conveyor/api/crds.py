"""The CustomResourceDefinitions of Deployment and Execution, generated from `conveyor.api.models`.

pydantic's JSON schema is not what kube-apiserver accepts, so it is rewritten into a *structural*
schema (the rules apiextensions.k8s.io/v1 enforces):
- `$ref`s are inlined: CRD schemas may not use `$ref` or `definitions`;
- `Optional[X]` (anyOf X | null) becomes X with `nullable: true`; `int | str` becomes
  `x-kubernetes-int-or-string`; any other union is refused rather than silently mistyped;
- every node gets a type, except any-value nodes (`Any`), which get
  `x-kubernetes-preserve-unknown-fields: true`; free-form objects (`dict[str, Any]`, models with
  `extra="allow"`) are `type: object` with `x-kubernetes-preserve-unknown-fields: true`, so the
  API server keeps what users put there instead of pruning it;
- `title`s are dropped, null defaults are dropped, other defaults kept (the API server applies them);
- a JSON-schema keyword the CRD schema has no place for is an error here, not a surprise at apply time.

The output is deterministic (same models, same bytes): `test_crds.py` fails when `crds/` is stale.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml
from pydantic import BaseModel

from conveyor.api.models import DeploymentSpec, DeploymentStatus, ExecutionSpec, ExecutionStatus
from conveyor.api.names import CATEGORY, DEPLOYMENT, EXECUTION, GROUP, VERSION, ResourceNames

GENERATE_COMMAND = "conveyor crds --output-dir crds"
HEADER = "# Generated from operator/conveyor/api/models.py by `{command}` (`make crds`). Do not edit.\n"

Schema = dict[str, Any]

# Keys copied as they are, in this order, before the structural ones.
_PLAIN_KEYS = (
    "description",
    "type",
    "format",
    "nullable",
    "enum",
    "default",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "exclusiveMinimum",
    "maximum",
    "exclusiveMaximum",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
    "x-kubernetes-validations",
)
_HANDLED_KEYS = frozenset(
    {*_PLAIN_KEYS, "title", "$ref", "$defs", "anyOf"}
    | {"properties", "required", "additionalProperties", "items"}
)


class SchemaError(ValueError):
    """The models use something a structural CRD schema cannot express."""


def _clean_description(text: str) -> str:
    """Docstrings become one-line descriptions; `kubectl explain` re-wraps them anyway."""
    return " ".join(text.split())


def _structural(node: Schema, defs: Mapping[str, Schema], path: str) -> Schema:
    """One pydantic JSON-schema node as a structural CRD schema node."""
    unknown = set(node) - _HANDLED_KEYS
    if unknown:
        raise SchemaError(f"{path}: JSON schema keywords with no CRD equivalent: {sorted(unknown)}")

    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        return _structural({**target, **siblings}, defs, path)

    if "anyOf" in node:
        return _union(node, defs, path)

    out: Schema = {}
    for key in _PLAIN_KEYS:
        if key in node:
            out[key] = node[key]
    if "description" in out:
        out["description"] = _clean_description(out["description"])
    if out.get("default", 0) is None:
        del out["default"]
    if isinstance(out.get("exclusiveMinimum"), int | float) and not isinstance(out["exclusiveMinimum"], bool):
        out["minimum"], out["exclusiveMinimum"] = out["exclusiveMinimum"], True
    if isinstance(out.get("exclusiveMaximum"), int | float) and not isinstance(out["exclusiveMaximum"], bool):
        out["maximum"], out["exclusiveMaximum"] = out["exclusiveMaximum"], True

    kind = node.get("type")
    if kind is None:
        if set(node) - {"title", "description", "default"}:
            raise SchemaError(f"{path}: untyped schema with constraints: {sorted(node)}")
        out["x-kubernetes-preserve-unknown-fields"] = True
        out["nullable"] = True
        return out
    if kind == "object":
        return _object(node, out, defs, path)
    if kind == "array":
        out["items"] = _structural(node.get("items", {}), defs, f"{path}[]")
        return out
    if kind not in ("string", "integer", "number", "boolean"):
        raise SchemaError(f"{path}: unsupported type {kind!r}")
    return out


def _object(node: Schema, out: Schema, defs: Mapping[str, Schema], path: str) -> Schema:
    properties = node.get("properties")
    extra = node.get("additionalProperties")
    if properties:
        if node.get("required"):
            out["required"] = list(node["required"])
        out["properties"] = {
            name: _structural(child, defs, f"{path}.{name}") for name, child in properties.items()
        }
        if extra is True:
            out["x-kubernetes-preserve-unknown-fields"] = True
        elif isinstance(extra, dict):
            raise SchemaError(f"{path}: a CRD object cannot have both properties and additionalProperties")
    elif isinstance(extra, dict):
        out["additionalProperties"] = _structural(extra, defs, f"{path}.*")
    else:
        # dict[str, Any], or an empty model: keep whatever users write.
        out["x-kubernetes-preserve-unknown-fields"] = True
    return out


def _union(node: Schema, defs: Mapping[str, Schema], path: str) -> Schema:
    siblings = {k: v for k, v in node.items() if k != "anyOf"}
    members = [m for m in node["anyOf"] if m != {"type": "null"}]
    nullable = len(members) < len(node["anyOf"])
    if len(members) == 1:
        out = _structural({**members[0], **siblings}, defs, path)
    elif sorted(m.get("type", "") for m in members) == ["integer", "string"]:
        out = _structural(siblings, defs, path)
        out.pop("x-kubernetes-preserve-unknown-fields", None)
        out.pop("nullable", None)
        out["x-kubernetes-int-or-string"] = True
    else:
        raise SchemaError(f"{path}: unions other than Optional[X] and int | str have no structural form")
    if nullable:
        out = {**out, "nullable": True}
    return _ordered(out)


def _ordered(node: Schema) -> Schema:
    """Keys in one canonical order, whatever order merging produced (stable output)."""
    order = {key: i for i, key in enumerate((*_PLAIN_KEYS, "required", "properties", "additionalProperties"))}
    return dict(sorted(node.items(), key=lambda kv: order.get(kv[0], len(order))))


def model_schema(model: type[BaseModel]) -> Schema:
    """A model's structural schema (its nested models inlined)."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    defs = raw.pop("$defs", {})
    return _deep_order(_structural(raw, defs, model.__name__))


_RULE_KEYS = ("rule", "messageExpression", "message", "reason", "fieldPath", "optionalOldSelf")


def _deep_order(node: Any) -> Any:
    if isinstance(node, dict) and "rule" in node:  # an x-kubernetes-validations entry
        return {key: node[key] for key in _RULE_KEYS if key in node}
    if isinstance(node, dict):
        ordered = _ordered(node)
        return {
            k: ({n: _deep_order(c) for n, c in v.items()} if k == "properties" else _deep_order(v))
            for k, v in ordered.items()
        }
    if isinstance(node, list):
        return [_deep_order(item) for item in node]
    return node


def _resource_schema(description: str, spec: type[BaseModel], status: type[BaseModel]) -> Schema:
    return {
        "description": description,
        "type": "object",
        "required": ["spec"],
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": model_schema(spec),
            "status": model_schema(status),
        },
    }


def _column(name: str, json_path: str, kind: str, description: str, priority: int = 0) -> dict[str, Any]:
    column: dict[str, Any] = {"name": name, "type": kind, "jsonPath": json_path, "description": description}
    if priority:
        column["priority"] = priority
    return column


_AGE = _column("AGE", ".metadata.creationTimestamp", "date", "Time since creation.")


def _crd(names: ResourceNames, schema: Schema, columns: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": names.crd_name,
            "labels": {"app.kubernetes.io/name": "conveyor", "app.kubernetes.io/part-of": "conveyor"},
        },
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": names.kind,
                "listKind": f"{names.kind}List",
                "plural": names.plural,
                "singular": names.singular,
                "shortNames": list(names.short_names),
                "categories": [CATEGORY],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": schema},
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": columns,
                }
            ],
        },
    }


def generate_crds() -> list[dict[str, Any]]:
    """The two CRDs, Deployment first, as plain dicts ready to apply."""
    deployment = _crd(
        DEPLOYMENT,
        _resource_schema(
            "A Deployment declares workflows that Executions run, one at a time unless forced.",
            DeploymentSpec,
            DeploymentStatus,
        ),
        [
            _column("WORKFLOWS", ".status.workflows", "string", "Declared workflows."),
            _column("RUNNING", ".status.running", "integer", "Executions running now."),
            _column("QUEUED", ".status.queued", "integer", "Executions waiting in the queue."),
            _column("WORKER", ".status.worker", "string", "The worker Job, while there is one."),
            _AGE,
        ],
    )
    execution = _crd(
        EXECUTION,
        _resource_schema(
            "An Execution asks for one workflow of a Deployment (or a system-wide workflow) to run.",
            ExecutionSpec,
            ExecutionStatus,
        ),
        [
            _column("WORKFLOW", ".spec.workflow", "string", "The workflow to run."),
            _column("DEPLOYMENT", ".spec.deployment", "string", "The deployment; empty: system-wide."),
            _column("STATUS", ".status.phase", "string", "The execution's status."),
            _column("WAITING FOR", ".status.waitingFor", "string", "What a queued execution waits for.", 1),
            _AGE,
        ],
    )
    return [deployment, execution]


class _Dumper(yaml.SafeDumper):
    """Block style, no line folding (CEL rules stay on one line), no anchors."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_yaml(document: Mapping[str, Any]) -> str:
    return yaml.dump(dict(document), Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=4096)


def crd_filename(crd: Mapping[str, Any]) -> str:
    return f"{crd['metadata']['name']}.yaml"


def render_crds_yaml() -> dict[str, str]:
    """File name → file content, one CRD per file, each with its generated-file header."""
    header = HEADER.format(command=GENERATE_COMMAND)
    return {crd_filename(crd): header + dump_yaml(crd) for crd in generate_crds()}
