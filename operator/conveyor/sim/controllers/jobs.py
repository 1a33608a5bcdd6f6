"""The Job controller: Pods from a Job's template until it completes or fails, as kube's does.

Rules kept (kube's job controller, NonIndexed completion mode):
- Pods are created from the template with `generateName: <job>-`, the labels `job-name`,
  `batch.kubernetes.io/job-name`, `controller-uid`, `batch.kubernetes.io/controller-uid` and a
  controller owner reference, and the finalizer `batch.kubernetes.io/job-tracking`.
- A terminated Pod is counted exactly once even if it is deleted afterwards: its uid goes into
  `status.uncountedTerminatedPods` first, then its finalizer is removed, then it moves into
  `succeeded` / `failed` (kube's crash-safe tracking with finalizers).
- Complete when `completions` Pods succeeded (no `completions`: one success and none active);
  Failed with BackoffLimitExceeded when failures (plus container restarts, for OnFailure Pods)
  exceed `backoffLimit`, or DeadlineExceeded after `activeDeadlineSeconds`; active Pods are then
  deleted. The newer SuccessCriteriaMet / FailureTarget conditions come first, as in kube 1.31+.
- `suspend`: no Pods, active ones deleted, condition Suspended; on resume startTime restarts.
- `ttlSecondsAfterFinished`: the Job is deleted (Background propagation) that long after it finished.
- A failed Pod is replaced at once unless a failure back-off is configured (kube waits 10s,
  doubling to 6 min, after each failure; see `JobController`).
Not done: Indexed completion mode, podFailurePolicy, successPolicy, podReplacementPolicy, Events.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from conveyor.sim.controllers.client import JOBS, PODS, Client
from conveyor.sim.controllers.events import NORMAL, WARNING, EventRecorder
from conveyor.sim.controllers.loop import Controller, Key, own_key, owner_keys

TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking"
TERMINAL = ("Succeeded", "Failed")


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_time(text: str) -> float:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC).timestamp()


def pod_labels(job: dict[str, Any]) -> dict[str, str]:
    name, uid = job["metadata"]["name"], job["metadata"]["uid"]
    return {
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": name,
        "controller-uid": uid,
        "job-name": name,
    }


def owner_reference(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def build_pod(job: dict[str, Any]) -> dict[str, Any]:
    """A Pod for one attempt of the Job (pure)."""
    template = copy.deepcopy(job["spec"].get("template") or {})
    meta = template.get("metadata") or {}
    spec = template.get("spec") or {}
    labels = {**(meta.get("labels") or {}), **pod_labels(job)}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            **{k: v for k, v in meta.items() if k not in ("name", "namespace", "uid")},
            "generateName": job["metadata"]["name"] + "-",
            "namespace": job["metadata"]["namespace"],
            "labels": labels,
            "ownerReferences": [owner_reference(job)],
            "finalizers": [TRACKING_FINALIZER],
        },
        "spec": spec,
    }


def condition(kind: str, reason: str, message: str, at: str, status: str = "True") -> dict[str, Any]:
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message,
        "lastProbeTime": at,
        "lastTransitionTime": at,
    }


def has_condition(status: dict[str, Any], kind: str) -> bool:
    return any(c.get("type") == kind and c.get("status") == "True" for c in status.get("conditions") or ())


def finished_at(status: dict[str, Any]) -> str | None:
    """When the Job reached Complete or Failed (None while it has not)."""
    for c in status.get("conditions") or ():
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            return str(c.get("lastTransitionTime"))
    return None


def is_active(pod: dict[str, Any]) -> bool:
    return (pod.get("status") or {}).get("phase") not in TERMINAL and not pod["metadata"].get(
        "deletionTimestamp"
    )


def is_ready(pod: dict[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or ()
    )


def restarts(pod: dict[str, Any]) -> int:
    return sum(
        int(s.get("restartCount") or 0) for s in (pod.get("status") or {}).get("containerStatuses") or ()
    )


@dataclass(frozen=True)
class JobSpec:
    """The fields of a Job's spec the controller obeys, with kube's defaults."""

    parallelism: int
    completions: int | None
    backoff_limit: int
    deadline: int | None
    ttl: int | None
    suspend: bool
    restart_policy: str

    @classmethod
    def of(cls, job: dict[str, Any]) -> JobSpec:
        spec = job.get("spec") or {}
        pod_spec = (spec.get("template") or {}).get("spec") or {}
        parallelism = spec.get("parallelism")
        return cls(
            1 if parallelism is None else int(parallelism),
            None if spec.get("completions") is None else int(spec["completions"]),
            6 if spec.get("backoffLimit") is None else int(spec["backoffLimit"]),
            spec.get("activeDeadlineSeconds"),
            spec.get("ttlSecondsAfterFinished"),
            bool(spec.get("suspend")),
            pod_spec.get("restartPolicy") or "Never",
        )

    def wanted_active(self, succeeded: int) -> int:
        if self.completions is None:
            return 0 if succeeded > 0 else self.parallelism
        return max(0, min(self.parallelism, self.completions - succeeded))

    def complete(self, succeeded: int, active: int) -> bool:
        if self.completions is None:
            return succeeded > 0 and active == 0
        return succeeded >= self.completions


def failure_delay(failed: int, base: float, cap: float) -> float:
    """kube's delay before replacing a failed Pod: base after the first failure, doubling, capped."""
    return 0.0 if failed <= 0 or base <= 0 else min(base * 2 ** (failed - 1), cap)


def last_failure(pods: list[dict[str, Any]]) -> float | None:
    """When the most recent failed Pod still present finished (epoch seconds)."""
    times = [
        parse_time(s["state"]["terminated"]["finishedAt"])
        for p in pods
        if (p.get("status") or {}).get("phase") == "Failed"
        for s in (p.get("status") or {}).get("containerStatuses") or ()
        if (s.get("state") or {}).get("terminated", {}).get("finishedAt")
    ]
    return max(times) if times else None


class JobController:
    """`failure_backoff` is the delay before a failed Pod is replaced (kube: 10s doubling to 6 min);
    the sim's default is none, so a Job's retries (and the tests of them) run at once."""

    def __init__(
        self, client: Client, failure_backoff: float = 0.0, failure_backoff_cap: float = 360.0
    ) -> None:
        self.client = client
        self.events = EventRecorder(client)
        self.failure_backoff = failure_backoff
        self.failure_backoff_cap = failure_backoff_cap
        self.controller = Controller(
            "job-controller", client, self.reconcile, [(JOBS, own_key), (PODS, owner_keys("Job"))]
        )

    async def run(self) -> None:
        await self.controller.run()

    async def reconcile(self, key: Key) -> float | None:
        namespace, name = key
        job = await self.client.get(JOBS, namespace, name)
        await self._release_orphans(namespace, name, job)
        if job is None or job["metadata"].get("deletionTimestamp"):
            return None
        pods = [
            p
            for p in await self.client.list(
                PODS, namespace, {"batch.kubernetes.io/controller-uid": job["metadata"]["uid"]}
            )
            if any(r.get("uid") == job["metadata"]["uid"] for r in p["metadata"].get("ownerReferences") or ())
        ]
        tracked = await self._track_terminated(job, pods)
        if tracked is None:
            return None
        job = tracked
        status = job.get("status") or {}
        spec = JobSpec.of(job)
        if finished_at(status) is not None:
            return await self._after_finish(job, spec, pods)
        return await self._drive(job, spec, pods)

    async def _release_orphans(self, namespace: str, name: str, job: dict[str, Any] | None) -> None:
        """Pods of a Job that is gone or being deleted lose their tracking finalizer, so deleting
        them (garbage collection, namespace termination) is never held up by it."""
        live_uid = job["metadata"]["uid"] if job and not job["metadata"].get("deletionTimestamp") else None
        for pod in await self.client.list(PODS, namespace, {"batch.kubernetes.io/job-name": name}):
            owner = pod["metadata"].get("labels", {}).get("batch.kubernetes.io/controller-uid")
            if owner != live_uid and TRACKING_FINALIZER in (pod["metadata"].get("finalizers") or ()):
                await self.client.remove_finalizer(PODS, pod, TRACKING_FINALIZER)

    async def _track_terminated(
        self, job: dict[str, Any], pods: list[dict[str, Any]]
    ) -> dict[str, Any] | None:
        """Count each terminated Pod once: uncounted → finalizer removed → counted. None: Job gone."""
        status = job.get("status") or {}
        uncounted = status.get("uncountedTerminatedPods") or {}
        pending = {
            "succeeded": list(uncounted.get("succeeded") or ()),
            "failed": list(uncounted.get("failed") or ()),
        }
        known = set(pending["succeeded"]) | set(pending["failed"])
        fresh = False
        for pod in pods:
            phase = (pod.get("status") or {}).get("phase")
            uid = pod["metadata"]["uid"]
            tracked = TRACKING_FINALIZER in (pod["metadata"].get("finalizers") or ())
            never_ran = bool(pod["metadata"].get("deletionTimestamp")) and phase in (None, "Pending")
            if tracked and (phase in TERMINAL or never_ran) and uid not in known:
                pending["succeeded" if phase == "Succeeded" else "failed"].append(uid)
                known.add(uid)
                fresh = True
        if not known:
            return job
        current = job
        if fresh:
            written = await self.client.patch_status(JOBS, job, {"uncountedTerminatedPods": pending})
            if written is None:
                return None
            current = written
        by_uid = {p["metadata"]["uid"]: p for p in pods}
        for uid in known:
            counted_pod = by_uid.get(uid)
            if counted_pod is not None and TRACKING_FINALIZER in (
                counted_pod["metadata"].get("finalizers") or ()
            ):
                await self.client.remove_finalizer(PODS, counted_pod, TRACKING_FINALIZER)
        counted = current.get("status") or {}
        return await self.client.patch_status(
            JOBS,
            current,
            {
                "uncountedTerminatedPods": None,
                "succeeded": int(counted.get("succeeded") or 0) + len(pending["succeeded"]),
                "failed": int(counted.get("failed") or 0) + len(pending["failed"]),
            },
        )

    async def _drive(self, job: dict[str, Any], spec: JobSpec, pods: list[dict[str, Any]]) -> float | None:
        status = job.get("status") or {}
        active = [p for p in pods if is_active(p)]
        succeeded = int(status.get("succeeded") or 0)
        failed = int(status.get("failed") or 0)
        at = now_text()
        conditions = list(status.get("conditions") or ())
        others = [c for c in conditions if c.get("type") != "Suspended"]
        was_suspended = has_condition(status, "Suspended")
        update: dict[str, Any] = {}

        if spec.suspend:
            for pod in active:
                await self._delete_pod(pod)
            if not was_suspended:
                update["conditions"] = [*others, condition("Suspended", "JobSuspended", "Job suspended", at)]
            update.update(active=0, ready=0)
            await self._write(job, update)
            return None
        if was_suspended:
            conditions = [*others, condition("Suspended", "JobResumed", "Job resumed", at, "False")]
            update["conditions"] = conditions
            update["startTime"] = at
        start = update.get("startTime") or status.get("startTime")
        if start is None:
            start = update["startTime"] = at

        failure: tuple[str, str] | None = None
        restarts_count = sum(restarts(p) for p in active) if spec.restart_policy == "OnFailure" else 0
        if failed + restarts_count > spec.backoff_limit:
            failure = ("BackoffLimitExceeded", "Job has reached the specified backoff limit")
        elif spec.deadline is not None and datetime.now(UTC).timestamp() - parse_time(start) >= spec.deadline:
            failure = ("DeadlineExceeded", "Job was active longer than specified deadline")
        if failure is not None:
            for pod in active:
                await self._delete_pod(pod)
            update["conditions"] = [
                *conditions,
                condition("FailureTarget", *failure, at),
                condition("Failed", *failure, at),
            ]
            update.update(active=0, ready=0)
            await self._write(job, update)
            await self.events.record(job, WARNING, failure[0], failure[1], "job-controller")
            return float(spec.ttl) if spec.ttl is not None else None

        if spec.complete(succeeded, len(active)):
            for pod in active:  # kube removes the ones still running once the Job has succeeded
                await self._delete_pod(pod)
            message = "Reached expected number of succeeded pods"
            update["conditions"] = [
                *conditions,
                condition("SuccessCriteriaMet", "CompletionsReached", message, at),
                condition("Complete", "CompletionsReached", message, at),
            ]
            update.update(active=0, ready=0, completionTime=at)
            await self._write(job, update)
            await self.events.record(job, NORMAL, "Completed", "Job completed", "job-controller")
            return float(spec.ttl) if spec.ttl is not None else None

        wanted = spec.wanted_active(succeeded)
        delay = failure_delay(failed, self.failure_backoff, self.failure_backoff_cap)
        finished = last_failure(pods) if delay > 0 and wanted > len(active) else None
        if finished is not None and finished + delay > datetime.now(UTC).timestamp():
            update.update(active=len(active), ready=sum(1 for p in active if is_ready(p)))
            await self._write(job, update)
            return finished + delay - datetime.now(UTC).timestamp() + 0.05
        for _ in range(wanted - len(active)):
            pod = await self.client.create(PODS, job["metadata"]["namespace"], build_pod(job))
            await self.events.record(job, NORMAL, "SuccessfulCreate",
                                     f"Created pod: {pod['metadata']['name']}",
                                     "job-controller")
        for pod in sorted(active, key=lambda p: p["metadata"].get("creationTimestamp") or "")[wanted:]:
            await self._delete_pod(pod)
        update.update(active=wanted, ready=sum(1 for p in active if is_ready(p)))
        await self._write(job, update)
        if spec.deadline is not None:
            return max(parse_time(start) + spec.deadline - datetime.now(UTC).timestamp(), 0.0) + 0.05
        return None

    async def _after_finish(
        self, job: dict[str, Any], spec: JobSpec, pods: list[dict[str, Any]]
    ) -> float | None:
        status = job.get("status") or {}
        for pod in pods:
            if is_active(pod):
                await self._delete_pod(pod)
        if spec.ttl is None:
            return None
        finished = finished_at(status)
        assert finished is not None
        left = parse_time(finished) + spec.ttl - datetime.now(UTC).timestamp()
        if left > 0:
            return left + 0.05
        await self.client.delete(
            JOBS,
            job["metadata"]["namespace"],
            job["metadata"]["name"],
            propagation="Background",
            uid=job["metadata"]["uid"],
        )
        return None

    async def _delete_pod(self, pod: dict[str, Any]) -> None:
        """Pods the controller removes itself (suspend, excess, a finished Job) are not failures:
        their tracking finalizer goes first, so they are never counted."""
        if TRACKING_FINALIZER in (pod["metadata"].get("finalizers") or ()):
            await self.client.remove_finalizer(PODS, pod, TRACKING_FINALIZER)
        await self.client.delete(PODS, pod["metadata"]["namespace"], pod["metadata"]["name"])

    async def _write(self, job: dict[str, Any], update: dict[str, Any]) -> None:
        status = job.get("status") or {}
        if any(status.get(k) != v for k, v in update.items()):
            await self.client.patch_status(JOBS, job, update)
