"""A Pod's status from its containers' states, computed as the kubelet computes it (pure).

The phase rule (kubelet's getPhase, without init containers): Pending while some container has not
started yet; Running while any runs or will be restarted; once all have terminated for good,
Succeeded if every one exited 0, else Failed. Ready means every container runs (the sim treats a
running container as ready: readiness probes are not run).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from conveyor.sim.kubelet.process import ContainerState, ContainerStatus, Running, Terminated, Waiting

POD_IP = "127.0.0.1"
HOST_IP = "127.0.0.1"


def timestamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def state_dict(state: ContainerState, container_id: str) -> dict[str, Any]:
    if isinstance(state, Waiting):
        waiting: dict[str, Any] = {"reason": state.reason}
        if state.message:
            waiting["message"] = state.message
        return {"waiting": waiting}
    if isinstance(state, Running):
        return {"running": {"startedAt": timestamp(state.started_at)}}
    terminated: dict[str, Any] = {
        "exitCode": state.exit_code,
        "reason": state.reason,
        "finishedAt": timestamp(state.finished_at),
    }
    if state.started_at is not None:
        terminated["startedAt"] = timestamp(state.started_at)
    if state.message:
        terminated["message"] = state.message
    if state.signal is not None:
        terminated["signal"] = state.signal
    if container_id:
        terminated["containerID"] = container_id
    return {"terminated": terminated}


def container_status(spec: dict[str, Any], status: ContainerStatus, container_id: str) -> dict[str, Any]:
    running = isinstance(status.state, Running)
    out: dict[str, Any] = {
        "name": spec["name"],
        "image": spec.get("image") or "",
        "imageID": "",
        "ready": running and status.ready,
        "started": running,
        "restartCount": status.restart_count,
        "state": state_dict(status.state, container_id),
        "lastState": state_dict(status.last_state, "") if status.last_state else {},
    }
    if container_id:
        out["containerID"] = container_id
    return out


def waiting_status(spec: dict[str, Any], reason: str, message: str = "") -> dict[str, Any]:
    """A container that has not been created (ContainerCreating, CreateContainerConfigError)."""
    return container_status(spec, ContainerStatus(Waiting(reason, message)), "")


def phase(statuses: list[ContainerStatus]) -> str:
    if not statuses:
        return "Pending"
    never_started = [s for s in statuses if isinstance(s.state, Waiting) and s.last_state is None]
    if never_started:
        return "Pending"
    if any(not s.done for s in statuses):
        return "Running"
    ok = all(isinstance(s.state, Terminated) and s.state.exit_code == 0 for s in statuses)
    return "Succeeded" if ok else "Failed"


def _condition(kind: str, ok: bool, since: str, reason: str = "") -> dict[str, Any]:
    cond: dict[str, Any] = {
        "type": kind,
        "status": "True" if ok else "False",
        "lastProbeTime": None,
        "lastTransitionTime": since,
    }
    if reason and not ok:
        cond["reason"] = reason
    return cond


def conditions(
    ready: bool,
    initialized: bool,
    previous: list[dict[str, Any]],
    now: str,
    not_ready_reason: str,
    incomplete_init: list[str],
) -> list[dict[str, Any]]:
    """PodReadyToStartContainers, Initialized, Ready, ContainersReady, PodScheduled; a transition
    time moves only when the condition's status changes."""
    before = {c.get("type"): c for c in previous}
    waiting_init = f"containers with incomplete status: [{' '.join(incomplete_init)}]"
    wanted = [
        ("PodReadyToStartContainers", True, "", ""),
        ("Initialized", initialized, "ContainersNotInitialized", waiting_init),
        ("Ready", ready, not_ready_reason, ""),
        ("ContainersReady", ready, not_ready_reason, ""),
        ("PodScheduled", True, "", ""),
    ]
    out = []
    for kind, ok, reason, message in wanted:
        old = before.get(kind)
        state = "True" if ok else "False"
        since = (
            old["lastTransitionTime"]
            if old and old.get("status") == state and old.get("lastTransitionTime")
            else now
        )
        cond = _condition(kind, ok, since, reason)
        if message and not ok:
            cond["message"] = message
        out.append(cond)
    return out


def not_ready_reason(pod_phase: str) -> str:
    return "PodCompleted" if pod_phase in ("Succeeded", "Failed") else "ContainersNotReady"
