"""Helpers of the integration tests: an operator on a thread, the cluster as a test drives it, and a
stand-in for the worker. Only the API is used (kubectl and the official client), never the sim's
insides, so the same tests run on kind when CONVEYOR_TEST_KUBECONFIG is set.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import threading
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException
from kubetest import wait_for

from conveyor.api.names import FINALIZER, GROUP, VERSION, deployment_lease_name
from conveyor.controller.runtime import Operator, OperatorOptions
from conveyor.kube.events import WORKER_COMPONENT, build_event
from conveyor.locks.holders import LeaseHolders


class OperatorThread:
    """An operator on its own thread and event loop, so tests may block (kubectl, polling)."""

    def __init__(self, options: OperatorOptions) -> None:
        self.options = options
        self.operator: Operator | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name=f"operator-{options.identity}", daemon=True)

    def _main(self) -> None:
        try:
            asyncio.run(self._run())
        except BaseException as error:  # reported by start()/stop()
            self._error = error
            self._ready.set()

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self.operator = Operator(self.options)
        task = asyncio.create_task(self.operator.run(self._stop))
        while not (self.operator.loop is not None and self.operator.loop.resyncs and not task.done()):
            await asyncio.wait([task], timeout=0.02)
            if task.done():
                break
        self._ready.set()
        await task

    def start(self, timeout: float = 30) -> OperatorThread:
        self._thread.start()
        if not self._ready.wait(timeout) or self._error is not None:
            raise AssertionError(f"operator did not start: {self._error!r}")
        return self

    def stop(self, timeout: float = 30) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout)
        if self._thread.is_alive():
            frame = sys._current_frames().get(self._thread.ident or 0)
            stack = "".join(traceback.format_stack(frame)) if frame is not None else "?"
            tasks = []
            if self._loop is not None:
                tasks = [repr(t.get_stack(limit=3)) for t in asyncio.all_tasks(self._loop)]
            raise AssertionError(f"operator did not stop; thread at:\n{stack}\ntasks: {tasks}")

    @property
    def writes(self) -> dict[str, int]:
        assert self.operator is not None and self.operator.loop is not None
        return dict(self.operator.loop.api.writes)


class Cluster:
    """What a test does through the API: create Deployments and Executions, read them back."""

    def __init__(self, api_client: client.ApiClient, namespace: str, kubectl: Any) -> None:
        self.custom = client.CustomObjectsApi(api_client)
        self.coordination = client.CoordinationV1Api(api_client)
        self.core = client.CoreV1Api(api_client)
        self.namespace = namespace
        self.kubectl = kubectl

    def apply(self, obj: dict[str, Any]) -> None:
        self.kubectl("apply", "-f", "-", input=yaml.safe_dump(obj))

    def deployment(self, name: str = "web", workflows: dict[str, Any] | None = None) -> None:
        workflows = workflows or {
            "install": {
                "mapping": "web_workflows.install",
                "parameters": {"target": {"type": "string", "default": "x"}},
            },
            "maintain": {"mapping": "ops.maintain", "parameters": {}},
        }
        self.apply(
            {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": "Deployment",
                "metadata": {"name": name, "namespace": self.namespace},
                "spec": {"workflows": workflows},
            }
        )

    def execution(self, deployment: str | None = "web", workflow: str = "install", **spec: Any) -> str:
        """Create an Execution with kubectl; its generated name."""
        body: dict[str, Any] = {"workflow": workflow, **spec}
        if deployment is not None:
            body["deployment"] = deployment
        manifest = {
            "apiVersion": f"{GROUP}/{VERSION}",
            "kind": "Execution",
            "metadata": {"generateName": f"{workflow.replace('_', '-')}-", "namespace": self.namespace},
            "spec": body,
        }
        out = self.kubectl("create", "-o", "name", "-f", "-", input=yaml.safe_dump(manifest)).stdout.strip()
        return out.split("/")[-1]

    def get(self, name: str) -> dict[str, Any] | None:
        try:
            obj: dict[str, Any] = self.custom.get_namespaced_custom_object(
                GROUP, VERSION, self.namespace, "executions", name
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise
        return obj

    def phase(self, name: str) -> str | None:
        obj = self.get(name)
        return None if obj is None else (obj.get("status") or {}).get("phase")

    def wait_phase(self, name: str, *phases: str, timeout: float = 10.0) -> dict[str, Any]:
        def reached() -> dict[str, Any] | None:
            obj = self.get(name)
            return obj if obj is not None and (obj.get("status") or {}).get("phase") in phases else None

        return wait_for(reached, timeout, f"{name} to be {' or '.join(phases)} (is {self.phase(name)})")

    def list_executions(self) -> list[dict[str, Any]]:
        listed = self.custom.list_namespaced_custom_object(GROUP, VERSION, self.namespace, "executions")
        return list(listed["items"])

    def lease_holders(self, deployment: str | None = "web") -> list[str]:
        """Holders of a deployment Lease (holderIdentity, then the annotation), or of the system Lease."""
        name = deployment_lease_name(deployment) if deployment else "conveyor-system"
        try:
            lease = self.coordination.read_namespaced_lease(name, self.namespace)
        except ApiException as error:
            if error.status == 404:
                return []
            raise
        raw = client.ApiClient().sanitize_for_serialization(lease)
        return list(LeaseHolders.from_lease(raw).holders)

    def set_cancel(self, name: str, mode: str) -> None:
        self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, "executions", name, {"spec": {"cancel": mode}}
        )

    def delete(self, name: str) -> None:
        self.custom.delete_namespaced_custom_object(GROUP, VERSION, self.namespace, "executions", name)

    def events_for(self, name: str) -> list[str]:
        events = self.core.list_namespaced_event(self.namespace, field_selector=f"involvedObject.name={name}")
        return [e.reason for e in sorted(events.items, key=lambda e: e.metadata.name)]

    def clear_finalizers(self) -> None:
        for plural in ("executions", "deployments"):
            listed = self.custom.list_namespaced_custom_object(GROUP, VERSION, self.namespace, plural)
            for obj in listed["items"]:
                if FINALIZER in (obj["metadata"].get("finalizers") or []):
                    try:
                        self.custom.patch_namespaced_custom_object(
                            GROUP,
                            VERSION,
                            self.namespace,
                            plural,
                            obj["metadata"]["name"],
                            {"metadata": {"finalizers": None}},
                        )
                    except ApiException:
                        pass


class WorkerStandIn:
    """STAND-IN FOR THE WORKER until the workers issue lands: plays its part through the API, as the
    worker will (DESIGN.md, "Workers"): claim a pending execution with a CAS (pending → started,
    `worker`), renew its lease, and report a final status. Replace with the real worker's tests."""

    POD = "worker-stand-in"

    def __init__(self, cluster: Cluster) -> None:
        self.cluster = cluster

    def _patch_status(self, obj: dict[str, Any], status: dict[str, Any]) -> dict[str, Any]:
        patch = {"metadata": {"resourceVersion": obj["metadata"]["resourceVersion"]}, "status": status}
        result: dict[str, Any] = self.cluster.custom.patch_namespaced_custom_object_status(
            GROUP, VERSION, self.cluster.namespace, "executions", obj["metadata"]["name"], patch
        )
        return result

    def _announce(self, obj: dict[str, Any], reason: str, message: str) -> None:
        """The Event of a transition it made: the worker posts those (conveyor.kube.events)."""
        now = datetime.now(UTC)
        event = build_event(obj, reason, message, now, component=WORKER_COMPONENT, instance=self.POD)
        self.cluster.core.create_namespaced_event(self.cluster.namespace, event)

    def claim(self, name: str) -> dict[str, Any]:
        """pending → started, a CAS as the worker's claim is; a lost CAS is read again, as the
        worker does (the operator may still be adding its label and finalizer)."""
        while True:
            obj = self.cluster.wait_phase(name, "pending", "terminated", "failed", "cancelled")
            if obj["status"]["phase"] != "pending":  # cancelled (or ended) before a worker came
                raise ApiException(status=409, reason=f"{name} is {obj['status']['phase']}")
            now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            try:
                claimed = self._patch_status(obj, {"phase": "started", "startedAt": now, "worker": self.POD})
            except ApiException as failure:
                if failure.status != 409:
                    raise
                continue
            self._announce(claimed, "Started", f"Started by worker {self.POD}")
            return claimed

    def finish(self, name: str, phase: str = "terminated", error: str | None = None) -> dict[str, Any]:
        """A final status, as the worker reports it when the workflow ends."""
        while True:
            obj = self.cluster.get(name)
            assert obj is not None, f"{name} is gone"
            now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
            status: dict[str, Any] = {"phase": phase, "endedAt": now}
            if error:
                status["error"] = error
            try:
                ended = self._patch_status(obj, status)
            except ApiException as failure:
                if failure.status != 409:
                    raise
                continue
            reason = {"terminated": "Succeeded", "cancelled": "Cancelled"}.get(phase, "Failed")
            self._announce(ended, reason, error or f"Execution {phase}")
            return ended

    def run(self, name: str) -> None:
        self.claim(name)
        self.finish(name)

    @contextlib.contextmanager
    def renewing(self, deployment: str, every: float = 5.0) -> Iterator[None]:
        """Renew `deployment`'s Lease while the block runs, as a worker's heartbeat does for a running
        execution: a test that keeps one running longer than the lease lasts needs it, or the
        operator rightly ends it `failed` (worker lost)."""
        stop = threading.Event()

        def beat() -> None:
            name = deployment_lease_name(deployment)
            while not stop.wait(every):
                try:
                    lease = self.cluster.coordination.read_namespaced_lease(name, self.cluster.namespace)
                    if lease.spec is None:
                        continue
                    lease.spec.renew_time = datetime.now(UTC)
                    self.cluster.coordination.replace_namespaced_lease(name, self.cluster.namespace, lease)
                except ApiException:  # a lost CAS or a hiccup: the next beat tries again
                    continue

        thread = threading.Thread(target=beat, name=f"renew:{deployment}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=10)
