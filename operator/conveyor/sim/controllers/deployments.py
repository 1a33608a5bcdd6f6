"""Deployment → ReplicaSet → Pod, as kube's controllers do it (a simple rolling update).

ReplicaSet rules: keep `spec.replicas` live Pods (not terminal, not being deleted) matching the
selector and owned by the set; create them with `generateName: <rs>-` and a controller owner
reference; remove extras preferring Pods that are not ready, then the newest; status counts
replicas / ready / available and `observedGeneration`.

Deployment rules: the ReplicaSet for the current template is `<deployment>-<pod-template-hash>`,
the hash labelling its selector, template and Pods; a changed template makes a new ReplicaSet,
scaled to `replicas` at once, while the old ones shrink as new Pods become available (Recreate:
old ones go to zero first). Status (replicas, updated, ready, available, observedGeneration) and the
conditions Available and Progressing (reason NewReplicaSetAvailable when done) are what
`kubectl rollout status` reads. Not done: maxSurge/maxUnavailable arithmetic, minReadySeconds,
progressDeadlineSeconds, pausing, rollback.
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from conveyor.sim.controllers.client import DEPLOYMENTS, PODS, REPLICASETS, Client
from conveyor.sim.controllers.events import NORMAL, EventRecorder
from conveyor.sim.controllers.jobs import is_active, is_ready, now_text, owner_reference
from conveyor.sim.controllers.loop import Controller, Key, own_key, owner_keys
from conveyor.sim.selectors import selector_from_match

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
_SAFE = "bcdfghjklmnpqrstvwxz2456789"


def template_hash(template: dict[str, Any], collisions: int = 0) -> str:
    """A stable name-safe hash of a pod template (kube uses FNV-32a; any stable hash will do)."""
    canonical = json.dumps(template, sort_keys=True, separators=(",", ":")) + str(collisions)
    value = int.from_bytes(hashlib.sha256(canonical.encode()).digest()[:8], "big")
    out = ""
    while len(out) < 10:
        value, digit = divmod(value, len(_SAFE))
        out += _SAFE[digit]
    return out


def _selector_labels(selector: dict[str, Any] | None) -> dict[str, str]:
    return dict((selector or {}).get("matchLabels") or {})


# Deployment annotations the controller keeps to itself rather than copying onto its ReplicaSets.
_NOT_COPIED = frozenset({
    "kubectl.kubernetes.io/last-applied-configuration", REVISION, "deployment.kubernetes.io/revision-history",
    "deployment.kubernetes.io/desired-replicas", "deployment.kubernetes.io/max-replicas",
})


def copied_annotations(deployment: dict[str, Any]) -> dict[str, str]:
    """What the newest ReplicaSet inherits from its Deployment, notably `kubernetes.io/change-cause`:
    `kubectl rollout history` reads its CHANGE-CAUSE column from the ReplicaSets."""
    annotations = deployment["metadata"].get("annotations") or {}
    return {k: v for k, v in annotations.items() if k not in _NOT_COPIED}


def build_replicaset(
    deployment: dict[str, Any], pod_hash: str, replicas: int, revision: int
) -> dict[str, Any]:
    spec = deployment["spec"]
    template = copy.deepcopy(spec.get("template") or {})
    template.setdefault("metadata", {}).setdefault("labels", {})[HASH_LABEL] = pod_hash
    selector = copy.deepcopy(spec.get("selector") or {})
    selector.setdefault("matchLabels", {})[HASH_LABEL] = pod_hash
    meta = deployment["metadata"]
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {
            "name": f"{meta['name']}-{pod_hash}",
            "namespace": meta["namespace"],
            "labels": {**(template["metadata"].get("labels") or {})},
            "annotations": {
                **copied_annotations(deployment),
                REVISION: str(revision),
                "deployment.kubernetes.io/desired-replicas": str(spec.get("replicas", 1)),
                "deployment.kubernetes.io/max-replicas": str(spec.get("replicas", 1)),
            },
            "ownerReferences": [owner_reference(deployment)],
        },
        "spec": {
            "replicas": replicas,
            "selector": selector,
            "template": template,
            "minReadySeconds": spec.get("minReadySeconds", 0),
        },
    }


def build_pod(rs: dict[str, Any]) -> dict[str, Any]:
    template = copy.deepcopy(rs["spec"].get("template") or {})
    meta = template.get("metadata") or {}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            **{k: v for k, v in meta.items() if k not in ("name", "namespace", "uid")},
            "generateName": rs["metadata"]["name"] + "-",
            "namespace": rs["metadata"]["namespace"],
            "ownerReferences": [owner_reference(rs)],
        },
        "spec": template.get("spec") or {},
    }


def _owned_by(obj: dict[str, Any], owner: dict[str, Any]) -> bool:
    return any(
        r.get("uid") == owner["metadata"]["uid"] and r.get("controller")
        for r in obj["metadata"].get("ownerReferences") or ()
    )


def _scale_down_order(pod: dict[str, Any]) -> tuple[int, int, str]:
    """Delete first: unscheduled/pending, then not ready, then the newest (kube's ActivePods order)."""
    phase = (pod.get("status") or {}).get("phase")
    return (
        0 if phase == "Pending" else 1,
        1 if is_ready(pod) else 0,
        _neg(pod["metadata"].get("creationTimestamp") or ""),
    )


def _neg(text: str) -> str:
    return "".join(chr(0x10FFFF - ord(c)) for c in text)


class ReplicaSetController:
    def __init__(self, client: Client) -> None:
        self.client = client
        self.events = EventRecorder(client)
        self.controller = Controller(
            "replicaset-controller",
            client,
            self.reconcile,
            [(REPLICASETS, own_key), (PODS, owner_keys("ReplicaSet"))],
        )

    async def run(self) -> None:
        await self.controller.run()

    async def reconcile(self, key: Key) -> float | None:
        namespace, name = key
        rs = await self.client.get(REPLICASETS, namespace, name)
        if rs is None or rs["metadata"].get("deletionTimestamp"):
            return None
        selector = selector_from_match(rs["spec"].get("selector"))
        pods = [
            p
            for p in await self.client.list(PODS, namespace, _selector_labels(rs["spec"].get("selector")))
            if _owned_by(p, rs) and selector.matches(p["metadata"].get("labels"))
        ]
        active = [p for p in pods if is_active(p)]
        wanted = int(rs["spec"].get("replicas", 1))
        for _ in range(wanted - len(active)):
            pod = await self.client.create(PODS, namespace, build_pod(rs))
            await self.events.record(rs, NORMAL, "SuccessfulCreate",
                                     f"Created pod: {pod['metadata']['name']}",
                                     "replicaset-controller")
        for pod in sorted(active, key=_scale_down_order)[: max(len(active) - wanted, 0)]:
            await self.client.delete(PODS, namespace, pod["metadata"]["name"])
            await self.events.record(rs, NORMAL, "SuccessfulDelete",
                                     f"Deleted pod: {pod['metadata']['name']}",
                                     "replicaset-controller")
        kept = sorted(active, key=_scale_down_order)[max(len(active) - wanted, 0) :]
        ready = sum(1 for p in kept if is_ready(p))
        status = {
            "replicas": len(kept),
            "fullyLabeledReplicas": len(kept),
            "readyReplicas": ready,
            "availableReplicas": ready,
            "observedGeneration": rs["metadata"].get("generation", 1),
        }
        current = rs.get("status") or {}
        if any(current.get(k) != v for k, v in status.items()):
            await self.client.patch_status(REPLICASETS, rs, status)
        return None


class DeploymentController:
    def __init__(self, client: Client) -> None:
        self.client = client
        self.events = EventRecorder(client)
        self.controller = Controller(
            "deployment-controller",
            client,
            self.reconcile,
            [(DEPLOYMENTS, own_key), (REPLICASETS, owner_keys("Deployment"))],
        )

    async def run(self) -> None:
        await self.controller.run()

    async def reconcile(self, key: Key) -> float | None:
        namespace, name = key
        deploy = await self.client.get(DEPLOYMENTS, namespace, name)
        if deploy is None or deploy["metadata"].get("deletionTimestamp"):
            return None
        spec = deploy["spec"]
        replicas = int(spec.get("replicas", 1))
        owned = [rs for rs in await self.client.list(REPLICASETS, namespace) if _owned_by(rs, deploy)]
        pod_hash = template_hash(
            spec.get("template") or {}, int((deploy.get("status") or {}).get("collisionCount") or 0)
        )
        new_name = f"{name}-{pod_hash}"
        new = next((rs for rs in owned if rs["metadata"]["name"] == new_name), None)
        old = [rs for rs in owned if rs["metadata"]["name"] != new_name]
        revision = max(
            [int((rs["metadata"].get("annotations") or {}).get(REVISION, "0")) for rs in owned] or [0]
        )
        recreate = (spec.get("strategy") or {}).get("type") == "Recreate"

        if new is None:
            start = 0 if recreate and any(_live(rs) for rs in old) else replicas
            new = await self.client.create(
                REPLICASETS, namespace, build_replicaset(deploy, pod_hash, start, revision + 1)
            )
            if start:
                await self._scaled(deploy, new, 0, start)
        else:
            new_rev = int((new["metadata"].get("annotations") or {}).get(REVISION, "0"))
            if new_rev < revision:  # a rollback to an older template: it becomes the newest revision
                new = await self._set_revision(new, revision + 1)
            inherited = copied_annotations(deploy)
            current = new["metadata"].get("annotations") or {}
            if any(current.get(k) != v for k, v in inherited.items()):
                new = await self.client.merge_patch(
                    REPLICASETS, namespace, new["metadata"]["name"], {"metadata": {"annotations": inherited}}
                ) or new
            wanted = 0 if recreate and any(_live(rs) for rs in old) else replicas
            new = await self._scale(deploy, new, wanted)
        new_available = int((new.get("status") or {}).get("availableReplicas") or 0)
        for rs in old:
            keep = (
                0 if recreate else max(0, min(int(rs["spec"].get("replicas", 0)), replicas - new_available))
            )
            await self._scale(deploy, rs, keep)
        await self._write_status(deploy, new, old)
        return None

    async def _scale(self, deploy: dict[str, Any], rs: dict[str, Any], replicas: int) -> dict[str, Any]:
        before = int(rs["spec"].get("replicas", 0))
        if before == replicas:
            return rs
        result = await self.client.merge_patch(
            REPLICASETS, rs["metadata"]["namespace"], rs["metadata"]["name"], {"spec": {"replicas": replicas}}
        )
        if result is not None:
            await self._scaled(deploy, rs, before, replicas)
        return result or rs

    async def _scaled(self, deploy: dict[str, Any], rs: dict[str, Any], before: int, after: int) -> None:
        direction = "up" if after > before else "down"
        await self.events.record(
            deploy, NORMAL, "ScalingReplicaSet",
            f"Scaled {direction} replica set {rs['metadata']['name']} from {before} to {after}",
            "deployment-controller",
        )

    async def _set_revision(self, rs: dict[str, Any], revision: int) -> dict[str, Any]:
        result = await self.client.merge_patch(
            REPLICASETS,
            rs["metadata"]["namespace"],
            rs["metadata"]["name"],
            {"metadata": {"annotations": {REVISION: str(revision)}}},
        )
        return result or rs

    async def _write_status(
        self, deploy: dict[str, Any], new: dict[str, Any], old: list[dict[str, Any]]
    ) -> None:
        sets = [new, *old]
        replicas = int(deploy["spec"].get("replicas", 1))

        def total(field: str) -> int:
            return sum(int((rs.get("status") or {}).get(field) or 0) for rs in sets)

        new_status = new.get("status") or {}
        updated = int(new_status.get("replicas") or 0)
        available = total("availableReplicas")
        current = deploy.get("status") or {}
        at = now_text()
        done = (
            updated == replicas
            and total("replicas") == replicas
            and available >= replicas
            and new_status.get("observedGeneration", 0) >= new["metadata"].get("generation", 1)
        )
        rs_name = new["metadata"]["name"]
        progressing = (
            ("NewReplicaSetAvailable", f'ReplicaSet "{rs_name}" has successfully progressed.')
            if done
            else ("ReplicaSetUpdated", f'ReplicaSet "{rs_name}" is progressing.')
        )
        available_ok = available >= replicas  # maxUnavailable taken as 0: simple and strict
        wanted_conditions = [
            (
                "Available",
                available_ok,
                "MinimumReplicasAvailable" if available_ok else "MinimumReplicasUnavailable",
                "Deployment has minimum availability."
                if available_ok
                else "Deployment does not have minimum availability.",
            ),
            ("Progressing", True, *progressing),
        ]
        before = {c.get("type"): c for c in current.get("conditions") or ()}
        conditions = []
        for kind, ok, reason, message in wanted_conditions:
            old_cond = before.get(kind) or {}
            state = "True" if ok else "False"
            same = old_cond.get("status") == state and old_cond.get("reason") == reason
            conditions.append(
                {
                    "type": kind,
                    "status": state,
                    "reason": reason,
                    "message": message,
                    "lastUpdateTime": old_cond.get("lastUpdateTime", at) if same else at,
                    "lastTransitionTime": old_cond.get("lastTransitionTime", at)
                    if old_cond.get("status") == state
                    else at,
                }
            )
        status: dict[str, Any] = {
            "observedGeneration": deploy["metadata"].get("generation", 1),
            "replicas": total("replicas"),
            "updatedReplicas": updated,
            "readyReplicas": total("readyReplicas"),
            "availableReplicas": available,
            "unavailableReplicas": max(replicas - available, 0),
            "conditions": conditions,
        }
        if status["unavailableReplicas"] == 0:
            status["unavailableReplicas"] = None  # omitted, as kube omits zero
        if any(current.get(k) != v for k, v in status.items() if v is not None) or (
            status["unavailableReplicas"] is None and "unavailableReplicas" in current
        ):
            await self.client.patch_status(DEPLOYMENTS, deploy, status)
        annotations = deploy["metadata"].get("annotations") or {}
        revision = (new["metadata"].get("annotations") or {}).get(REVISION)
        if revision and annotations.get(REVISION) != revision:
            await self.client.merge_patch(
                DEPLOYMENTS,
                deploy["metadata"]["namespace"],
                deploy["metadata"]["name"],
                {"metadata": {"annotations": {REVISION: revision}}},
            )


def _live(rs: dict[str, Any]) -> bool:
    return int(rs["spec"].get("replicas", 0)) > 0 or int((rs.get("status") or {}).get("replicas") or 0) > 0
