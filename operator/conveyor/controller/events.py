"""Kubernetes Events on Executions: one per status change, so `kubectl describe cvx` tells the story.

Pure builder. The name is unique per (object, moment) as kube's recorder makes it, so two
transitions of one execution never collide and a retried write after a lost reply fails with 409
AlreadyExists rather than posting the Event twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from conveyor.api.names import API_VERSION, EXECUTION
from conveyor.controller.status import moment_seconds

REPORTING_COMPONENT = "conveyor-operator"


def build_event(
    involved: dict[str, Any],
    reason: str,
    message: str,
    now: datetime,
    *,
    event_type: str = "Normal",
    kind: str = EXECUTION.kind,
    reporting_instance: str = "",
) -> dict[str, Any]:
    """A core/v1 Event about `involved` (an Execution, or a Deployment with kind='Deployment')."""
    metadata = involved.get("metadata") or {}
    name = metadata.get("name", "")
    stamp = f"{int(now.timestamp() * 1_000_000):x}"
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{name}.{stamp}"[:253], "namespace": metadata.get("namespace")},
        "involvedObject": {
            "apiVersion": API_VERSION,
            "kind": kind,
            "name": name,
            "namespace": metadata.get("namespace"),
            "uid": metadata.get("uid"),
            "resourceVersion": metadata.get("resourceVersion"),
        },
        "reason": reason,
        "message": message[:1024],
        "type": event_type,
        "source": {"component": REPORTING_COMPONENT},
        "reportingComponent": REPORTING_COMPONENT,
        "reportingInstance": reporting_instance,
        "firstTimestamp": moment_seconds(now),
        "lastTimestamp": moment_seconds(now),
        "count": 1,
    }
