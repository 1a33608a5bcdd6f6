"""The DaemonSet controller for the sim's single node: one pod per DaemonSet on `conveyor-sim`,
replaced when it fails, finishes or runs an older template (kube's RollingUpdate with
maxUnavailable 1 comes to exactly that on one node).

Its status is what `kubectl rollout status ds/x` and helm 4's kstatus wait on: observedGeneration
and the scheduled / ready / updated / available counts, all 1 once the pod of the newest template is
Ready. Node selectors, tolerations and `OnDelete` are not modelled.
"""

from __future__ import annotations

import copy
from typing import Any

from conveyor.sim.controllers.client import PODS, Client, Resource
from conveyor.sim.controllers.deployments import template_hash
from conveyor.sim.controllers.events import NORMAL, EventRecorder
from conveyor.sim.controllers.jobs import is_active, is_ready, owner_reference
from conveyor.sim.controllers.loop import Controller, Key, own_key, owner_keys

DAEMONSETS = Resource("apps", "v1", "daemonsets")
REVISION_LABEL = "controller-revision-hash"
# What kube's DaemonSet controller lets its pods tolerate: they run on cordoned and troubled nodes.
_DAEMON_TOLERATIONS = (
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
)


def build_pod(ds: dict[str, Any], revision: str) -> dict[str, Any]:
    template = copy.deepcopy(ds["spec"].get("template") or {})
    meta = template.get("metadata") or {}
    spec = template.get("spec") or {}  # bound to the node by the sim's scheduler (the kubelet), as in kube
    tolerations = spec.setdefault("tolerations", [])
    for key, effect in _DAEMON_TOLERATIONS:
        if not any(t.get("key") == key and t.get("effect") == effect for t in tolerations):
            tolerations.append({"key": key, "operator": "Exists", "effect": effect})
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            **{k: v for k, v in meta.items() if k not in ("name", "namespace", "uid")},
            "generateName": ds["metadata"]["name"] + "-",
            "namespace": ds["metadata"]["namespace"],
            "labels": {**(meta.get("labels") or {}), REVISION_LABEL: revision,
                       "pod-template-generation": str(ds["metadata"].get("generation", 1))},
            "ownerReferences": [owner_reference(ds)],
        },
        "spec": spec,
    }


def _owned_by(pod: dict[str, Any], owner: dict[str, Any]) -> bool:
    return any(r.get("uid") == owner["metadata"]["uid"] and r.get("controller")
               for r in pod["metadata"].get("ownerReferences") or ())


class DaemonSetController:
    def __init__(self, client: Client) -> None:
        self.client = client
        self.events = EventRecorder(client)
        self.controller = Controller(
            "daemonset-controller", client, self.reconcile,
            [(DAEMONSETS, own_key), (PODS, owner_keys("DaemonSet"))],
        )

    async def run(self) -> None:
        await self.controller.run()

    async def reconcile(self, key: Key) -> float | None:
        namespace, name = key
        ds = await self.client.get(DAEMONSETS, namespace, name)
        if ds is None or ds["metadata"].get("deletionTimestamp"):
            return None
        revision = template_hash(ds["spec"].get("template") or {})
        owned = [p for p in await self.client.list(PODS, namespace) if _owned_by(p, ds)]
        keep = next((p for p in owned if is_active(p)
                     and (p["metadata"].get("labels") or {}).get(REVISION_LABEL) == revision), None)
        for pod in owned:
            if pod is not keep and not pod["metadata"].get("deletionTimestamp"):
                await self._delete(ds, pod)  # failed, finished, of an older template, or one too many
        terminating = any(p is not keep for p in owned)
        if keep is None and not terminating:
            keep = await self.client.create(PODS, namespace, build_pod(ds, revision))
            await self.events.record(ds, NORMAL, "SuccessfulCreate",
                                     f"Created pod: {keep['metadata']['name']}", "daemonset-controller")
        current = [keep] if keep is not None else []
        active = current or [p for p in owned if is_active(p)]
        ready = sum(1 for p in current if is_ready(p))
        status = {
            "observedGeneration": ds["metadata"].get("generation", 1),
            "desiredNumberScheduled": 1,
            "currentNumberScheduled": 1 if active else 0,
            "numberMisscheduled": 0,
            "numberReady": ready,
            "numberAvailable": ready,
            "updatedNumberScheduled": len(current),
        }
        existing = ds.get("status") or {}
        if ready < 1:
            status["numberUnavailable"] = 1
        elif "numberUnavailable" in existing:
            status["numberUnavailable"] = None  # a merge patch removes it: kube omits zero
        if any(existing.get(k) != v for k, v in status.items()):
            await self.client.patch_status(DAEMONSETS, ds, status)
        return None

    async def _delete(self, ds: dict[str, Any], pod: dict[str, Any]) -> None:
        await self.client.delete(PODS, pod["metadata"]["namespace"], pod["metadata"]["name"])
        await self.events.record(ds, NORMAL, "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}",
                                 "daemonset-controller")
