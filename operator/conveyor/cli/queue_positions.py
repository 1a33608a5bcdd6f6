"""Queue positions, computed on demand from creation order; nothing is written for them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from conveyor.api.models import ExecutionPhase
from conveyor.controller.requests import created_at, to_request
from conveyor.kube.times import parse_time


def queue_positions(objects: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """1-based places of the queued executions in the lines admission dequeues them from.

    The lines are those of `conveyor.admission.policy` (AdmissionPolicy._line_of): each deployment's
    non-forced executions, the system-wide ones, the forced ones (from a schedule); in each, creation
    order as the operator computes it (`status.createdAt`, else the object's creation time).
    """
    lines: dict[tuple[str, ...], list[tuple[Any, tuple[str, str]]]] = {}
    for obj in objects:
        if (obj.get("status") or {}).get("phase") != ExecutionPhase.QUEUED:
            continue
        observed = parse_time(obj["metadata"].get("creationTimestamp")) or datetime.now(UTC)
        request = to_request(obj, created_at(obj, observed))
        if request.deployment is None:
            line: tuple[str, ...] = ("system-wide",)
        elif request.force:
            line = ("forced",)
        else:
            line = ("deployment", request.deployment.namespace, request.deployment.name)
        lines.setdefault(line, []).append((request.order, (request.key.namespace, request.key.name)))
    positions: dict[tuple[str, str], int] = {}
    for members in lines.values():
        for place, (_, key) in enumerate(sorted(members), start=1):
            positions[key] = place
    return positions
