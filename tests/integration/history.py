"""Recording what happened to Executions, and checking the admission invariants on it.

A watch delivers every change in the order the API server applied it, so replaying the recorded
events gives the exact sequence of states the cluster went through: S1, S2 and S3 are checked at
every transition, not only at the end.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from kubernetes import client, watch

from conveyor.api.names import GROUP, VERSION

RUNNING = {"pending", "started", "cancelling", "force_cancelling", "kill_cancelling"}
FINAL = {"terminated", "failed", "cancelled"}


class ExecutionRecorder:
    """Records the phase of every Execution of a namespace, as the watch delivers it."""

    def __init__(self, api_client: client.ApiClient, namespace: str) -> None:
        self._custom = client.CustomObjectsApi(api_client)
        self._namespace = namespace
        self._watch = watch.Watch()
        self.events: list[tuple[str, dict[str, Any]]] = []
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="recorder")
        self._started = threading.Event()

    def _run(self) -> None:
        listed = self._custom.list_namespaced_custom_object(GROUP, VERSION, self._namespace, "executions")
        version = listed["metadata"]["resourceVersion"]
        self._started.set()
        while not self._stopped.is_set():
            try:
                self._follow(version)
            except Exception:  # the server went away (end of session) or the watch expired: stop
                if self._stopped.is_set():
                    return
                raise

    def _follow(self, version: str) -> None:
        while not self._stopped.is_set():
            for event in self._watch.stream(
                self._custom.list_namespaced_custom_object,
                GROUP,
                VERSION,
                self._namespace,
                "executions",
                resource_version=version,
                timeout_seconds=5,
            ):
                obj = event["object"]
                version = obj["metadata"]["resourceVersion"]
                self.events.append((event["type"], obj))
                if self._stopped.is_set():
                    return

    def start(self) -> ExecutionRecorder:
        self._thread.start()
        self._started.wait(10)
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._watch.stop()
        self._thread.join(10)


@dataclass
class Violations:
    s1: list[str] = field(default_factory=list)
    s2: list[str] = field(default_factory=list)
    s3: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.s1) + len(self.s2) + len(self.s3)


def check_invariants(events: list[tuple[str, dict[str, Any]]]) -> Violations:
    """Replay the events; S1: a non-forced execution never starts while another of its deployment
    runs; S2: a system-wide execution never runs together with any other; S3: a final status never
    changes and an execution starts at most once."""
    found = Violations()
    phases: dict[str, str | None] = {}
    specs: dict[str, dict[str, Any]] = {}
    started: set[str] = set()
    for kind, obj in events:
        name = obj["metadata"]["name"]
        if kind == "DELETED":
            phases.pop(name, None)
            continue
        specs[name] = obj.get("spec") or {}
        old = phases.get(name)
        new = (obj.get("status") or {}).get("phase")
        phases[name] = new
        if old in FINAL and new != old:
            found.s3.append(f"{name}: {old} -> {new}")
        if new in RUNNING and old not in RUNNING:
            if name in started:
                found.s3.append(f"{name} started twice")
            started.add(name)
            others = [n for n, p in phases.items() if p in RUNNING and n != name]
            spec = specs[name]
            deployment = spec.get("deployment")
            if deployment is None and others:
                found.s2.append(f"system-wide {name} started beside {others}")
            if deployment is not None:
                system = [n for n in others if specs[n].get("deployment") is None]
                if system:
                    found.s2.append(f"{name} started beside system-wide {system}")
                same = [n for n in others if specs[n].get("deployment") == deployment]
                if same and not spec.get("force"):
                    found.s1.append(f"{name} started beside {same}")
    return found
