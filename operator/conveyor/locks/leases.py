"""The Lease protocol: deployment leases and the system lease, every write a CAS.

What must hold (DESIGN.md, "Locks"), whatever the number of admitters and whenever they restart:

- every write carries the resourceVersion it was decided on (a create when the Lease is absent); a
  409 means another writer won, so the Lease is read again and the same question asked again, at
  once, with no back-off: the loser has nothing to wait for, only something to re-read;
- a non-forced deployment start needs its deployment Lease empty; a forced one joins the holders;
- the two orders below are a Dekker handshake, so a deployment start and a system-wide start can
  never both miss each other:
  deployment start: acquire the deployment Lease, then read the system Lease; held → release, back off;
  system-wide start: acquire the system Lease (the barrier), then read every deployment Lease;
  one held → release, back off (the policy queues or rejects it; waiting is the policy's job);
- release is idempotent (a holder that is not there, or a Lease that is gone, is already released),
  so every terminal path may call it, as often as it is reached;
- a write may be computed on the last version this process read or wrote (`_known`): the CAS makes a
  stale copy cost one 409 and a read, never a wrong write. Every answer that writes nothing (busy,
  held already, not a holder) and the handshake's read of the other lock come from a fresh read.
  Why: on the admission path, a read before every write was two of the loop's round trips per
  execution, and the operator is almost always the last writer of its Leases.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from conveyor.api.names import (
    APP_NAME,
    LABEL_APP_COMPONENT,
    LABEL_APP_MANAGED_BY,
    LABEL_APP_NAME,
    SYSTEM_LEASE_NAME,
    deployment_lease_name,
)
from conveyor.locks.api import Conflict, LeaseApi, NotFound
from conveyor.locks.holders import LeaseHolders, build_lease

DEPLOYMENT_LOCK_COMPONENT = "deployment-lock"
SYSTEM_LOCK_COMPONENT = "system-lock"
DEPLOYMENT_LOCK_SELECTOR = (
    f"{LABEL_APP_MANAGED_BY}={APP_NAME},{LABEL_APP_COMPONENT}={DEPLOYMENT_LOCK_COMPONENT}"
)
DEFAULT_LEASE_DURATION_SECONDS = 60
"""How long a held Lease stays valid without renewal; a worker renews well within it. Generous, since
a pending execution's worker may still be pulling its image."""


def _labels(component: str) -> dict[str, str]:
    return {LABEL_APP_NAME: APP_NAME, LABEL_APP_MANAGED_BY: APP_NAME, LABEL_APP_COMPONENT: component}


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class LeaseRef:
    """Where a Lease lives."""

    namespace: str
    name: str

    @classmethod
    def of_deployment(cls, namespace: str, deployment: str) -> LeaseRef:
        return cls(namespace, deployment_lease_name(deployment))

    @classmethod
    def system(cls, operator_namespace: str) -> LeaseRef:
        return cls(operator_namespace, SYSTEM_LEASE_NAME)

    @property
    def component(self) -> str:
        return SYSTEM_LOCK_COMPONENT if self.name == SYSTEM_LEASE_NAME else DEPLOYMENT_LOCK_COMPONENT


@dataclass(frozen=True)
class Acquired:
    state: LeaseHolders


@dataclass(frozen=True)
class Busy:
    """Not acquired: `holders` hold the Lease (or, for a barrier, the leases that blocked it)."""

    lease: LeaseRef
    holders: tuple[str, ...]


AcquireResult = Acquired | Busy


class LeaseLocks:
    """CAS reads and writes of Conveyor's Leases. Its only memory is the last version of each Lease
    it saw, which it writes on optimistically (see the module's rules)."""

    def __init__(self, api: LeaseApi, duration_seconds: int = DEFAULT_LEASE_DURATION_SECONDS) -> None:
        self._api = api
        self.duration_seconds = duration_seconds
        self._known: dict[LeaseRef, LeaseHolders] = {}

    def known_duration(self, ref: LeaseRef) -> int | None:
        """The lease's duration as last seen by this process (durations change only with the
        operator's settings), None when it was never read or written here."""
        known = self._known.get(ref)
        return None if known is None else known.duration_seconds

    async def read(self, ref: LeaseRef) -> LeaseHolders:
        state = LeaseHolders.from_lease(await self._api.get_lease(ref.namespace, ref.name))
        self._known[ref] = state
        return state

    async def _write(self, ref: LeaseRef, state: LeaseHolders) -> LeaseHolders:
        body = build_lease(ref.name, ref.namespace, state, _labels(ref.component))
        try:
            if state.resource_version is None:
                written = await self._api.create_lease(ref.namespace, body)
            else:
                written = await self._api.replace_lease(ref.namespace, ref.name, body)
        except (Conflict, NotFound):
            self._known.pop(ref, None)
            raise
        self._known[ref] = result = LeaseHolders.from_lease(written)
        return result

    async def acquire(self, ref: LeaseRef, holder: str, *, exclusive: bool) -> AcquireResult:
        """Add `holder`. `exclusive`: only if nobody else holds it (non-forced and system-wide starts).
        Holding it already is success (a repeated or completed admission)."""
        while True:
            known = self._known.get(ref)
            state = known if known is not None else await self.read(ref)
            if state.holds(holder) or (exclusive and state.held):
                if known is not None:  # an answer that writes nothing: only on a fresh read
                    self._known.pop(ref, None)
                    continue
                return Acquired(state) if state.holds(holder) else Busy(ref, state.holders)
            try:
                written = await self._write(ref, state.with_holder(holder, _now(), self.duration_seconds))
            except (Conflict, NotFound):
                continue
            return Acquired(written)

    async def release(self, ref: LeaseRef, holder: str) -> None:
        """Remove `holder`; nothing to do when it does not hold the Lease. Idempotent."""
        while True:
            known = self._known.get(ref)
            try:
                state = known if known is not None else await self.read(ref)
            except NotFound:
                return
            if not state.holds(holder):
                if known is not None:
                    self._known.pop(ref, None)
                    continue
                return
            try:
                await self._write(ref, state.without_holder(holder, _now()))
            except NotFound:
                if known is not None:
                    continue
                return
            except Conflict:
                continue
            return

    async def renew(self, ref: LeaseRef, holder: str) -> bool:
        """Renew on behalf of `holder` (the worker's heartbeat); False when it no longer holds it."""
        while True:
            known = self._known.get(ref)
            state = known if known is not None else await self.read(ref)
            if not state.holds(holder):
                if known is not None:
                    self._known.pop(ref, None)
                    continue
                return False
            try:
                await self._write(
                    ref, state.with_holder(holder, _now(), state.duration_seconds or self.duration_seconds)
                )
            except Conflict:
                continue
            return True

    async def held_deployment_leases(self, namespaces: Iterable[str] | None) -> dict[LeaseRef, LeaseHolders]:
        """The deployment Leases with holders, in `namespaces` (None: all)."""
        found: dict[LeaseRef, LeaseHolders] = {}
        for namespace in [None] if namespaces is None else list(namespaces):
            for lease in await self._api.list_leases(namespace, DEPLOYMENT_LOCK_SELECTOR):
                state = LeaseHolders.from_lease(lease)
                meta = lease["metadata"]
                ref = LeaseRef(meta["namespace"], meta["name"])
                self._known[ref] = state
                if state.held:
                    found[ref] = state
        return found

    # ----- the two start orders ------------------------------------------------------------------

    async def acquire_for_deployment(
        self, ref: LeaseRef, system: LeaseRef, holder: str, *, forced: bool
    ) -> AcquireResult:
        """Deployment start: its Lease first, then the system Lease must be free (else back off)."""
        result = await self.acquire(ref, holder, exclusive=not forced)
        if isinstance(result, Busy):
            return result
        barrier = await self.read(system)
        if barrier.held:
            await self.release(ref, holder)
            return Busy(system, barrier.holders)
        return result

    async def acquire_for_system(
        self, system: LeaseRef, holder: str, namespaces: Iterable[str] | None
    ) -> AcquireResult:
        """System-wide start: the system Lease first (new deployment starts now back off), then no
        deployment Lease may have holders (else back off)."""
        result = await self.acquire(system, holder, exclusive=True)
        if isinstance(result, Busy):
            return result
        held = await self.held_deployment_leases(namespaces)
        if held:
            await self.release(system, holder)
            ref, state = min(held.items(), key=lambda item: (item[0].namespace, item[0].name))
            return Busy(ref, state.holders)
        return result
