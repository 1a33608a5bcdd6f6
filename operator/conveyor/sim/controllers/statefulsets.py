"""The StatefulSet controller, simplified: stable pod names `<set>-<ordinal>`, ordered start
(`OrderedReady`: ordinal n waits for 0..n-1 to be Ready) or all at once (`Parallel`), scale-down from
the highest ordinal, and a rolling update that replaces one out-of-date pod at a time from the top.

Its status carries what `kubectl rollout status sts/x` and helm 4's kstatus wait on:
observedGeneration, replicas / ready / current / updated / available counts and current and update
revisions, which meet once every pod runs the newest template. Volume claim templates, partitions,
`OnDelete` and ControllerRevision history are not modelled.
"""

from __future__ import annotations

import copy
from typing import Any

from conveyor.sim.controllers.client import PODS, Client, Resource
from conveyor.sim.controllers.deployments import template_hash
from conveyor.sim.controllers.events import NORMAL, EventRecorder
from conveyor.sim.controllers.jobs import is_active, is_ready, owner_reference
from conveyor.sim.controllers.loop import Controller, Key, own_key, owner_keys

STATEFULSETS = Resource("apps", "v1", "statefulsets")
REVISION_LABEL = "controller-revision-hash"


def build_pod(sts: dict[str, Any], ordinal: int, revision: str) -> dict[str, Any]:
    template = copy.deepcopy(sts["spec"].get("template") or {})
    meta = template.get("metadata") or {}
    name = f"{sts['metadata']['name']}-{ordinal}"
    labels = {**(meta.get("labels") or {}), REVISION_LABEL: revision,
              "statefulset.kubernetes.io/pod-name": name, "apps.kubernetes.io/pod-index": str(ordinal)}
    spec = template.get("spec") or {}
    spec.setdefault("hostname", name)
    if sts["spec"].get("serviceName"):
        spec.setdefault("subdomain", sts["spec"]["serviceName"])
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            **{k: v for k, v in meta.items() if k not in ("name", "namespace", "uid", "generateName")},
            "name": name,
            "namespace": sts["metadata"]["namespace"],
            "labels": labels,
            "ownerReferences": [owner_reference(sts)],
        },
        "spec": spec,
    }


def _ordinal(pod: dict[str, Any], set_name: str) -> int:
    suffix = pod["metadata"]["name"][len(set_name) + 1:]
    return int(suffix) if suffix.isdigit() else -1


def _owned_by(pod: dict[str, Any], owner: dict[str, Any]) -> bool:
    return any(r.get("uid") == owner["metadata"]["uid"] and r.get("controller")
               for r in pod["metadata"].get("ownerReferences") or ())


class StatefulSetController:
    def __init__(self, client: Client) -> None:
        self.client = client
        self.events = EventRecorder(client)
        self.controller = Controller(
            "statefulset-controller", client, self.reconcile,
            [(STATEFULSETS, own_key), (PODS, owner_keys("StatefulSet"))],
        )

    async def run(self) -> None:
        await self.controller.run()

    async def reconcile(self, key: Key) -> float | None:
        namespace, name = key
        sts = await self.client.get(STATEFULSETS, namespace, name)
        if sts is None or sts["metadata"].get("deletionTimestamp"):
            return None
        spec = sts["spec"]
        replicas = int(spec.get("replicas", 1))
        revision = f"{name}-{template_hash(spec.get('template') or {})}"
        owned = [p for p in await self.client.list(PODS, namespace) if _owned_by(p, sts)]
        existing = {_ordinal(p, name): p for p in owned}
        pods = {o: p for o, p in existing.items() if is_active(p)}
        parallel = spec.get("podManagementPolicy") == "Parallel"
        for ordinal in range(replicas):
            pod = existing.get(ordinal)
            if pod is not None and not is_active(pod):
                if not pod["metadata"].get("deletionTimestamp"):  # a failed or finished pod is replaced
                    await self._delete(sts, pod)
                if parallel:
                    continue
                break  # the name is free once the old pod is gone: its deletion wakes us again
            if pod is not None:
                if not parallel and not is_ready(pod):
                    break
                continue
            pod = await self.client.create(PODS, namespace, build_pod(sts, ordinal, revision))
            pods[ordinal] = pod
            await self.events.record(sts, NORMAL, "SuccessfulCreate",
                                     f"create Pod {pod['metadata']['name']} in StatefulSet {name} successful",
                                     "statefulset-controller")
            if not parallel:
                break
        for ordinal in sorted((o for o in pods if o >= replicas or o < 0), reverse=True):
            await self._delete(sts, pods.pop(ordinal))
            if not parallel:
                break
        kept = [pods[o] for o in sorted(pods)]
        outdated = [p for p in kept if (p["metadata"].get("labels") or {}).get(REVISION_LABEL) != revision]
        rolling = (spec.get("updateStrategy") or {}).get("type", "RollingUpdate") == "RollingUpdate"
        if rolling and outdated and len(kept) == replicas and all(is_ready(p) for p in kept):
            await self._delete(sts, outdated[-1])  # recreated with the new template on the next pass
        await self._write_status(sts, kept, revision, len(outdated))
        return None

    async def _delete(self, sts: dict[str, Any], pod: dict[str, Any]) -> None:
        await self.client.delete(PODS, pod["metadata"]["namespace"], pod["metadata"]["name"])
        await self.events.record(
            sts, NORMAL, "SuccessfulDelete",
            f"delete Pod {pod['metadata']['name']} in StatefulSet {sts['metadata']['name']} successful",
            "statefulset-controller",
        )

    async def _write_status(self, sts: dict[str, Any], pods: list[dict[str, Any]], revision: str,
                            outdated: int) -> None:
        ready = sum(1 for p in pods if is_ready(p))
        updated = len(pods) - outdated
        current = dict(sts.get("status") or {})
        current_revision = current.get("currentRevision") or revision
        if outdated == 0:
            current_revision = revision
        status = {
            "observedGeneration": sts["metadata"].get("generation", 1),
            "replicas": len(pods),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "currentReplicas": updated if current_revision == revision else outdated,
            "updatedReplicas": updated,
            "currentRevision": current_revision,
            "updateRevision": revision,
            "collisionCount": 0,
        }
        if any(current.get(k) != v for k, v in status.items()):
            await self.client.patch_status(STATEFULSETS, sts, status)
