"""Kubernetes Events a worker posts on an Execution: a pure builder and the reasons it uses.

`kubectl describe cvx NAME` then tells the run's story: the workflow started, each task started /
retrying / succeeded / failed, the workflow ended. Names must be unique without a round trip (a
worker may post hundreds per second from many task threads): the execution's name, the time in
microseconds and a per-process sequence number.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from conveyor.api.names import API_VERSION, EXECUTION

REPORTING_COMPONENT = "conveyor-worker"
MESSAGE_MAX_CHARS = 1024
"""kube-apiserver refuses Event messages over 1 KiB."""

TASK_STARTED = "TaskStarted"
TASK_SUCCEEDED = "TaskSucceeded"
TASK_FAILED = "TaskFailed"
TASK_RETRYING = "TaskRetrying"
TASK_SKIPPED = "TaskSkipped"
TASK_CANCELLED = "TaskCancelled"
WORKFLOW_EVENT = "WorkflowEvent"

_WORKFLOW_ENDINGS = {
    "started": "WorkflowStarted",
    "terminated": "WorkflowSucceeded",
    "failed": "WorkflowFailed",
    "cancelled": "WorkflowCancelled",
}
_WARNING_LEVELS = frozenset({"warning", "error", "critical"})

_sequence = itertools.count()


def workflow_event_reason(workflow: str, message: str) -> str:
    """The framework announces a workflow's start and end as "Workflow <name> <what>[: ...]";
    those get their own reasons, anything else a workflow sends is a WorkflowEvent."""
    prefix = f"Workflow {workflow} "
    if message.startswith(prefix):
        word = message[len(prefix):].split(":", 1)[0].strip()
        if word in _WORKFLOW_ENDINGS:
            return _WORKFLOW_ENDINGS[word]
    return WORKFLOW_EVENT


def event_type(level: str) -> str:
    return "Warning" if level in _WARNING_LEVELS else "Normal"


def build_event(
    execution: Mapping[str, Any], reason: str, message: str, now: datetime, *, warning: bool, instance: str
) -> dict[str, Any]:
    """A core/v1 Event about `execution` (its metadata as last read: name, namespace, uid)."""
    metadata = execution.get("metadata") or {}
    name, namespace = metadata.get("name", ""), metadata.get("namespace")
    stamp = f"{int(now.timestamp() * 1_000_000):x}.{next(_sequence):x}"
    moment = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{name[:200]}.{stamp}", "namespace": namespace},
        "involvedObject": {
            "apiVersion": API_VERSION,
            "kind": EXECUTION.kind,
            "name": name,
            "namespace": namespace,
            "uid": metadata.get("uid"),
        },
        "reason": reason,
        "message": message[:MESSAGE_MAX_CHARS],
        "type": "Warning" if warning else "Normal",
        "source": {"component": REPORTING_COMPONENT},
        "reportingComponent": REPORTING_COMPONENT,
        "reportingInstance": instance,
        "firstTimestamp": moment,
        "lastTimestamp": moment,
        "count": 1,
    }
