"""Pure readiness checks behind `kubernetes.wait`: an object in, (done, what it waits for) out.

The rollout checks read the same fields, in the same order, as `kubectl rollout status`: first that
the controller has observed the latest spec (`status.observedGeneration >= metadata.generation`;
otherwise every count below describes the previous spec), then the counts of updated, old and
available replicas. A Deployment whose Progressing condition says ProgressDeadlineExceeded will not
get there by waiting: that is a `RolloutFailed`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ROLLOUT_KINDS = ("Deployment", "StatefulSet", "DaemonSet")


class RolloutFailed(Exception):
    """The rollout cannot complete by waiting (its progress deadline passed, or it cannot be tracked)."""


@dataclass(frozen=True)
class Progress:
    done: bool
    message: str


def _observed(obj: dict[str, Any]) -> Progress | None:
    generation = (obj.get("metadata") or {}).get("generation") or 0
    observed = (obj.get("status") or {}).get("observedGeneration") or 0
    if observed < generation:
        return Progress(False, f"waiting for the {obj.get('kind')} spec update to be observed")
    return None


def deployment_progress(obj: dict[str, Any]) -> Progress:
    name = obj["metadata"]["name"]
    pending = _observed(obj)
    if pending is not None:
        return pending
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Progressing" and condition.get("reason") == "ProgressDeadlineExceeded":
            raise RolloutFailed(f'deployment "{name}" exceeded its progress deadline')
    replicas = spec.get("replicas", 1)
    updated = status.get("updatedReplicas") or 0
    total = status.get("replicas") or 0
    available = status.get("availableReplicas") or 0
    if updated < replicas:
        return Progress(False, f"{updated} out of {replicas} new replicas have been updated")
    if total > updated:
        return Progress(False, f"{total - updated} old replicas are pending termination")
    if available < updated:
        return Progress(False, f"{available} of {updated} updated replicas are available")
    return Progress(True, f'deployment "{name}" successfully rolled out')


def statefulset_progress(obj: dict[str, Any]) -> Progress:
    name = obj["metadata"]["name"]
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    strategy = spec.get("updateStrategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate":
        raise RolloutFailed(f"statefulset {name}: rollout status is only available for the RollingUpdate "
                            "strategy type")
    pending = _observed(obj)
    if pending is not None:
        return pending
    replicas = spec.get("replicas", 1)
    ready = status.get("readyReplicas") or 0
    if ready < replicas:
        return Progress(False, f"{ready} of {replicas} replicas are ready")
    partition = ((strategy.get("rollingUpdate") or {}).get("partition")) or 0
    if partition > 0:
        updated = status.get("updatedReplicas") or 0
        if updated < replicas - partition:
            return Progress(False, f"{updated} of {replicas - partition} partitioned replicas are updated")
        return Progress(True, f"partitioned roll out complete: {updated} new pods have been updated")
    if status.get("updateRevision") != status.get("currentRevision"):
        updated = status.get("updatedReplicas") or 0
        return Progress(False, f"{updated} of {replicas} pods are at revision {status.get('updateRevision')}")
    return Progress(True, f"statefulset rolling update complete {replicas} pods at revision "
                          f"{status.get('currentRevision')}")


def daemonset_progress(obj: dict[str, Any]) -> Progress:
    name = obj["metadata"]["name"]
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    if (spec.get("updateStrategy") or {}).get("type", "RollingUpdate") != "RollingUpdate":
        raise RolloutFailed(f"daemonset {name}: rollout status is only available for the RollingUpdate "
                            "strategy type")
    pending = _observed(obj)
    if pending is not None:
        return pending
    desired = status.get("desiredNumberScheduled") or 0
    updated = status.get("updatedNumberScheduled") or 0
    available = status.get("numberAvailable") or 0
    if updated < desired:
        return Progress(False, f"{updated} out of {desired} new pods have been updated")
    if available < desired:
        return Progress(False, f"{available} of {desired} updated pods are available")
    return Progress(True, f'daemon set "{name}" successfully rolled out')


def rollout_progress(obj: dict[str, Any]) -> Progress:
    """Whether the workload's rollout is complete; RolloutFailed when waiting cannot help."""
    kind = obj.get("kind")
    if kind == "Deployment":
        return deployment_progress(obj)
    if kind == "StatefulSet":
        return statefulset_progress(obj)
    if kind == "DaemonSet":
        return daemonset_progress(obj)
    raise RolloutFailed(f"no rollout to wait for on a {kind}: give a condition instead "
                        f"(one of {', '.join(ROLLOUT_KINDS)} has a rollout)")


def parse_condition(text: str) -> tuple[str, str]:
    """`Ready`, `Ready=False`, or kubectl's `condition=Ready=False` → (type, expected status)."""
    spec = text.removeprefix("condition=")
    kind, equals, expected = spec.partition("=")
    if not kind:
        raise ValueError(f"condition {text!r} names no condition type")
    return kind, (expected if equals else "True")


def condition_progress(obj: dict[str, Any], condition: str) -> Progress:
    """Whether `obj` has the condition with the expected status (case-insensitive, as kubectl compares),
    and, for a condition observed for an older generation, not yet."""
    kind, expected = parse_condition(condition)
    generation = (obj.get("metadata") or {}).get("generation")
    for found in (obj.get("status") or {}).get("conditions") or []:
        if str(found.get("type", "")).lower() != kind.lower():
            continue
        status = str(found.get("status", ""))
        observed = found.get("observedGeneration")
        if observed is not None and generation is not None and observed < generation:
            return Progress(False, f"condition {kind} was observed for generation {observed}, "
                                   f"not yet for {generation}")
        if status.lower() == expected.lower():
            return Progress(True, f"condition {kind}={status}")
        reason = f" ({found['reason']}: {found.get('message', '')})" if found.get("reason") else ""
        return Progress(False, f"condition {kind} is {status}, waiting for {expected}{reason}")
    return Progress(False, f"no condition {kind} yet, waiting for {kind}={expected}")
