"""The system-wide built-in workflows `create_snapshot` and `restore_snapshot`.

A snapshot is every Conveyor Deployment and every final Execution of every namespace the worker may
list, saved to ConfigMaps in the operator's namespace, all labelled `conveyor.dev/snapshot: <name>`:
`conveyor-snapshot-<name>` holds `snapshot.json` (what the snapshot holds and in how many parts) and
the first part of the objects; a snapshot over PART_LIMIT bytes continues in
`conveyor-snapshot-<name>-part-<n>` (a ConfigMap holds at most 1 MiB). Objects are JSON lines,
reduced to what recreates them: name, namespace, labels, annotations, spec, and an Execution's status.

What must hold:
- only `conveyor.dev` Deployments and Executions are read, so a snapshot never contains a Secret
  (a worker's `secretKeyRef` stays a reference; the value is never read);
- a snapshot never holds the value of a parameter declared `secret: true` (DESIGN.md, issue 8): an
  Execution keeps its parameters (a restored history says what ran with what), but each secret one
  is replaced by the mask `******`, and so is the `default` of a secret parameter in a Deployment's
  declarations. What is secret is read from the execution's Deployment, or for a system-wide one from
  the operator's configuration; when that declaration cannot be found (the Deployment was deleted,
  the configuration is unreadable), nothing says which values are safe, so every parameter value of
  that Execution is masked. Masked objects carry the annotation `conveyor.dev/redacted-parameters`
  (the masked names), so whoever restores them knows those values are not the originals: a restored
  Deployment's secret defaults and a restored Execution's secret parameters must be given again
  before they are used (a resume of such an Execution would otherwise run with the mask);
- a snapshot is complete or absent: its parts are written first and `conveyor-snapshot-<name>` last,
  and restore refuses a snapshot whose parts do not all match;
- restore only recreates what is missing (nothing existing is overwritten), Deployments before
  Executions, and an Execution's saved status is written through `/status`; running it twice
  restores nothing the second time. A restored Execution is annotated `conveyor.dev/restored-from`,
  so a restore interrupted between creating an Execution and writing its status finishes the job
  when run again;
- restore runs alone: it is system-wide, so admission starts it only when nothing else runs and
  starts nothing beside it (S2); it checks again anyway and refuses while any other execution runs.
  While it runs, the operator cannot admit a restored Execution (the system lease is held): it may
  mark it Rejected or queued for an instant, and the saved status then replaces that.

RBAC of the system worker's ServiceAccount: list/get/create `deployments` and `executions`
(conveyor.dev) in every namespace, update `executions/status`, get/create `namespaces` (restore
into a fresh cluster), and get/list/create/update ConfigMaps in the operator's namespace.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from conveyor.admission.parameters import REDACTED, redact
from conveyor.api.config import InvalidConfig, parse_operator_config
from conveyor.api.models import FINAL_PHASES, RUNNING_PHASES, ParameterDeclaration, WorkflowDeclaration
from conveyor.api.names import (
    ANNOTATION_RESTORED_FROM,
    API_VERSION,
    CONFIG_MAP_NAME,
    DEPLOYMENT,
    EXECUTION,
    GROUP,
    bounded_name,
    label_value,
)
from conveyor.plugins.kube.client import KubeApiError, KubeClient, client_for
from conveyor.workflows.context import OperationContext, WorkflowContext
from conveyor.workflows.decorator import workflow
from conveyor.workflows.errors import NonRecoverableError, RecoverableError

LABEL_SNAPSHOT = f"{GROUP}/snapshot"
ANNOTATION_REDACTED = f"{GROUP}/redacted-parameters"
"""On a snapshot's copy of an object: the parameters whose values were masked, comma-separated."""
BUILTIN_SYSTEM_WORKFLOWS = frozenset({"create_snapshot", "restore_snapshot"})
"""Their parameters (names of snapshots and namespaces) are never secret."""
CONFIG_MAP_PREFIX = "conveyor-snapshot-"
INDEX_KEY = "snapshot.json"
OBJECTS_KEY = "objects.jsonl"
PART_LIMIT = 900 * 1024
"""Bytes of objects per ConfigMap: room under the 1 MiB limit for the index and metadata."""
FORMAT_VERSION = 1
STATUS_WRITE_ATTEMPTS = 5
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")
_FINAL = {phase.value for phase in FINAL_PHASES}
_RUNNING = {phase.value for phase in RUNNING_PHASES}


class SnapshotError(NonRecoverableError):
    """A snapshot that cannot be taken or restored as asked; the message says why."""


# ----- pure: names, reduction, parts ----------------------------------------------------------------


def config_map_name(snapshot: str, part: int = 1) -> str:
    """`conveyor-snapshot-<name>` for the first part, `...-part-<n>` for the others (bounded to 253)."""
    base = f"{CONFIG_MAP_PREFIX}{snapshot}"
    return bounded_name(base if part == 1 else f"{base}-part-{part}", 253)


def check_snapshot_name(name: str) -> str:
    if not _NAME.match(name) or len(name) > 200:
        raise SnapshotError(f"snapshot name {name!r} must be lowercase letters, digits, '-' and '.', "
                            "at most 200 characters, starting and ending alphanumeric")
    return name


def portable(obj: dict[str, Any], keep_status: bool) -> dict[str, Any]:
    """What recreates `obj` on any cluster: no uid, resourceVersion, timestamps or managed fields."""
    metadata = obj.get("metadata") or {}
    kept: dict[str, Any] = {"name": metadata["name"], "namespace": metadata["namespace"]}
    for field in ("labels", "annotations"):
        if metadata.get(field):
            kept[field] = dict(metadata[field])
    reduced: dict[str, Any] = {"apiVersion": obj.get("apiVersion", API_VERSION), "kind": obj["kind"],
                               "metadata": kept, "spec": obj.get("spec") or {}}
    if keep_status and obj.get("status"):
        reduced["status"] = obj["status"]
    return reduced


Declarations = dict[str, ParameterDeclaration]


def _declarations(raw: Any) -> Declarations | None:
    """A workflow's parameter declarations as a Deployment or the configuration spells them, or None
    when they do not parse (then nothing says which parameters are secret)."""
    try:
        return WorkflowDeclaration.model_validate(raw).parameters
    except ValidationError:
        return None


def _mark_redacted(obj: dict[str, Any], names: list[str]) -> None:
    if names:
        annotations = obj["metadata"].setdefault("annotations", {})
        annotations[ANNOTATION_REDACTED] = ",".join(sorted(names))


def _redact_deployment(obj: dict[str, Any]) -> dict[str, Any]:
    """`obj` with the defaults of its secret parameters masked (a copy where anything changes)."""
    workflows = (obj.get("spec") or {}).get("workflows") or {}
    masked: list[str] = []
    new_workflows: dict[str, Any] = {}
    for offered, raw in workflows.items():
        parameters = raw.get("parameters") if isinstance(raw, dict) else None
        if not isinstance(parameters, dict):
            new_workflows[offered] = raw
            continue
        new_parameters = {}
        for name, declaration in parameters.items():
            secret = isinstance(declaration, dict) and declaration.get("secret")
            if secret and declaration.get("default") is not None:
                declaration = {**declaration, "default": REDACTED}
                masked.append(f"{offered}.{name}")
            new_parameters[name] = declaration
        new_workflows[offered] = {**raw, "parameters": new_parameters}
    if not masked:
        return obj
    copy = {**obj, "metadata": dict(obj["metadata"]), "spec": {**obj["spec"], "workflows": new_workflows}}
    _mark_redacted(copy, masked)
    return copy


def _redact_execution(obj: dict[str, Any], declared: Declarations | None) -> dict[str, Any]:
    """`obj` with its secret parameters masked; every one when `declared` is None (unknown)."""
    spec = obj.get("spec") or {}
    given = spec.get("parameters") or {}
    if not isinstance(given, dict) or not given:
        return obj
    parameters = {name: REDACTED for name in given} if declared is None else redact(declared, given)
    masked = sorted(name for name in given if parameters[name] is not given[name])
    if not masked:
        return obj
    copy = {**obj, "metadata": dict(obj["metadata"]), "spec": {**spec, "parameters": parameters}}
    _mark_redacted(copy, masked)
    return copy


def redact_secrets(
    objects: list[dict[str, Any]], system_workflows: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """`objects` (portable Deployments and Executions) with no secret parameter value left in them.

    `system_workflows`: the operator configuration's `systemWorkflows` (None: unknown). Pure."""
    deployments = {
        (obj["metadata"]["namespace"], obj["metadata"]["name"]): obj for obj in objects
        if obj["kind"] == DEPLOYMENT.kind
    }
    redacted = []
    for obj in objects:
        if obj["kind"] == DEPLOYMENT.kind:
            redacted.append(_redact_deployment(obj))
            continue
        spec = obj.get("spec") or {}
        workflow, deployment = spec.get("workflow"), spec.get("deployment")
        declared: Declarations | None = None
        if deployment is None and workflow in BUILTIN_SYSTEM_WORKFLOWS:
            declared = {}
        elif deployment is None:
            if system_workflows is not None and workflow in system_workflows:
                declared = _declarations(system_workflows[workflow])
        else:
            owner = deployments.get((obj["metadata"]["namespace"], deployment))
            raw = ((owner or {}).get("spec") or {}).get("workflows", {}).get(workflow) if owner else None
            declared = _declarations(raw) if raw is not None else None
        redacted.append(_redact_execution(obj, declared))
    return redacted


def split_parts(objects: Iterable[dict[str, Any]], limit: int = PART_LIMIT) -> list[list[str]]:
    """JSON lines grouped into parts of at most `limit` bytes each, in order (always one part)."""
    parts: list[list[str]] = [[]]
    size = 0
    for obj in objects:
        line = json.dumps(obj, sort_keys=True, separators=(",", ":"))
        length = len(line.encode()) + 1
        if length > limit:
            meta = obj["metadata"]
            raise SnapshotError(f"{obj['kind']} {meta['namespace']}/{meta['name']} is {length} bytes, more "
                                f"than a snapshot part holds ({limit})")
        if size + length > limit and parts[-1]:
            parts.append([])
            size = 0
        parts[-1].append(line)
        size += length
    return parts


def build_config_maps(snapshot: str, namespace: str, objects: list[dict[str, Any]], created_at: str,
                      limit: int = PART_LIMIT) -> list[dict[str, Any]]:
    """The snapshot's ConfigMaps, in writing order: extra parts first, the index-bearing one last."""
    parts = split_parts(objects, limit)
    kinds = (DEPLOYMENT.kind, EXECUTION.kind)
    counts = {kind: sum(1 for obj in objects if obj["kind"] == kind) for kind in kinds}
    index = {"name": snapshot, "version": FORMAT_VERSION, "createdAt": created_at, "parts": len(parts),
             "counts": {"deployments": counts[DEPLOYMENT.kind], "executions": counts[EXECUTION.kind]}}
    config_maps = []
    for number, lines in enumerate(parts, start=1):
        data = {OBJECTS_KEY: "".join(line + "\n" for line in lines)}
        if number == 1:
            data[INDEX_KEY] = json.dumps(index, sort_keys=True)
        config_maps.append({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {
                "name": config_map_name(snapshot, number), "namespace": namespace,
                "labels": {LABEL_SNAPSHOT: label_value(snapshot), "app.kubernetes.io/managed-by": "conveyor"},
                "annotations": {f"{GROUP}/snapshot-part": f"{number}/{len(parts)}",
                                f"{GROUP}/snapshot-name": snapshot},
            },
            "data": data,
        })
    return config_maps[1:] + config_maps[:1]


def read_parts(snapshot: str, config_maps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The objects of a snapshot from its ConfigMaps; SnapshotError unless it is whole."""
    by_name = {cm["metadata"]["name"]: cm for cm in config_maps
               if (cm["metadata"].get("annotations") or {}).get(f"{GROUP}/snapshot-name") == snapshot}
    first = by_name.get(config_map_name(snapshot))
    if first is None or INDEX_KEY not in (first.get("data") or {}):
        raise SnapshotError(f"snapshot {snapshot!r} not found: no ConfigMap {config_map_name(snapshot)} with "
                            f"{INDEX_KEY} (labelled {LABEL_SNAPSHOT}={label_value(snapshot)})")
    index = json.loads(first["data"][INDEX_KEY])
    if index.get("version") != FORMAT_VERSION:
        raise SnapshotError(f"snapshot {snapshot!r} has format version {index.get('version')}, "
                            f"this Conveyor reads {FORMAT_VERSION}")
    objects: list[dict[str, Any]] = []
    for number in range(1, int(index["parts"]) + 1):
        part = by_name.get(config_map_name(snapshot, number))
        if part is None:
            raise SnapshotError(f"snapshot {snapshot!r} is incomplete: {config_map_name(snapshot, number)} "
                                f"(part {number} of {index['parts']}) is missing")
        text = (part.get("data") or {}).get(OBJECTS_KEY, "")
        objects.extend(json.loads(line) for line in text.splitlines() if line.strip())
    return objects


# ----- API steps (task callables) --------------------------------------------------------------------


def _custom_path(plural: str, namespace: str | None = None, name: str | None = None,
                 sub: str | None = None) -> str:
    parts = [f"/apis/{API_VERSION}"]
    if namespace is not None:
        parts.append(f"namespaces/{namespace}")
    parts.append(plural)
    if name is not None:
        parts.append(name)
    if sub is not None:
        parts.append(sub)
    return "/".join(parts)


def _api_failure(error: KubeApiError, doing: str) -> Exception:
    if error.transient:
        return RecoverableError(f"{doing}: {error}", retry_after=error.retry_after)
    hint = " (the system worker's ServiceAccount needs it: see conveyor.workflows.snapshots)" \
        if error.status == 403 else ""
    return NonRecoverableError(f"{doing}: {error}{hint}")


def _list_all(client: KubeClient, plural: str, namespaces: list[str] | None = None) -> list[dict[str, Any]]:
    """Every object of `plural` in every namespace (one cluster-wide list), or in `namespaces` only."""
    try:
        if namespaces is None:
            return list(client.list(_custom_path(plural)))
        return [obj for namespace in namespaces for obj in client.list(_custom_path(plural, namespace))]
    except KubeApiError as error:
        where = "every namespace" if namespaces is None else f"namespaces {', '.join(namespaces)}"
        raise _api_failure(error, f"listing {plural}.{GROUP} in {where}") from error


def collect(ctx: OperationContext, namespaces: list[str] | None = None) -> list[dict[str, Any]]:
    """Every Deployment, then every final Execution (oldest first), reduced by `portable`."""
    client = client_for()
    listed = _list_all(client, DEPLOYMENT.plural, namespaces)
    deployments = [portable(obj, keep_status=False) for obj in listed]
    executions = [
        obj for obj in _list_all(client, EXECUTION.plural, namespaces)
        if (obj.get("status") or {}).get("phase") in _FINAL
    ]
    executions.sort(key=lambda obj: (
        obj["metadata"].get("creationTimestamp", ""), obj["metadata"]["namespace"], obj["metadata"]["name"]))
    ctx.logger.info("collected %d deployment(s) and %d final execution(s)", len(deployments), len(executions))
    objects = [*deployments, *(portable(obj, keep_status=True) for obj in executions)]
    return redact_secrets(objects, _system_workflows(client, ctx))


def _system_workflows(client: KubeClient, ctx: OperationContext) -> dict[str, Any] | None:
    """The operator configuration's system workflows, as declared (None when it cannot be read: then
    every parameter of a configured system-wide execution is masked)."""
    namespace = ctx.workflow.namespace
    try:
        config_map = client.get(f"/api/v1/namespaces/{namespace}/configmaps/{CONFIG_MAP_NAME}")
        config = parse_operator_config((config_map or {}).get("data"))
    except (KubeApiError, InvalidConfig) as error:
        ctx.logger.warning("cannot read %s/%s (%s): system-wide executions' parameters are all masked",
                           namespace, CONFIG_MAP_NAME, error)
        return None
    return {name: declaration.model_dump(mode="json", by_alias=True, exclude_none=True)
            for name, declaration in config.system_workflows.items()}


def _write_config_map(client: KubeClient, config_map: dict[str, Any], replace: bool) -> None:
    namespace, name = config_map["metadata"]["namespace"], config_map["metadata"]["name"]
    collection = f"/api/v1/namespaces/{namespace}/configmaps"
    try:
        client.request("POST", collection, body=config_map)
        return
    except KubeApiError as error:
        if error.status != 409 or not replace:
            raise _api_failure(error, f"writing ConfigMap {namespace}/{name}") from error
    try:  # a part left by an interrupted attempt: this attempt's content wins
        client.request("PUT", f"{collection}/{name}", body=config_map)
    except KubeApiError as error:
        raise _api_failure(error, f"replacing ConfigMap {namespace}/{name}") from error


def write(ctx: OperationContext, snapshot: str, objects: list[dict[str, Any]], namespace: str) -> list[str]:
    """Write the snapshot's ConfigMaps (see the module docstring for the order); their names."""
    client = client_for()
    try:
        existing = client.get(f"/api/v1/namespaces/{namespace}/configmaps/{config_map_name(snapshot)}")
    except KubeApiError as error:
        raise _api_failure(error, f"reading ConfigMap {namespace}/{config_map_name(snapshot)}") from error
    if existing is not None:
        where = f"{namespace}/{config_map_name(snapshot)}"
        raise SnapshotError(f"snapshot {snapshot!r} already exists ({where}): choose another name, or "
                            "delete it first")
    created_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    config_maps = build_config_maps(snapshot, namespace, objects, created_at, PART_LIMIT)
    for config_map in config_maps:
        is_index = config_map is config_maps[-1]
        _write_config_map(client, config_map, replace=not is_index)
    names = [cm["metadata"]["name"] for cm in config_maps]
    ctx.logger.info("snapshot %s written to %s", snapshot, ", ".join(names))
    return names


@workflow(system_wide=True)
def create_snapshot(ctx: WorkflowContext, name: str | None = None,
                    namespaces: list[str] | None = None) -> dict[str, Any]:
    """Save every Conveyor Deployment and final Execution to `conveyor-snapshot-<name>` (default name:
    this execution's) in the operator's namespace; returns what was saved where.

    namespaces: only these (default: every namespace; that needs a cluster-wide list permission)."""
    _require_system_wide(ctx, "create_snapshot")
    snapshot = check_snapshot_name(name or ctx.execution_name)
    graph = ctx.graph()
    collected = graph.add_task(collect, {"namespaces": namespaces}, name="collect")
    saved: dict[str, Any] = {}

    def save(op_ctx: OperationContext) -> list[str]:
        objects = collected.result or []
        saved.update(deployments=sum(1 for o in objects if o["kind"] == DEPLOYMENT.kind),
                     executions=sum(1 for o in objects if o["kind"] == EXECUTION.kind))
        return write(op_ctx, snapshot, objects, ctx.namespace)

    written = graph.add_task(save, name="write")
    graph.add_dependency(written, collected)
    graph.execute()
    return {"snapshot": snapshot, "namespace": ctx.namespace, "configMaps": written.result or [], **saved}


# ----- restore ----------------------------------------------------------------------------------------


def _require_system_wide(ctx: WorkflowContext, name: str) -> None:
    """Admission runs a built-in for a deployment too; these two must only run system-wide (S2)."""
    if ctx.deployment is not None:
        raise NonRecoverableError(f"{name} is system-wide: create the Execution without spec.deployment, "
                                  "in the operator's namespace")


def check_nothing_else_runs(ctx: OperationContext) -> None:
    """Admission already guarantees it (S2); checked again so a restore never races live work."""
    client = client_for()
    me = (ctx.workflow.namespace, ctx.execution_name)
    running = sorted(
        f"{obj['metadata']['namespace']}/{obj['metadata']['name']}"
        for obj in _list_all(client, EXECUTION.plural)
        if (obj.get("status") or {}).get("phase") in _RUNNING
        and (obj["metadata"]["namespace"], obj["metadata"]["name"]) != me
    )
    if running:
        raise SnapshotError(f"restore refused: other executions are running: [{', '.join(running)}]")


def read(ctx: OperationContext, snapshot: str, namespace: str) -> list[dict[str, Any]]:
    client = client_for()
    try:
        config_maps = list(client.list(f"/api/v1/namespaces/{namespace}/configmaps",
                                       label_selector=f"{LABEL_SNAPSHOT}={label_value(snapshot)}"))
    except KubeApiError as error:
        raise _api_failure(error, f"reading snapshot {snapshot!r}") from error
    objects = read_parts(snapshot, config_maps)
    ctx.logger.info("snapshot %s holds %d object(s)", snapshot, len(objects))
    return objects


def _ensure_namespace(client: KubeClient, namespace: str, known: set[str]) -> None:
    if namespace in known:
        return
    if client.get(f"/api/v1/namespaces/{namespace}") is None:
        try:
            client.request("POST", "/api/v1/namespaces",
                           body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}})
        except KubeApiError as error:
            if error.status != 409:
                raise
    known.add(namespace)


def _replace_status(client: KubeClient, path: str, status: dict[str, Any]) -> None:
    """Put the saved status in place of whatever is there (a CAS, retried on conflicts)."""
    for _ in range(STATUS_WRITE_ATTEMPTS):
        current = client.get(path)
        if current is None:
            return
        current["status"] = status
        try:
            client.request("PUT", f"{path}/status", body=current)
            return
        except KubeApiError as error:
            if error.status != 409:
                raise
    raise RecoverableError(f"writing the status of {path}: conflicts on every attempt")


def restore_objects(ctx: OperationContext, snapshot: str, objects: list[dict[str, Any]], kind: str,
                    create_namespaces: bool = True) -> dict[str, int]:
    """Recreate the missing objects of one kind; {"restored": n, "present": m}."""
    client = client_for()
    plural = DEPLOYMENT.plural if kind == DEPLOYMENT.kind else EXECUTION.plural
    namespaces: set[str] = set()
    restored = present = 0
    for obj in (o for o in objects if o["kind"] == kind):
        meta = obj["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        path = _custom_path(plural, namespace, name)
        doing = f"restoring {kind} {namespace}/{name}"
        try:
            existing = client.get(path)
            if existing is not None and not _unfinished_restore(existing, snapshot):
                present += 1
                continue
            if existing is None:
                if create_namespaces:
                    _ensure_namespace(client, namespace, namespaces)
                body = {key: value for key, value in obj.items() if key != "status"}
                if kind == EXECUTION.kind:
                    annotations = {**(meta.get("annotations") or {}), ANNOTATION_RESTORED_FROM: snapshot}
                    body["metadata"] = {**meta, "annotations": annotations}
                try:
                    client.request("POST", _custom_path(plural, namespace), body=body)
                except KubeApiError as error:
                    if error.status != 409:
                        raise
                    present += 1  # created meanwhile by someone else: theirs stands
                    continue
            if kind == EXECUTION.kind and obj.get("status"):
                _replace_status(client, path, obj["status"])
        except KubeApiError as error:
            raise _api_failure(error, doing) from error
        restored += 1
        ctx.logger.info("restored %s %s/%s", kind, namespace, name)
    ctx.logger.info("%s: %d restored, %d already present", plural, restored, present)
    return {"restored": restored, "present": present}


def _unfinished_restore(existing: dict[str, Any], snapshot: str) -> bool:
    """An Execution this snapshot's restore created but whose saved status was not written yet."""
    annotations = existing["metadata"].get("annotations") or {}
    phase = (existing.get("status") or {}).get("phase")
    return annotations.get(ANNOTATION_RESTORED_FROM) == snapshot and phase not in _FINAL


@workflow(system_wide=True)
def restore_snapshot(ctx: WorkflowContext, snapshot: str, create_namespaces: bool = True) -> dict[str, Any]:
    """Recreate what is missing from snapshot `snapshot`: Deployments, then final Executions with
    their status. Refused while any other execution runs; running it again restores nothing more."""
    _require_system_wide(ctx, "restore_snapshot")
    check_snapshot_name(snapshot)
    graph = ctx.graph()
    alone = graph.add_task(check_nothing_else_runs, name="check-idle", retries=0)
    loaded = graph.add_task(read, {"snapshot": snapshot, "namespace": ctx.namespace}, name="read")

    def restore(kind: str) -> Any:
        def run(op_ctx: OperationContext) -> dict[str, int]:
            return restore_objects(op_ctx, snapshot, loaded.result or [], kind, create_namespaces)
        run.__name__ = f"restore_{kind.lower()}s"
        return run

    deployments = graph.add_task(restore(DEPLOYMENT.kind), name="deployments")
    executions = graph.add_task(restore(EXECUTION.kind), name="executions")
    graph.sequence(alone, loaded, deployments, executions)
    graph.execute()
    return {"snapshot": snapshot, "deployments": deployments.result, "executions": executions.result}
