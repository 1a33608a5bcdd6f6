"""Background deletion work kube-controller-manager and apiextensions do: garbage collection,
namespace termination, and CRD cleanup.

What must hold (as in kube):
- Background: once an owner is gone, each dependent whose owners are all gone is deleted; a
  dependent that still has a live owner only loses the dangling reference.
- Foreground: an owner carrying the `foregroundDeletion` finalizer has its dependents deleted, and
  loses the finalizer (and so disappears) once no dependent remains.
- Orphan: an owner carrying the `orphan` finalizer has its reference removed from every dependent,
  then loses the finalizer.
- A Terminating namespace has everything in it deleted, then its `kubernetes` finalizer cleared,
  which deletes it. A deleted CRD has its custom resources deleted, then its cleanup finalizer
  cleared, which deletes it and unregisters its types.
The work is driven by the store's events and retried on a short period while anything is pending
(objects with finalizers of their own can hold a deletion up for as long as they like).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from conveyor.sim.api import ApiService, Request, clone
from conveyor.sim.crds import CLEANUP_FINALIZER, key_of
from conveyor.sim.errors import StatusError
from conveyor.sim.storage import Event

log = logging.getLogger(__name__)

RETRY_PERIOD = 0.2
_WORKER = Request(
    user="system:serviceaccount:kube-system:generic-garbage-collector",
    user_agent="kube-controller-manager/v1.35.0",
    shared=True,
)


class Lifecycle:
    def __init__(self, api: ApiService) -> None:
        self.api = api
        self._pending_owners: set[str] = set()  # uids of deleted owners whose dependents need work
        self._deleting: set[tuple[str, str, str, str]] = set()  # objects with deletion finalizers to run
        self._wake = asyncio.Event()
        api.store.subscribe(self._on_event)

    def _on_event(self, event: Event) -> None:
        meta = event.obj["metadata"]
        key = (event.group, event.plural, meta.get("namespace") or "", meta["name"])
        if event.type == "DELETED":
            uid = (event.old or event.obj)["metadata"].get("uid")
            if uid and self.api.store.dependents_of(uid):
                self._pending_owners.add(uid)
                self._wake.set()
            self._deleting.discard(key)
            return
        if meta.get("deletionTimestamp") and (
            set(meta.get("finalizers") or ()) & {"foregroundDeletion", "orphan", CLEANUP_FINALIZER}
            or (event.plural == "namespaces" and event.group == "")
        ):
            self._deleting.add(key)
            self._wake.set()
        if event.type == "ADDED" and meta.get("ownerReferences"):
            for ref in meta["ownerReferences"]:
                if ref.get("uid") and self.api.store.by_uid(ref["uid"]) is None:
                    self._pending_owners.add(ref["uid"])
                    self._wake.set()

    async def run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), RETRY_PERIOD if self._pending() else None)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.step()
            except Exception:  # keep collecting; one bad object must not stop the collector
                log.exception("garbage collection step failed")

    def _pending(self) -> bool:
        return bool(self._pending_owners or self._deleting)

    async def step(self) -> None:
        for uid in list(self._pending_owners):
            if await self._collect_dependents(uid):
                self._pending_owners.discard(uid)
        for key in list(self._deleting):
            if await self._progress_deletion(key):
                self._deleting.discard(key)

    async def _collect_dependents(self, owner_uid: str) -> bool:
        """Delete (or detach) dependents of a vanished owner; True when none remain."""
        if self.api.store.by_uid(owner_uid) is not None:
            return True
        for group, plural, ns, name in self.api.store.dependents_of(owner_uid):
            obj = self.api.store.get(group, plural, ns, name)
            rt = self.api.registry.storage_type(group, plural)
            if obj is None or rt is None:
                continue
            owners = [r for r in obj["metadata"].get("ownerReferences") or () if r.get("uid")]
            alive = [r for r in owners if self.api.store.by_uid(r["uid"]) is not None]
            try:
                if alive:
                    self._detach(rt, obj, owner_uid)
                elif not obj["metadata"].get("deletionTimestamp"):
                    self.api._delete(rt, obj, "Background", None, None, False, _WORKER)
            except StatusError as exc:
                log.debug("collecting %s/%s: %s", plural, name, exc.message)
        remaining = (self.api.store.get(*k) for k in self.api.store.dependents_of(owner_uid))
        return not any(o is not None and not o["metadata"].get("deletionTimestamp") for o in remaining)

    def _detach(self, rt: Any, obj: dict[str, Any], owner_uid: str) -> None:
        new = clone(obj)
        refs = [r for r in new["metadata"].get("ownerReferences") or () if r.get("uid") != owner_uid]
        if refs:
            new["metadata"]["ownerReferences"] = refs
        else:
            new["metadata"].pop("ownerReferences", None)
        self.api._update(rt, obj, new, None, "kube-controller-manager", "Update", None, False)

    def _drop_finalizer(self, rt: Any, obj: dict[str, Any], finalizer: str) -> None:
        new = clone(obj)
        new["metadata"]["finalizers"] = [f for f in new["metadata"].get("finalizers") or () if f != finalizer]
        if not new["metadata"]["finalizers"]:
            del new["metadata"]["finalizers"]
        self.api._update(rt, obj, new, None, "kube-controller-manager", "Update", None, False)

    async def _progress_deletion(self, key: tuple[str, str, str, str]) -> bool:
        """One pass over an object being deleted; True when there is nothing more to do for it."""
        obj = self.api.store.get(*key)
        if obj is None or not obj["metadata"].get("deletionTimestamp"):
            return True
        group, plural, _ns, name = key
        rt = self.api.registry.storage_type(group, plural)
        if rt is None:
            return True
        finalizers = obj["metadata"].get("finalizers") or []
        uid = obj["metadata"]["uid"]
        if "orphan" in finalizers:
            for dep in self.api.store.dependents_of(uid):
                dep_obj = self.api.store.get(*dep)
                dep_rt = self.api.registry.storage_type(dep[0], dep[1])
                if dep_obj is not None and dep_rt is not None:
                    self._detach(dep_rt, dep_obj, uid)
            self._drop_finalizer(rt, obj, "orphan")
            return False
        if "foregroundDeletion" in finalizers:
            dependents = self.api.store.dependents_of(uid)
            for dep in dependents:
                dep_obj = self.api.store.get(*dep)
                dep_rt = self.api.registry.storage_type(dep[0], dep[1])
                if (
                    dep_obj is not None
                    and dep_rt is not None
                    and not dep_obj["metadata"].get("deletionTimestamp")
                ):
                    self.api._delete(dep_rt, dep_obj, "Foreground", None, None, False, _WORKER)
            if not self.api.store.dependents_of(uid):
                self._drop_finalizer(rt, obj, "foregroundDeletion")
            return False
        if key[:2] == ("", "namespaces"):
            return await self._terminate_namespace(name, obj)
        if CLEANUP_FINALIZER in finalizers and key[:2] == (
            "apiextensions.k8s.io",
            "customresourcedefinitions",
        ):
            cr_group, cr_plural = key_of(obj)
            remaining = self.api.store.objects(cr_group, cr_plural)
            cr_rt = self.api.registry.storage_type(cr_group, cr_plural)
            for cr in remaining:
                if cr_rt is not None and not cr["metadata"].get("deletionTimestamp"):
                    self.api._delete(cr_rt, cr, None, None, None, False, _WORKER)
            if not self.api.store.objects(cr_group, cr_plural):
                self._drop_finalizer(rt, obj, CLEANUP_FINALIZER)
            return False
        return True

    async def _terminate_namespace(self, name: str, ns_obj: dict[str, Any]) -> bool:
        left = 0
        for group, plural in list(self.api.store.namespaces_in_use(name)):
            rt = self.api.registry.storage_type(group, plural)
            for obj in self.api.store.objects(group, plural, name):
                left += 1
                if rt is not None and not obj["metadata"].get("deletionTimestamp"):
                    try:
                        self.api._delete(
                            rt, obj, "Background", 0 if plural != "pods" else None, None, False, _WORKER
                        )
                    except StatusError as exc:
                        log.debug("emptying namespace %s: %s", name, exc.message)
        if left == 0 and (ns_obj.get("spec") or {}).get("finalizers"):
            await self.api.finalize_namespace(name)
        return self.api.store.get("", "namespaces", "", name) is None
