"""The few API calls the controllers and the kubelet make, over the sim's `ApiService`.

Controllers go through the same service layer as HTTP requests (defaulting, validation, CAS,
finalizers, garbage collection), never through the store. This module only narrows that interface
to what a controller needs, with the conventions controllers want: a missing object is `None`
rather than an exception, a delete of something already gone is not an error, and a write that
loses a resourceVersion race is retried on a fresh read.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from conveyor.sim.errors import StatusError

if TYPE_CHECKING:
    from conveyor.sim.api import ApiService

CAS_ATTEMPTS = 10


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.group, self.version, self.plural)


PODS = Resource("", "v1", "pods")
NODES = Resource("", "v1", "nodes")
CONFIGMAPS = Resource("", "v1", "configmaps")
SECRETS = Resource("", "v1", "secrets")
SERVICEACCOUNTS = Resource("", "v1", "serviceaccounts")
EVENTS = Resource("", "v1", "events")
LEASES = Resource("coordination.k8s.io", "v1", "leases")
JOBS = Resource("batch", "v1", "jobs")
DEPLOYMENTS = Resource("apps", "v1", "deployments")
REPLICASETS = Resource("apps", "v1", "replicasets")


def _clone(obj: Any) -> Any:
    return json.loads(json.dumps(obj))


def _missing(e: StatusError) -> bool:
    return e.code == 404


class Client:
    def __init__(self, api: ApiService) -> None:
        self.api = api

    async def get(self, res: Resource, namespace: str | None, name: str) -> dict[str, Any] | None:
        try:
            return await self.api.get(res.key, namespace, name)
        except StatusError as e:
            if _missing(e):
                return None
            raise

    async def list(
        self, res: Resource, namespace: str | None = None, labels: dict[str, str] | None = None
    ) -> list[dict[str, Any]]:
        selector = ",".join(f"{k}={v}" for k, v in labels.items()) if labels else None
        listed = await self.api.list(res.key, namespace, label_selector=selector)
        items: list[dict[str, Any]] = listed["items"]
        return items

    async def create(self, res: Resource, namespace: str | None, body: dict[str, Any]) -> dict[str, Any]:
        return await self.api.create(res.key, namespace, body)

    async def merge_patch(
        self,
        res: Resource,
        namespace: str | None,
        name: str,
        patch: dict[str, Any],
        subresource: str | None = None,
    ) -> dict[str, Any] | None:
        """A JSON merge patch (no CAS: for fields only this controller writes); None if gone."""
        try:
            return await self.api.patch(res.key, namespace, name, patch, "merge", subresource=subresource)
        except StatusError as e:
            if _missing(e):
                return None
            raise

    async def patch_status(
        self, res: Resource, obj: dict[str, Any], fields: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Set top-level status fields (merge patch on /status); None if the object is gone."""
        meta = obj["metadata"]
        return await self.merge_patch(res, meta.get("namespace"), meta["name"], {"status": fields}, "status")

    async def modify(
        self,
        res: Resource,
        namespace: str | None,
        name: str,
        change: Callable[[dict[str, Any]], bool],
        subresource: str | None = None,
    ) -> dict[str, Any] | None:
        """Read, change, write with CAS; on 409 read again and re-apply. `change` returns False to
        write nothing. None if the object is gone."""
        for _ in range(CAS_ATTEMPTS):
            obj = await self.get(res, namespace, name)
            if obj is None:
                return None
            if not change(obj):
                return obj
            try:
                return await self.api.update(res.key, namespace, name, obj, subresource=subresource)
            except StatusError as e:
                if _missing(e):
                    return None
                if e.code != 409:
                    raise
        raise RuntimeError(f"{res.plural} {namespace}/{name}: too many conflicting writes")

    async def remove_finalizer(self, res: Resource, obj: dict[str, Any], finalizer: str) -> None:
        meta = obj["metadata"]

        def drop(current: dict[str, Any]) -> bool:
            finalizers = current["metadata"].get("finalizers") or []
            if finalizer not in finalizers or current["metadata"].get("uid") != meta.get("uid"):
                return False
            rest = [f for f in finalizers if f != finalizer]
            if rest:
                current["metadata"]["finalizers"] = rest
            else:
                current["metadata"].pop("finalizers", None)
            return True

        await self.modify(res, meta.get("namespace"), meta["name"], drop)

    async def delete(
        self,
        res: Resource,
        namespace: str | None,
        name: str,
        *,
        grace: int | None = None,
        propagation: str | None = None,
        uid: str | None = None,
    ) -> None:
        """Delete; already gone (or replaced by a new object of that name, given `uid`) is fine."""
        try:
            await self.api.delete(
                res.key,
                namespace,
                name,
                grace_period_seconds=grace,
                propagation_policy=propagation,
                preconditions={"uid": uid} if uid else None,
            )
        except StatusError as e:
            if _missing(e) or (uid and e.code == 409):
                return
            raise

    async def list_and_watch(
        self, res: Resource, namespace: str | None = None, resync_seconds: float = 300.0
    ) -> AsyncIterator[tuple[str, dict[str, Any]]]:
        """Every current object as ADDED, then changes, for up to `resync_seconds` (a resync)."""
        stream = await self.api.watch(res.key, namespace, timeout_seconds=resync_seconds)
        try:
            async for batch in stream:
                for kind, obj, _event in batch:
                    if kind in ("ADDED", "MODIFIED", "DELETED"):
                        yield kind, _clone(obj)
        finally:
            stream.close()
