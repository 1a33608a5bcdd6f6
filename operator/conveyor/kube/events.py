"""Kubernetes Events on Executions: one builder for the operator and the worker, and who posts what.

One Event per transition, posted by the component that makes the transition (it alone knows it
happened, and exactly once: the writer of the CAS that won):

| transition                                   | written by | Event reason                     |
| -------------------------------------------- | ---------- | -------------------------------- |
| → queued / scheduled / pending               | operator   | Queued / Scheduled / Admitted    |
| → failed (rejected, invalid)                 | operator   | Rejected / Invalid               |
| → cancelling / force_cancelling              | operator   | Cancelling                       |
| → cancelled (waiting, pending, kill, delete) | operator   | Cancelled                        |
| → failed (worker lost, no worker possible)   | operator   | WorkerLost                       |
| pending → started (the claim)                | worker     | Started                          |
| → terminated / failed / cancelled (the end)  | worker     | Succeeded / WorkflowFailed / Cancelled |
| a resume refused or accepted                 | operator   | ResumeRefused / Resumed          |

The reasons are the Execution's condition reasons (`ConditionReason`), so `kubectl describe cvx`
and `kubectl get cvx -o yaml` tell the same story. Within a run the worker also posts what is not a
transition: tasks (TaskStarted, TaskSucceeded, ...) and what the workflow sends (WorkflowEvent).
The framework's own "Workflow X started/ended" messages are log lines, not Events: the transitions
say it already.

Names must be unique without a round trip (a worker may post hundreds per second from many task
threads): the object's name, the time in microseconds and a per-process sequence number. A name is
fixed when the Event is built, so a retried write after a lost reply fails with 409 AlreadyExists
rather than posting the Event twice.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from conveyor.api.names import API_VERSION, EXECUTION

OPERATOR_COMPONENT = "conveyor-operator"
WORKER_COMPONENT = "conveyor-worker"
MESSAGE_MAX_CHARS = 1024
"""kube-apiserver refuses Event messages over 1 KiB."""

_sequence = itertools.count()


def build_event(
    involved: Mapping[str, Any],
    reason: str,
    message: str,
    now: datetime,
    *,
    component: str,
    instance: str = "",
    warning: bool = False,
    kind: str = EXECUTION.kind,
) -> dict[str, Any]:
    """A core/v1 Event about `involved` (its metadata as last read: name, namespace, uid), an
    Execution unless `kind` says otherwise (the operator also reports on Deployments)."""
    metadata = involved.get("metadata") or {}
    name, namespace = metadata.get("name", ""), metadata.get("namespace")
    stamp = f"{int(now.timestamp() * 1_000_000):x}.{next(_sequence):x}"
    moment = now.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": f"{name[:200]}.{stamp}", "namespace": namespace},
        "involvedObject": {
            "apiVersion": API_VERSION,
            "kind": kind,
            "name": name,
            "namespace": namespace,
            "uid": metadata.get("uid"),
            "resourceVersion": metadata.get("resourceVersion"),
        },
        "reason": reason,
        "message": message[:MESSAGE_MAX_CHARS],
        "type": "Warning" if warning else "Normal",
        "source": {"component": component},
        "reportingComponent": component,
        "reportingInstance": instance,
        "firstTimestamp": moment,
        "lastTimestamp": moment,
        "count": 1,
    }
