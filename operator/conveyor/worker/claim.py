"""Claiming an admitted execution: the compare-and-swap `pending` → `started` (`worker: <pod>`).

What must hold (DESIGN.md, "Workers"; S3): at most one pod runs an execution per attempt, however
many workers race (a Job's replacement pod beside the old one). The claim is a merge patch carrying
the resourceVersion it was decided on; a 409 means the object moved. That is not always a lost race
(the operator may have added a label or finalizer in between), so the claimer re-reads: still
`pending` → try again on the new version; anything else (started by another pod, cancelled, gone)
→ not ours.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from conveyor.api.models import ExecutionPhase
from conveyor.api.names import EXECUTION
from conveyor.kube.api import KubeApi
from conveyor.locks.api import Conflict, NotFound
from conveyor.worker.status import claim_patch

MAX_ATTEMPTS = 20
"""Unrelated writes to one execution are few (labels, finalizer, cancel); this bounds a livelock."""


def is_claimable(execution: dict[str, Any]) -> bool:
    """Admitted (`pending`), and not being deleted or cancelled. `status.worker` is not looked at: a
    resumed attempt is pending again with its previous worker still named, and the CAS alone decides."""
    metadata = execution.get("metadata") or {}
    status = execution.get("status") or {}
    return (
        status.get("phase") == ExecutionPhase.PENDING.value
        and not metadata.get("deletionTimestamp")
        and not (execution.get("spec") or {}).get("cancel")
    )


async def claim(api: KubeApi, execution: dict[str, Any], pod: str) -> dict[str, Any] | None:
    """The execution as written when this pod won it, or None when it is not (or no longer) ours."""
    current = execution
    for _ in range(MAX_ATTEMPTS):
        if not is_claimable(current):
            return None
        metadata = current["metadata"]
        try:
            return await api.patch_custom(
                EXECUTION.plural,
                metadata["namespace"],
                metadata["name"],
                claim_patch(current, pod, datetime.now(UTC)),
                status=True,
                count_as="claim",
            )
        except NotFound:
            return None
        except Conflict:
            fresh = await api.get_execution(metadata["namespace"], metadata["name"])
            if fresh is None:
                return None
            current = fresh
    return None
