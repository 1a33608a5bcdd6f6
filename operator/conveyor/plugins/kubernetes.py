"""`kubernetes.apply`, `kubernetes.delete`, `kubernetes.wait`, `kubernetes.get`: manifests and rollouts.

    graph.add_task("kubernetes.apply", {"manifests": MANIFESTS_YAML}, name="apply")
    graph.add_task("kubernetes.apply", {"config_map": "web-manifests", "key": "app.yaml"})
    graph.add_task("kubernetes.wait", {"kind": "Deployment", "name": "web", "timeout": 120})
    graph.add_task("kubernetes.wait", {"kind": "Job", "name": "migrate", "condition": "Complete"})

What must hold:
- objects go to the deployment's own namespace (see `kube.manifests.NamespacePolicy`): a manifest
  naming another namespace is refused before anything is written, so a workflow cannot spill out of
  its namespace even where RBAC would let it;
- apply is server-side apply with field manager `conveyor` (conflicts with other managers forced by
  default, as a deployment tool must win over hand edits), so running it twice changes nothing;
- all objects are resolved (kind known to the server, namespace allowed) before the first write:
  a refused manifest applies nothing;
- a failure a retry may fix (server unreachable, 429, 5xx) is RecoverableError (honouring
  Retry-After); a request the server refuses (validation, forbidden, conflict) is
  NonRecoverableError carrying the server's message;
- in dry run nothing is changed: `apply` asks the server for a dry-run apply (so invalid manifests
  are still reported) and logs what it would apply; `delete` logs what it would delete;
- long waits poll with the cancel token, so a force cancel stops them within one poll interval.

Credentials: the worker's ($KUBECONFIG or the pod's service account), see `kube.client`; the
worker's ServiceAccount needs, in the deployment's namespace, the verbs on the kinds its manifests
use (get, patch, create via apply; delete; list/watch are not needed).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from conveyor.plugins.kube.client import APPLY_PATCH, KubeApiError, KubeClient, ResourceInfo, client_for
from conveyor.plugins.kube.manifests import (
    ManifestError,
    NamespacePolicy,
    describe,
    manifests_from_config_map,
    parse_manifests,
)
from conveyor.plugins.kube.readiness import Progress, RolloutFailed, condition_progress, rollout_progress
from conveyor.workflows.context import OperationContext
from conveyor.workflows.errors import NonRecoverableError, RecoverableError, TaskCancelled

__all__ = ["apply", "delete", "get", "wait"]

FIELD_MANAGER = "conveyor"
POLL_INTERVAL = 0.5
PROGRESS_LOG_INTERVAL = 10.0
"""An unchanged progress message is logged again after this many seconds, so a long wait shows life."""
DEFAULT_API_VERSIONS = {
    "Deployment": "apps/v1", "StatefulSet": "apps/v1", "DaemonSet": "apps/v1", "ReplicaSet": "apps/v1",
    "Job": "batch/v1", "CronJob": "batch/v1", "Pod": "v1", "Service": "v1", "ConfigMap": "v1",
    "Secret": "v1", "Namespace": "v1", "PersistentVolumeClaim": "v1", "ServiceAccount": "v1",
    "Ingress": "networking.k8s.io/v1", "CustomResourceDefinition": "apiextensions.k8s.io/v1",
}


def _task_error(error: KubeApiError, doing: str) -> Exception:
    if error.transient:
        return RecoverableError(f"{doing}: {error}", retry_after=error.retry_after)
    return NonRecoverableError(f"{doing}: {error}")


@contextmanager
def _api_errors(doing: str) -> Iterator[None]:
    """Turn API failures into the task errors the engine understands (see the module docstring)."""
    try:
        yield
    except KubeApiError as error:
        raise _task_error(error, doing) from error
    except ManifestError as error:
        raise NonRecoverableError(str(error)) from error


def _policy(ctx: OperationContext, namespace: str | None) -> NamespacePolicy:
    deployment = ctx.deployment
    if deployment is not None:
        base = NamespacePolicy(deployment.namespace, deployment.namespace)
    else:
        base = NamespacePolicy(None, ctx.workflow.namespace)
    return base.target(namespace)


def _load(client: KubeClient, policy: NamespacePolicy, manifests: Any, config_map: str | None,
          key: str | None) -> list[dict[str, Any]]:
    if (manifests is None) == (config_map is None):
        raise ManifestError("give either `manifests` (YAML text, an object or a list) or `config_map`")
    if config_map is None:
        return parse_manifests(manifests)
    found = client.get(f"/api/v1/namespaces/{policy.default}/configmaps/{config_map}")
    if found is None:
        raise ManifestError(f"manifests ConfigMap {policy.default}/{config_map} not found")
    return manifests_from_config_map(found, key)


def _resolve(client: KubeClient, policy: NamespacePolicy, objects: list[dict[str, Any]], explicit: bool,
             missing_ok: bool = False) -> list[tuple[dict[str, Any], ResourceInfo | None, str | None]]:
    """Each object with where it lives; the whole list is checked before anything is written."""
    resolved: list[tuple[dict[str, Any], ResourceInfo | None, str | None]] = []
    for obj in objects:
        info = client.resource(obj["apiVersion"], obj["kind"])
        if info is None and not missing_ok:
            raise ManifestError(f"{describe(obj, None)}: the server serves no kind {obj['kind']!r} in "
                                f"{obj['apiVersion']!r} (a CRD not installed or not yet established?)")
        # a kind no longer served (delete after its CRD went) keeps whatever namespace it names
        namespaced = info.namespaced if info is not None else bool(obj["metadata"].get("namespace"))
        resolved.append((obj, info, policy.namespace_of(obj, namespaced, explicit)))
    return resolved


def _summary(obj: dict[str, Any], namespace: str | None) -> dict[str, Any]:
    metadata = obj.get("metadata") or {}
    summary = {"apiVersion": obj.get("apiVersion"), "kind": obj.get("kind"), "name": metadata.get("name"),
               "namespace": namespace}
    for field in ("uid", "resourceVersion", "generation"):
        if field in metadata:
            summary[field] = metadata[field]
    return summary


def apply(
    ctx: OperationContext,
    manifests: Any = None,
    config_map: str | None = None,
    key: str | None = None,
    namespace: str | None = None,
    force_conflicts: bool = True,
    kubeconfig: str | None = None,
) -> list[dict[str, Any]]:
    """Server-side apply each manifest, in order; return [{apiVersion, kind, name, namespace, uid, ...}].

    manifests: YAML/JSON text (several documents allowed), an object, or a list of them; or
    config_map (+ key: one key, default every *.yaml/*.yml/*.json key) in the target namespace.
    namespace: default the deployment's; no other is allowed for a deployment's execution.
    force_conflicts: take over fields another manager owns (kubectl's --force-conflicts).
    """
    with _api_errors("kubernetes.apply"):
        client = client_for(kubeconfig)
        policy = _policy(ctx, namespace)
        objects = _load(client, policy, manifests, config_map, key)
        resolved = _resolve(client, policy, objects, explicit=namespace is not None)
    applied = []
    for obj, info, target in resolved:
        assert info is not None
        body = {**obj, "metadata": {**obj["metadata"]}}
        if target is None:
            body["metadata"].pop("namespace", None)
        else:
            body["metadata"]["namespace"] = target
        query: dict[str, str | int | bool] = {"fieldManager": FIELD_MANAGER, "force": force_conflicts}
        if ctx.dry_run:
            query["dryRun"] = "All"
        with _api_errors(f"applying {describe(obj, target)}"):
            result = client.request("PATCH", info.path(target, obj["metadata"]["name"]), query=query,
                                    body=body, content_type=APPLY_PATCH)
        if ctx.dry_run:
            ctx.logger.info("dry run: would apply %s", describe(obj, target))
        else:
            ctx.logger.info("applied %s", describe(obj, target))
        applied.append(_summary(result or obj, target))
    return applied


def _gone(client: KubeClient, path: str, uid: str | None) -> bool:
    """Gone, or replaced by a new object of the same name (another uid): not ours to wait for."""
    found = client.get(path)
    return found is None or (uid is not None and found["metadata"].get("uid") != uid)


def delete(
    ctx: OperationContext,
    manifests: Any = None,
    config_map: str | None = None,
    key: str | None = None,
    namespace: str | None = None,
    wait: bool = True,
    timeout: float = 120.0,
    propagation_policy: str = "Background",
    kubeconfig: str | None = None,
) -> list[dict[str, Any]]:
    """Delete the objects the manifests name, in reverse order; absent ones are fine (idempotent).

    Same inputs as `apply`. wait: until every deleted object is gone (finalizers done), at most
    `timeout` seconds, then RecoverableError. Returns the objects that were deleted.
    """
    with _api_errors("kubernetes.delete"):
        client = client_for(kubeconfig)
        policy = _policy(ctx, namespace)
        objects = _load(client, policy, manifests, config_map, key)
        resolved = _resolve(client, policy, objects, explicit=namespace is not None, missing_ok=True)
    deleted: list[tuple[str, str | None, dict[str, Any]]] = []
    for obj, info, target in reversed(resolved):
        name = obj["metadata"]["name"]
        if info is None:
            ctx.logger.info("%s: kind no longer served, nothing to delete", describe(obj, target))
            continue
        path = info.path(target, name)
        if ctx.dry_run:
            ctx.logger.info("dry run: would delete %s", describe(obj, target))
            continue
        with _api_errors(f"deleting {describe(obj, target)}"):
            try:
                result = client.request("DELETE", path, query={"propagationPolicy": propagation_policy})
            except KubeApiError as error:
                if not error.not_found:
                    raise
                ctx.logger.info("%s already absent", describe(obj, target))
                continue
        ctx.logger.info("deleted %s", describe(obj, target))
        # DELETE returns the object (still terminating) or a Status (already gone)
        returned = result if isinstance(result, dict) and result.get("kind") == obj["kind"] else {}
        uid = (returned.get("metadata") or {}).get("uid")
        deleted.append((path, uid, _summary(obj, target)))
    if wait and deleted:
        def progress() -> Progress:
            remaining = [summary["name"] for path, uid, summary in deleted if not _gone(client, path, uid)]
            if remaining:
                names = ", ".join(remaining)
                return Progress(False, f"waiting for {len(remaining)} object(s) to go: {names}")
            return Progress(True, f"{len(deleted)} object(s) gone")

        _poll(ctx, progress, timeout, "kubernetes.delete")
    return [summary for _, _, summary in deleted]


def _poll(ctx: OperationContext, check: Callable[[], Progress], timeout: float, doing: str,
          interval: float = POLL_INTERVAL) -> Progress:
    """Call `check` until done, logging its message when it changes; RecoverableError at the timeout
    (a retry waits again), TaskCancelled on a force cancel."""
    deadline = time.monotonic() + timeout
    last_message, last_logged = "", 0.0
    while True:
        with _api_errors(doing):
            progress = check()
        now = time.monotonic()
        if progress.message != last_message or now - last_logged >= PROGRESS_LOG_INTERVAL:
            ctx.logger.info("%s", progress.message)
            last_message, last_logged = progress.message, now
        if progress.done:
            return progress
        if now >= deadline:
            raise RecoverableError(f"{doing}: timed out after {timeout:g}s: {progress.message}")
        if ctx.cancel_token.wait_forced(min(interval, max(0.0, deadline - now))):
            raise TaskCancelled(f"{doing} stopped by force cancel: {progress.message}")


def _object_path(client: KubeClient, ctx: OperationContext, kind: str, name: str, namespace: str | None,
                 api_version: str | None) -> tuple[str, str]:
    """(path of the object, how to name it in logs), with the namespace rule applied."""
    version = api_version or DEFAULT_API_VERSIONS.get(kind)
    if version is None:
        raise ManifestError(f"give the api_version of kind {kind!r}")
    policy = _policy(ctx, namespace)
    obj = {"apiVersion": version, "kind": kind, "metadata": {"name": name}}
    (_, info, target), = _resolve(client, policy, [obj], explicit=namespace is not None)
    assert info is not None
    return info.path(target, name), describe(obj, target)


def get(
    ctx: OperationContext,
    kind: str,
    name: str,
    namespace: str | None = None,
    api_version: str | None = None,
    missing_ok: bool = False,
    kubeconfig: str | None = None,
) -> dict[str, Any] | None:
    """The object as the server has it (None if absent and `missing_ok`, else NonRecoverableError).

    api_version defaults for the common built-in kinds (Deployment: apps/v1, Job: batch/v1, ...).
    """
    with _api_errors("kubernetes.get"):
        client = client_for(kubeconfig)
        path, what = _object_path(client, ctx, kind, name, namespace, api_version)
        found = client.get(path)
    if found is None and not missing_ok:
        raise NonRecoverableError(f"kubernetes.get: {what} not found")
    return found


def wait(
    ctx: OperationContext,
    kind: str,
    name: str,
    condition: str | None = None,
    namespace: str | None = None,
    api_version: str | None = None,
    timeout: float = 300.0,
    interval: float = POLL_INTERVAL,
    kubeconfig: str | None = None,
) -> dict[str, Any]:
    """Wait for a rollout (Deployment, StatefulSet, DaemonSet; no `condition`), as `kubectl rollout
    status` does, or for a condition on any object (`Ready`, `Complete`, `Available=False`), as
    `kubectl wait --for=condition=...` does. Returns the object as last seen.

    An object that does not exist yet is waited for. Timeout: RecoverableError (a task retry waits
    again). A Deployment past its progress deadline: NonRecoverableError.
    """
    with _api_errors("kubernetes.wait"):
        client = client_for(kubeconfig)
        path, what = _object_path(client, ctx, kind, name, namespace, api_version)
    if condition is None and kind not in ("Deployment", "StatefulSet", "DaemonSet"):
        raise NonRecoverableError(f"kubernetes.wait: {what} has no rollout; give a condition to wait for")
    if ctx.dry_run:
        ctx.logger.info("dry run: would wait for %s", f"{what} {condition or 'rollout'}")
        return {}
    last: dict[str, Any] = {}

    def check() -> Progress:
        found = client.get(path)
        if found is None:
            return Progress(False, f"waiting for {what} to exist")
        last.clear()
        last.update(found)
        try:
            progress = rollout_progress(found) if condition is None else condition_progress(found, condition)
        except RolloutFailed as error:
            raise NonRecoverableError(f"kubernetes.wait: {error}") from error
        except ValueError as error:
            raise NonRecoverableError(f"kubernetes.wait: {error}") from error
        return Progress(progress.done, f"{what}: {progress.message}")

    _poll(ctx, check, timeout, f"waiting for {what}", interval)
    return last
