"""The texts of admission decisions.

The four rejection sentences are the contract of DESIGN.md ("Resources"), kept word for word from
the reference system so users and scripts recognise them; an admission webhook refuses with the
same text. Blockers are named in sorted order so the same state always gives the same message.
The other texts (capacity, invalid combinations, ``waitingFor``) are Conveyor's own wording.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

# How many names a ``waitingFor`` text lists before it says "and N more": it is written on the
# object, so it must stay short even when hundreds of executions run.
WAITING_FOR_MAX_NAMES = 5


def system_wide_running(blocker: str) -> str:
    """A request meets a running system-wide execution (``blocker`` is ``<ns>/<name>``)."""
    return f"You cannot start an execution if there is a running system-wide execution (id: {blocker})"


def deployment_busy(names: Iterable[str]) -> str:
    """A non-forced request meets running executions of its deployment (``names``: plain names)."""
    listed = ", ".join(sorted(names))
    return (
        f"The following executions are currently running for this deployment: [{listed}]. "
        "Set force: true to run this workflow anyway."
    )


def others_running(ids: Iterable[str]) -> str:
    """A system-wide request meets running executions (``ids``: ``<ns>/<name>``)."""
    listed = ", ".join(sorted(ids))
    return (
        "You cannot start a system-wide execution if there are other executions running. "
        f"Currently running executions: [{listed}]"
    )


def system_wide_waiting(blocker: str) -> str:
    """A request without ``queue`` meets a queued system-wide execution (the one that starts next)."""
    return (
        f"You cannot start an execution while a system-wide execution is waiting in the queue "
        f"(id: {blocker}). Set queue: true to run after it."
    )


def capacity_reached(max_running: int, running: int) -> str:
    """A request without ``queue`` meets the operator-wide cap (``maxRunningExecutions``)."""
    return (
        f"You cannot start an execution while the maximum number of running executions is reached "
        f"({running} running, maxRunningExecutions: {max_running}). Set queue: true to run when one ends."
    )


def queue_combined_with(flags: Iterable[str]) -> str:
    """``queue`` with ``force`` and/or ``dryRun``: refused as the reference CLI refuses it."""
    named = " and ".join(f"{flag}: true" for flag in flags)
    return (
        f"queue: true cannot be combined with {named}: a forced or dry-run execution starts now "
        "or fails, it never waits in the queue."
    )


def scheduled_in_past(scheduled_time: datetime, created: datetime) -> str:
    """``scheduledTime`` earlier than the request itself."""
    return (
        f"scheduledTime {scheduled_time.isoformat()} is in the past (the execution was created at "
        f"{created.isoformat()}); leave it empty to run now."
    )


def _names(ids: list[str]) -> str:
    ids = sorted(ids)
    shown = ", ".join(ids[:WAITING_FOR_MAX_NAMES])
    more = len(ids) - WAITING_FOR_MAX_NAMES
    return f"{shown} and {more} more" if more > 0 else shown


def waiting_for_system_wide_running(blocker: str) -> str:
    return f"system-wide execution {blocker} (running)"


def waiting_for_system_wide_queued(blocker: str) -> str:
    return f"system-wide execution {blocker} (queued ahead)"


def waiting_for_deployment(deployment: str, ids: list[str]) -> str:
    return f"running executions of deployment {deployment}: {_names(ids)}"


def waiting_for_deployment_queue(deployment: str, ahead: str) -> str:
    return f"queued execution {ahead} of deployment {deployment} (ahead in the queue)"


def waiting_for_others(ids: list[str]) -> str:
    return f"running executions: {_names(ids)}"


def waiting_for_capacity(max_running: int) -> str:
    return f"a free slot (maxRunningExecutions: {max_running})"
