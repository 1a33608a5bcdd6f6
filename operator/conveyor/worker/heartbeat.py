"""Renewing the lease of a running execution, so the operator knows its worker is alive.

DESIGN.md, "Locks": a lease not renewed within its duration means the worker is gone, and the
operator ends its executions `failed` ("worker lost"). So the worker renews each running
execution's lease (its deployment's, or the system lease) at a third of the lease's duration, which
survives two missed renewals. Renewals are CAS writes through `conveyor.locks` (a 409 re-reads and
tries again at once). A lease renewed less than one interval ago is not written again: the operator
renews it when it admits the execution, so a short execution costs its lease no write at all (and
the operator's copy of the lease stays current for the release). Once this process knows a lease's
duration, the first beat of an execution admitted less than one interval ago is not even a read:
it waits until an interval after the admission (the lease was renewed then).

When the execution no longer holds its lease, the operator has ended it (kill, worker lost, the
object deleted); the heartbeat says so once and stops, and the caller stops the workflow.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from conveyor.api.models import ExecutionSpec
from conveyor.locks.api import ApiError
from conveyor.locks.leases import DEFAULT_LEASE_DURATION_SECONDS, LeaseLocks, LeaseRef

logger = logging.getLogger(__name__)

MIN_INTERVAL_SECONDS = 0.5


def lease_of(spec: ExecutionSpec, namespace: str, operator_namespace: str) -> LeaseRef:
    if spec.deployment is not None:
        return LeaseRef.of_deployment(namespace, spec.deployment)
    return LeaseRef.system(operator_namespace)


async def keep_renewed(
    locks: LeaseLocks,
    ref: LeaseRef,
    holder: str,
    on_lost: Callable[[], None],
    interval: float | None = None,
    renewed_at: datetime | None = None,
) -> None:
    """Renew until cancelled; call `on_lost()` and return when `holder` no longer holds the lease.
    `renewed_at`: when the operator last renewed it for `holder` (its admission), if known.

    A failed API call is retried at the next beat: one hiccup must not cost the execution, and a
    long outage is exactly what the lease duration is there to detect.
    """
    duration = locks.known_duration(ref)
    if renewed_at is not None and duration is not None:
        elapsed = (datetime.now(UTC) - renewed_at).total_seconds()
        await asyncio.sleep(max(0.0, _interval(interval, duration) - elapsed))
    while True:
        duration = DEFAULT_LEASE_DURATION_SECONDS
        try:
            state = await locks.read(ref)
            if not state.holds(holder):
                on_lost()
                return
            duration = state.duration_seconds or DEFAULT_LEASE_DURATION_SECONDS
            beat = _interval(interval, duration)
            fresh = state.renew_time is not None and (
                (datetime.now(UTC) - state.renew_time).total_seconds() < beat
            )
            if not fresh and not await locks.renew(ref, holder):
                on_lost()
                return
        except (TimeoutError, ApiError, OSError) as error:
            logger.warning("renewing lease %s/%s for %s: %s", ref.namespace, ref.name, holder, error)
        await asyncio.sleep(_interval(interval, duration))


def _interval(interval: float | None, duration: int) -> float:
    return max(MIN_INTERVAL_SECONDS, interval if interval is not None else duration / 3)
