"""The admission loop: one asyncio task on the leader, level-based, that carries out admission.

Watch events (from kopf, on every replica) only record the newest copy of each object and mark it
dirty; the loop, on the leader, compares what an object says with what the policy holds and acts on
the difference. So a missed, repeated or reordered event costs nothing but a look, and a restart
only has to rebuild the policy from what the API says (`resync`).

What must hold:
- the Lease protocol (`conveyor.locks`) is followed for every start: leases first, then `pending`;
- every status write is a CAS on the version the decision was made on; when a CAS on an Execution
  or a Lease is lost, the policy may be wrong about the world (another admitter, a user's edit), so
  the loop drops the rest of the batch and resyncs: decisions not carried out changed nothing on
  the API, and the rebuilt policy decides them again from the truth, at once;
- leases are released on every terminal path (final status, deletion, kill, worker lost) before
  the policy hands the slot to the next execution; the finalizer goes after the release, off the
  loop's path (the next start does not wait for it);
- writes per execution are few and counted: the first decision that keeps an execution (queued,
  scheduled, admitted) writes its label and finalizer in one patch, then its status; admission =
  lease + status (+ that patch when it was not queued first); the end = lease + finalizer; each
  transition the operator makes has an Event, posted in the background (`kube.event_outbox`);
- the loop awaits only what the next decision depends on: Events, finalizer removals and the
  worker Job check of a deployment whose worker was seen claiming moments ago are not awaited;
- decisions that write only their own execution (queued, scheduled, rejected, invalid) are carried
  out concurrently, at most MAX_IN_FLIGHT at once: a burst of new requests would otherwise hold up
  every start behind two round trips each. Another decision on that execution waits for its write
  (`_settled`); a change to it seen meanwhile (mostly the write's own echo) is looked at once the
  write lands, without holding up the loop; starts and everything touching a Lease stay in the
  loop's order; a rebuild waits for all of them. A failed one fails the loop as if it had been
  awaited.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Coroutine, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from conveyor.admission.policy import (
    AdmissionPolicy,
    Cancel,
    Decision,
    DeploymentKey,
    ExecKey,
    Invalid,
    Phase,
    Queue,
    Reject,
    Schedule,
    Slot,
    Start,
)
from conveyor.api.config import InvalidConfig, OperatorConfig, parse_operator_config
from conveyor.api.models import (
    DEFAULT_IDLE_TIMEOUT_SECONDS,
    FINAL_PHASES,
    RUNNING_PHASES,
    WAITING_PHASES,
    ConditionReason,
    Deployment,
    ExecutionPhase,
)
from conveyor.api.names import (
    CONFIG_MAP_NAME,
    DEPLOYMENT,
    EXECUTION,
    FINALIZER,
    deployment_label,
    worker_job_name,
)
from conveyor.controller.metrics import OperatorMetrics
from conveyor.controller.requests import (
    admissible_deployment,
    created_at,
    exec_key,
    invalid_reason,
    phase_of,
    policy_phase,
    to_request,
)
from conveyor.controller.resume import (
    RESUME_REFUSED,
    RESUMED,
    Resume,
    decide_resume,
    refusal_patch,
    resume_patch,
)
from conveyor.controller.status import (
    Transition,
    deployment_status_patch,
    execution_metadata_patch,
    execution_status_patch,
)
from conveyor.controller.worker_job import build_system_worker_job, build_worker_job
from conveyor.controller.workers import WorkerProvisioner
from conveyor.kube.api import KubeApi
from conveyor.kube.event_outbox import EventOutbox
from conveyor.kube.events import OPERATOR_COMPONENT, build_event
from conveyor.kube.times import parse_time
from conveyor.locks.api import ApiError, Conflict, NotFound
from conveyor.locks.holders import LeaseHolders
from conveyor.locks.leases import Busy, LeaseLocks, LeaseRef

logger = logging.getLogger(__name__)

WORKER_LOST_MESSAGE = "worker lost: the execution's lease was not renewed within {seconds}s"
DEPLOYMENT_STATUS_MIN_INTERVAL = 1.0
"""A Deployment's status is rewritten at most once a second: counts change with every execution, and
one write per burst is enough for humans and `kubectl get cvd`."""
DEPLOYMENT_STATUS_BATCH = 16
"""Deployments reconciled per turn of the loop: 2,000 Deployments created at once (the long bad-input
storm) held admission for six seconds while every one of them got its first status."""


MAX_RETRY_AFTER_SECONDS = 30.0
"""A server asking for longer is obeyed only this far: admission must not stall for minutes."""

PRIORITY_RUN = 1
"""Admitted executions' changes looked at in a row before one new request gets its turn. Ends go
before a backlog of new requests (an end hands a slot on), but each admitted execution changes
several times (admitted, claimed, ended, finalizer gone), so more than one in a row starves a burst
of new requests of their first decision: measured, they then waited seconds with no status and were
mostly admitted straight away instead of showing `queued`."""

MAX_IN_FLIGHT = 32
"""Own-status decisions written concurrently; more wait for one of them to finish."""

CONFLICT_RETRIES = 3
"""Writes retried on one execution's new version before falling back to a full rebuild."""

WorkerKey = tuple[str, str | None]
"""(namespace, deployment name or None for the system worker): one worker Job each."""


class Resync(Exception):
    """The policy may disagree with the API: drop the batch and rebuild from the API."""


@dataclass
class LoopSettings:
    operator_namespace: str
    namespaces: list[str] | None
    """Watched namespaces; None: all."""
    identity: str = "conveyor-operator"
    worker_image: str = "conveyor:latest"
    create_worker_jobs: bool = True
    lease_check_interval: float = 5.0
    config_reload_interval: float = 5.0


def _same_request(seen: dict[str, Any], fresh: dict[str, Any]) -> bool:
    """Whether a decision made on `seen` still holds for `fresh`: same phase (no other admitter or
    worker moved it) and same generation (no spec change, such as a cancel request)."""
    return phase_of(fresh) == phase_of(seen) and (
        (fresh.get("metadata") or {}).get("generation") == (seen.get("metadata") or {}).get("generation")
    )


def _slim(obj: dict[str, Any]) -> dict[str, Any]:
    """The cached copy of an Execution, without what admission never reads: managedFields are half
    of a queued Execution's JSON, and the cache holds every Execution (RSS at 10,000 is a target).
    Executions are only ever patched, never replaced whole, so nothing is lost by dropping them."""
    metadata = obj.get("metadata")
    if isinstance(metadata, dict) and "managedFields" in metadata:
        obj = {**obj, "metadata": {k: v for k, v in metadata.items() if k != "managedFields"}}
    return obj


def _now() -> datetime:
    return datetime.now(UTC)


def _backoff(error: ApiError) -> float:
    """How long the loop waits after a failed call before it rebuilds: what the server asked for
    (429/503 `Retry-After`, within reason), else half a second."""
    if error.retry_after is not None:
        return min(error.retry_after, MAX_RETRY_AFTER_SECONDS)
    return 0.5


def _rv(obj: dict[str, Any] | None) -> int | None:
    """resourceVersion as a number when it is one (kube-apiserver's and the sim's are). Used only to
    keep the newest copy when a watch event arrives after the loop's own write; when versions are
    not numbers every copy is taken and a stale one costs a lost CAS and a resync, never a mistake."""
    if obj is None:
        return None
    raw = (obj.get("metadata") or {}).get("resourceVersion")
    try:
        return int(str(raw))
    except (TypeError, ValueError):
        return None


def _newer(old: dict[str, Any] | None, new: dict[str, Any]) -> bool:
    a, b = _rv(old), _rv(new)
    return a is None or b is None or b >= a


def _deleting(obj: dict[str, Any]) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


def _finalizers(obj: dict[str, Any]) -> list[str]:
    return list((obj.get("metadata") or {}).get("finalizers") or [])


class AdmissionLoop:
    """The leader's admission task, and the cache every replica keeps from watch events."""

    def __init__(
        self, api: KubeApi, locks: LeaseLocks, settings: LoopSettings, metrics: OperatorMetrics
    ) -> None:
        self.api = api
        self.locks = locks
        self.settings = settings
        self.metrics = metrics
        self.workers = WorkerProvisioner(api)
        self.executions: dict[ExecKey, dict[str, Any]] = {}
        self.deployments: dict[DeploymentKey, dict[str, Any]] = {}
        self.policy = AdmissionPolicy()
        self.config = OperatorConfig()
        self._first_seen: dict[ExecKey, datetime] = {}
        self._dirty: dict[ExecKey, None] = {}
        self._dirty_first: dict[ExecKey, None] = {}
        """Changed executions that were admitted (running or ended, or deleted): looked at before new
        requests, because an end hands a slot to the next execution, and a burst of new requests
        (each a queued decision) must not delay that."""
        self._dirty_deployments: dict[DeploymentKey, None] = {}
        self._deployment_written: dict[DeploymentKey, tuple[float, dict[str, Any]]] = {}
        self._started_seen: set[ExecKey] = set()
        self._deleted: dict[ExecKey, dict[str, Any]] = {}
        """The last copy of executions deleted since their last reconcile: which lease to release."""
        self._worker_claimed: dict[WorkerKey, float] = {}
        """When each worker was last seen claiming an execution (loop clock): proof it is alive."""
        self._ending: set[ExecKey] = set()
        """Executions whose finalizer is being removed in the background."""
        self._background: set[asyncio.Task[None]] = set()
        self._in_flight: dict[ExecKey, asyncio.Task[None]] = {}
        self._failure: BaseException | None = None
        self._listing: set[ExecKey] | None = None
        """While a rebuild lists Executions: those the watch told about meanwhile."""
        self._look_again: set[ExecKey] = set()
        """Changed while their own write was in flight: looked at once it lands, not waited for."""
        """The first error of a decision carried out concurrently, raised by the loop at its next step."""
        self.outbox = EventOutbox(api)
        self._wake = asyncio.Event()
        self._resync_needed = True
        self.running = False
        self.resyncs = 0

    # ----- feeding: every replica ---------------------------------------------------------------

    def observe_execution(self, event_type: str | None, obj: dict[str, Any]) -> None:
        key = exec_key(obj)
        if self._listing is not None:
            self._listing.add(key)
        if event_type == "DELETED":
            self.executions.pop(key, None)
            self._deleted[key] = obj
        else:
            if not _newer(self.executions.get(key), obj):
                return
            self.executions[key] = obj = _slim(obj)
            if event_type is not None:  # a change as it happens; an initial listing comes in name order
                self._first_seen.setdefault(key, _now())
            self._observe_start(key, obj)
        phase = phase_of(obj)
        if event_type == "DELETED" or phase in RUNNING_PHASES or phase in FINAL_PHASES:
            self._dirty_first[key] = None
        else:
            self._dirty[key] = None
        deployment = (obj.get("spec") or {}).get("deployment")
        if deployment:
            self._dirty_deployments[DeploymentKey(key.namespace, deployment)] = None
        self._wake.set()

    def observe_deployment(self, event_type: str | None, obj: dict[str, Any]) -> None:
        metadata = obj["metadata"]
        key = DeploymentKey(metadata["namespace"], metadata["name"])
        if event_type == "DELETED":
            self.deployments.pop(key, None)
            self._deployment_written.pop(key, None)
        elif _newer(self.deployments.get(key), obj):
            self.deployments[key] = obj
            self._dirty_deployments[key] = None
        self._wake.set()

    def _observe_start(self, key: ExecKey, obj: dict[str, Any]) -> None:
        status = obj.get("status") or {}
        if key in self._started_seen or not status.get("startedAt"):
            return
        self._started_seen.add(key)
        with contextlib.suppress(RuntimeError):  # no running loop: a unit test feeding objects
            now = asyncio.get_running_loop().time()
            self._worker_claimed[(key.namespace, (obj.get("spec") or {}).get("deployment"))] = now
        began, started = parse_time(status.get("createdAt")), parse_time(status.get("startedAt"))
        if began is not None and started is not None:
            self.metrics.start_latency.observe(max(0.0, (started - began).total_seconds()))

    def phase_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for obj in self.executions.values():
            phase = phase_of(obj)
            name = phase.value if phase is not None else "new"
            counts[name] = counts.get(name, 0) + 1
        return counts

    # ----- the loop: leader only ----------------------------------------------------------------

    async def run(self) -> None:
        """Admit until cancelled (leadership lost or shutdown)."""
        self.running = True
        self._resync_needed = True
        next_lease_check = next_config = 0.0
        clock = asyncio.get_running_loop().time
        try:
            while True:
                try:
                    if clock() >= next_config:
                        await self._reload_config()
                        next_config = clock() + self.settings.config_reload_interval
                    if self._resync_needed:
                        await self._drain()
                        await self.resync()
                    await self._carry_out(self.policy.advance(_now()))
                    in_a_row = 0
                    while self._dirty_first or self._dirty:
                        self._raise_failure()
                        first = bool(self._dirty_first) and not (self._dirty and in_a_row >= PRIORITY_RUN)
                        in_a_row = in_a_row + 1 if first else 0
                        pending = self._dirty_first if first else self._dirty
                        key = next(iter(pending))
                        del pending[key]
                        self._dirty.pop(key, None)
                        await self._reconcile(key)
                    self._raise_failure()
                    if clock() >= next_lease_check:
                        await self._check_worker_leases()
                        if self.settings.create_worker_jobs:
                            await self._ensure_pending_workers()
                        next_lease_check = clock() + self.settings.lease_check_interval
                    if await self._write_deployment_statuses():
                        continue  # more Deployments due: executions first, then the next batch
                except Resync as why:
                    logger.info("resync: %s", why)
                    self._resync_needed = True
                    continue
                except ApiError as error:
                    logger.warning("API error in admission, resyncing: %s", error)
                    self._resync_needed = True
                    await asyncio.sleep(_backoff(error))
                    continue
                except Exception:  # a dead loop on a live leader would admit nothing, silently
                    logger.exception("unexpected error in admission, resyncing")
                    self._resync_needed = True
                    await asyncio.sleep(1.0)
                    continue
                await self._sleep_until_needed(min(next_lease_check, next_config))
        finally:
            self.running = False
            await self._settle()

    async def _settle(self) -> None:
        """Let the background writes end (finalizers, Events): they report or clean up decisions
        already written, whoever leads next."""
        with contextlib.suppress(asyncio.CancelledError):
            pending = self._background | set(self._in_flight.values())
            if pending:
                await asyncio.wait(pending, timeout=5.0)
            await self.outbox.close()

    # ----- decisions carried out concurrently ---------------------------------------------------

    def _concurrently(self, key: ExecKey, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(work)
        self._in_flight[key] = task

        def done(finished: asyncio.Task[None]) -> None:
            if self._in_flight.get(key) is finished:
                del self._in_flight[key]
            if key in self._look_again:
                self._look_again.discard(key)
                self._dirty_first[key] = None
                self._wake.set()
            if not finished.cancelled() and finished.exception() is not None and self._failure is None:
                self._failure = finished.exception()
                self._wake.set()

        task.add_done_callback(done)

    async def _room(self) -> None:
        while len(self._in_flight) >= MAX_IN_FLIGHT:
            await asyncio.wait(set(self._in_flight.values()), return_when=asyncio.FIRST_COMPLETED)

    async def _settled(self, key: ExecKey) -> None:
        """Wait for `key`'s own write in flight, if any (its failure is the loop's, see `_failure`)."""
        task = self._in_flight.get(key)
        if task is not None:
            await asyncio.wait([task])

    async def _drain(self) -> None:
        """Before a rebuild: every write in flight lands (or fails); their failures are subsumed."""
        if self._in_flight:
            await asyncio.wait(set(self._in_flight.values()))
        self._failure = None

    def _raise_failure(self) -> None:
        if self._failure is not None:
            failure, self._failure = self._failure, None
            raise failure

    async def _sleep_until_needed(self, deadline: float) -> None:
        loop = asyncio.get_running_loop()
        timeout = max(0.0, deadline - loop.time())
        wakeup = self.policy.next_wakeup()
        if wakeup is not None:
            timeout = min(timeout, max(0.0, (wakeup - _now()).total_seconds()) + 0.001)
        if self._dirty_deployments:
            timeout = min(timeout, DEPLOYMENT_STATUS_MIN_INTERVAL)
        # asyncio.wait, not wait_for: on 3.11 wait_for swallows a cancellation that arrives as the
        # event fires, and the loop would outlive its leadership.
        waiter = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait([waiter], timeout=timeout)
        finally:
            waiter.cancel()
        self._wake.clear()

    async def _reload_config(self) -> None:
        config_map = await self.api.get_config_map(self.settings.operator_namespace, CONFIG_MAP_NAME)
        try:
            config = parse_operator_config((config_map or {}).get("data"))
        except InvalidConfig as error:
            logger.error("keeping the last good configuration: %s", error)
            return
        if config != self.config:
            self.config = config
            await self._carry_out(self.policy.set_max_running(config.max_running_executions))

    # ----- rebuild from the API -----------------------------------------------------------------

    async def _list_executions(self) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for namespace in [None] if self.settings.namespaces is None else self.settings.namespaces:
            found.extend(await self.api.list_executions(namespace))
        return found

    async def resync(self) -> None:
        """Rebuild the policy from statuses and leases, not from memory, and repair what a crash or a
        lost race left half-done: leases held by final or deleted executions are released; a lease
        held by an execution with no admitted status is completed (the admission it began is
        finished, under the same start order), or released when the start order now forbids it."""
        self.resyncs += 1
        self._resync_needed = False
        self._listing = set()
        try:
            listed = await self._list_executions()
        finally:
            told, self._listing = self._listing, None
        fresh: dict[ExecKey, dict[str, Any]] = {}
        for obj in listed:
            key = exec_key(obj)
            cached = self.executions.get(key)
            if key not in told:
                fresh[key] = obj if cached is None or _newer(cached, obj) else cached
        # What the watch told while the list was on its way is newer than the list: an execution
        # created meanwhile is kept (dropping it would leave it undecided for good), and one deleted
        # meanwhile is not brought back from the list.
        for key in told:
            cached = self.executions.get(key)
            if cached is not None:
                fresh[key] = cached
        self.executions = fresh
        await self._repair_leases()
        records: list[tuple[Any, Phase | None]] = []
        undecided: list[ExecKey] = []
        for key, obj in self.executions.items():
            phase = phase_of(obj)
            if phase is None:
                undecided.append(key)
            elif phase not in FINAL_PHASES:
                records.append((self._request(key, obj), policy_phase(phase)))
            elif FINALIZER in _finalizers(obj) or decide_resume(obj) is not None:
                self._dirty[key] = None
        self.policy, decisions = AdmissionPolicy.from_records(
            records, self.config.max_running_executions, _now()
        )
        # Undecided requests get their place in creation order: a list comes in name order, and
        # creationTimestamp has seconds, so the creation version breaks ties (they were never
        # written, so it is their creation's). Re-inserted: the dirty set is worked in order.
        undecided.sort(key=self._creation_order)
        base = _now()
        for index, key in enumerate(undecided):
            self._first_seen[key] = base + timedelta(microseconds=index)
            self._dirty.pop(key, None)
            self._dirty[key] = None
        await self._carry_out(decisions)
        for obj in self.executions.values():
            if _deleting(obj) or (obj.get("spec") or {}).get("cancel"):
                self._dirty[exec_key(obj)] = None

    def _creation_order(self, key: ExecKey) -> tuple[str, int, str]:
        obj = self.executions[key]
        metadata = obj["metadata"]
        return (metadata.get("creationTimestamp") or "", _rv(obj) or 0, key.name)

    async def _repair_leases(self) -> None:
        system = LeaseRef.system(self.settings.operator_namespace)
        leases: dict[LeaseRef, LeaseHolders] = dict(
            await self.locks.held_deployment_leases(self.settings.namespaces)
        )
        system_state = await self.locks.read(system)
        if system_state.held:
            leases[system] = system_state
        holding: set[ExecKey] = set()
        for ref, state in leases.items():
            for holder in state.holders:
                key = ExecKey(ref.namespace, holder)
                obj = self.executions.get(key)
                phase = None if obj is None else phase_of(obj)
                if obj is None or phase in FINAL_PHASES:
                    await self.locks.release(ref, holder)
                elif phase in RUNNING_PHASES:
                    holding.add(key)
                else:
                    await self._complete_admission(ref, system, key, obj)
                    holding.add(key)
        for key, obj in self.executions.items():
            phase = phase_of(obj)
            if phase in RUNNING_PHASES and key not in holding:
                # A running execution whose lease is gone (deleted by hand): hold it again, so S1/S2
                # keep seeing it. Joining, not exclusive: it runs whatever the lease says.
                await self.locks.acquire(self._lease_of(key, obj), key.name, exclusive=False)

    async def _complete_admission(
        self, ref: LeaseRef, system: LeaseRef, key: ExecKey, obj: dict[str, Any]
    ) -> None:
        """An admitter acquired `ref` for `key` and stopped before `pending`: check the start order
        again (the other lock must be free), then finish the admission, or release."""
        if ref == system:
            blocked = bool(await self.locks.held_deployment_leases(self.settings.namespaces))
        else:
            barrier = await self.locks.read(system)
            blocked = barrier.held and not barrier.holds(key.name)
        if blocked:
            await self.locks.release(ref, key.name)
            return
        spec = obj.get("spec") or {}
        await self._write_status(
            obj,
            Transition(
                ExecutionPhase.PENDING, ConditionReason.ADMITTED, "Admitted (completed after a restart)"
            ),
            system_wide=not spec.get("deployment"),
        )
        await self._admitted_metadata(key)

    # ----- reconciling one execution ------------------------------------------------------------

    def _request(self, key: ExecKey, obj: dict[str, Any]) -> Any:
        return to_request(obj, created_at(obj, self._first_seen.get(key) or _now()))

    def _lease_of(self, key: ExecKey, obj: dict[str, Any]) -> LeaseRef:
        deployment = (obj.get("spec") or {}).get("deployment")
        if deployment:
            return LeaseRef.of_deployment(key.namespace, deployment)
        return LeaseRef.system(self.settings.operator_namespace)

    async def _reconcile(self, key: ExecKey) -> None:
        if key in self._in_flight:  # mostly the echo of that very write: waiting would serialise
            self._look_again.add(key)
            return
        obj = self.executions.get(key)
        slot = self.policy.slot_of(key)
        gone = self._deleted.pop(key, None)
        if obj is None:
            self._first_seen.pop(key, None)
            self._started_seen.discard(key)
            if gone is not None and (slot is Slot.RUNNING or phase_of(gone) in RUNNING_PHASES):
                # Deleted while running without passing the finalizer (it was never added, or was
                # removed by hand): the lease must not outlive it.
                await self.locks.release(self._lease_of(key, gone), key.name)
            if slot is not None:
                await self._carry_out(self.policy.ended(key))
            return
        phase = phase_of(obj)
        spec = obj.get("spec") or {}
        if phase is None:
            if slot is None and not _deleting(obj):
                await self._admit(key, obj)
            elif _deleting(obj) and FINALIZER in _finalizers(obj):
                # Marked for keeping, then deleted before any decision was written: nothing to end.
                self._drop_finalizer_soon(key)
            return
        if phase in FINAL_PHASES:
            if slot is not None or (FINALIZER in _finalizers(obj) and key not in self._ending):
                await self._end(key, obj)
            await self._act_on_resume(key)
            return
        await self._act_on_resume(key)
        if phase in RUNNING_PHASES:
            if slot is not Slot.RUNNING:
                await self._carry_out(self.policy.restore(self._request(key, obj), Phase(phase.value)))
            cancel = spec.get("cancel")
            if _deleting(obj) or cancel == "kill":
                await self._kill(key, obj)
            elif cancel:
                await self._cancel_running(key, obj, phase, cancel)
            return
        if phase in WAITING_PHASES:
            if slot not in (Slot.QUEUED, Slot.SCHEDULED):
                await self._carry_out(self.policy.restore(self._request(key, obj), Phase(phase.value)))
            if _deleting(obj) or spec.get("cancel"):
                await self._carry_out(self.policy.cancel(key))

    async def _act_on_resume(self, key: ExecKey) -> None:
        """The `conveyor.dev/resume` annotation (`controller.resume`): a new attempt, whose phase-less
        status sends it through admission at once, or a refusal. A lost CAS: look again."""
        obj = self.executions.get(key)
        if obj is None or _deleting(obj):
            return
        decision = decide_resume(obj)
        if decision is None:
            return
        if isinstance(decision, Resume):
            patch = resume_patch(obj, decision, _now())
            reason, message, event_type = (
                RESUMED, f"Resumed as attempt {decision.attempt} (token {decision.token})", "Normal"
            )
        else:
            patch = refusal_patch(obj, decision)
            reason, message, event_type = RESUME_REFUSED, decision.message, "Warning"
        try:
            written = self._record(
                await self.api.patch_custom(
                    EXECUTION.plural, key.namespace, key.name, patch, status=True, count_as="status"
                )
            )
        except NotFound:
            return
        except Conflict:
            await self._fresh(key)
            self._dirty[key] = None
            return
        self._event(written, reason, message, event_type)
        if isinstance(decision, Resume):
            self._first_seen[key] = _now()
            self._dirty[key] = None

    async def _deployment_of(self, key: ExecKey, name: str) -> dict[str, Any] | None:
        dkey = DeploymentKey(key.namespace, name)
        cached = self.deployments.get(dkey)
        if cached is not None:
            return cached
        fetched = await self.api.get_deployment(key.namespace, name)
        if fetched is not None:
            self.deployments[dkey] = fetched
        return fetched

    async def _admit(self, key: ExecKey, obj: dict[str, Any]) -> None:
        deployment_name = (obj.get("spec") or {}).get("deployment")
        deployment = admissible_deployment(
            await self._deployment_of(key, deployment_name) if deployment_name else None
        )
        why = invalid_reason(obj, deployment, self.settings.operator_namespace, self.config)
        if why is not None:
            await self._carry_out([Invalid(key, why)])
            return
        await self._carry_out(self.policy.submit(self._request(key, obj), _now()))

    # ----- carrying out decisions ---------------------------------------------------------------

    async def _carry_out(self, decisions: Iterable[Decision]) -> None:
        for decision in decisions:
            key = decision.key
            await self._settled(key)
            if isinstance(decision, Start):
                await self._start(decision)
                outcome = "admitted"
            elif isinstance(decision, Cancel):
                await self._decide(
                    key, Transition(ExecutionPhase.CANCELLED, ConditionReason.CANCELLED, "Cancelled")
                )
                outcome = "cancelled"
            else:
                outcome, transition, waiting_for = self._own_status(decision)
                await self._room()
                self._concurrently(key, self._decide(key, transition, waiting_for=waiting_for))
            self.metrics.decisions.labels(outcome).inc()

    @staticmethod
    def _own_status(decision: Decision) -> tuple[str, Transition, str | None]:
        """A decision that writes only its execution's status: outcome, transition, waitingFor."""
        if isinstance(decision, Queue):
            message = f"Queued: waiting for {decision.waiting_for}"
            transition = Transition(ExecutionPhase.QUEUED, ConditionReason.QUEUED, message)
            return "queued", transition, decision.waiting_for
        if isinstance(decision, Schedule):
            message = f"Scheduled for {decision.at.isoformat()}"
            return "scheduled", Transition(ExecutionPhase.SCHEDULED, ConditionReason.SCHEDULED, message), None
        failed = ExecutionPhase.FAILED
        if isinstance(decision, Reject):
            return "rejected", Transition(failed, ConditionReason.REJECTED, decision.message, "Warning"), None
        assert isinstance(decision, Invalid)
        return "invalid", Transition(failed, ConditionReason.INVALID, decision.message, "Warning"), None

    async def _fresh(self, key: ExecKey) -> dict[str, Any] | None:
        obj = await self.api.get_execution(key.namespace, key.name)
        if obj is None:
            self.executions.pop(key, None)
        else:
            self.executions[key] = obj = _slim(obj)
        return obj

    def _record(self, obj: dict[str, Any]) -> dict[str, Any]:
        key = exec_key(obj)
        if _newer(self.executions.get(key), obj):
            self.executions[key] = obj = _slim(obj)
        return obj

    async def _write_status(
        self,
        obj: dict[str, Any],
        transition: Transition,
        *,
        waiting_for: str | None = None,
        system_wide: bool | None = None,
    ) -> dict[str, Any]:
        """Write one transition (CAS) and its Event. Raises Conflict when the object moved."""
        key = exec_key(obj)
        patch = execution_status_patch(
            obj,
            transition,
            _now(),
            created_at=created_at(obj, self._first_seen.get(key) or _now()),
            system_wide=system_wide
            if system_wide is not None
            else not (obj.get("spec") or {}).get("deployment"),
            waiting_for=waiting_for,
        )
        written = self._record(
            await self.api.patch_custom(
                EXECUTION.plural, key.namespace, key.name, patch, status=True, count_as="status"
            )
        )
        self._event(written, transition.reason.value, transition.message, transition.event_type)
        return written

    def _event(
        self,
        obj: dict[str, Any],
        reason: str,
        message: str,
        event_type: str = "Normal",
        *,
        kind: str = EXECUTION.kind,
    ) -> None:
        """Hand the Event to the outbox: it reports a transition already written, so nothing waits
        for it (and a failed one is logged there, never a reason to undo a decision)."""
        event = build_event(
            obj, reason, message, _now(), component=OPERATOR_COMPONENT, instance=self.settings.identity,
            warning=event_type == "Warning", kind=kind,
        )
        self.outbox.post(obj["metadata"]["namespace"], event)

    async def _label(self, obj: dict[str, Any]) -> None:
        labels = deployment_label((obj.get("spec") or {}).get("deployment"))
        current = (obj.get("metadata") or {}).get("labels") or {}
        if all(current.get(k) == v for k, v in labels.items()):
            return
        key = exec_key(obj)
        patch = {"metadata": {"labels": labels}}
        with contextlib.suppress(NotFound):
            self._record(
                await self.api.patch_custom(
                    EXECUTION.plural, key.namespace, key.name, patch, status=False, count_as="metadata"
                )
            )

    async def _decide(self, key: ExecKey, transition: Transition, *, waiting_for: str | None = None) -> None:
        """A decision on an execution that has no admitted status yet (or a waiting one). One that
        keeps it (queued, scheduled) first gets its label and finalizer, so its admission later
        writes only the lease and the status."""
        if transition.phase in WAITING_PHASES:
            await self._admitted_metadata(key)
        obj = self.executions.get(key) or await self._fresh(key)
        if obj is None:
            return
        for _ in range(CONFLICT_RETRIES):
            try:
                written = await self._write_status(obj, transition, waiting_for=waiting_for)
                break
            except NotFound:
                return
            except Conflict:
                obj = await self._same_phase_or_resync(key, obj, transition)
                if obj is None:
                    return
        else:
            raise Resync(f"{key} kept changing while {transition.phase.value} was decided")
        await self._label(written)

    async def _same_phase_or_resync(
        self, key: ExecKey, seen: dict[str, Any], transition: Transition
    ) -> dict[str, Any] | None:
        """After a lost CAS on one execution: re-read it alone. If its phase is still the one the
        decision was made on, only its metadata or spec changed (a label, our own patch, a fault):
        the decision stands and the write is retried on the new version. If the phase moved (another
        admitter decided, a worker claimed it), the policy's view is stale: rebuild from the API.
        A full rebuild is O(executions), so it must not be the answer to every conflict."""
        fresh = await self._fresh(key)
        if fresh is None:
            return None
        if not _same_request(seen, fresh):
            raise Resync(f"{key} changed while {transition.phase.value} was decided")
        return fresh

    async def _start(self, decision: Start) -> None:
        key = decision.key
        await self._admitted_metadata(key)  # no request when queued first: it has them already
        obj = self.executions.get(key)
        if obj is None:
            await self._carry_out(self.policy.ended(key))
            return
        system = LeaseRef.system(self.settings.operator_namespace)
        if decision.deployment is None:
            ref = system
            result = await self.locks.acquire_for_system(system, key.name, self.settings.namespaces)
        else:
            ref = LeaseRef.of_deployment(key.namespace, decision.deployment.name)
            result = await self.locks.acquire_for_deployment(ref, system, key.name, forced=decision.forced)
        if isinstance(result, Busy):
            raise Resync(f"{key} could not start: {result.lease.name} held by {list(result.holders)}")
        transition = Transition(
            ExecutionPhase.PENDING, ConditionReason.ADMITTED, "Admitted: waiting for a worker"
        )
        for _ in range(CONFLICT_RETRIES):
            try:
                await self._write_status(obj, transition)
                break
            except (Conflict, NotFound):
                fresh = await self._fresh(key)
                if fresh is not None and _same_request(obj, fresh):
                    obj = fresh  # only labels or finalizers moved: the lease is ours, write again
                    continue
                if fresh is None or phase_of(fresh) not in RUNNING_PHASES:
                    await self.locks.release(ref, key.name)
                raise Resync(f"{key} changed while it was admitted") from None
        else:
            await self.locks.release(ref, key.name)
            raise Resync(f"{key} kept changing while it was admitted")
        first = self._first_seen.get(key)
        if first is not None:
            self.metrics.admission_latency.observe((_now() - first).total_seconds())
        await self._admitted_metadata(key)
        if self.settings.create_worker_jobs:
            await self._ensure_worker(key, decision.deployment, at_admission=True)

    async def _admitted_metadata(self, key: ExecKey) -> None:
        """Label and finalizer of a running execution: a CAS on the finalizer list, retried on
        conflict (the status is decided already; only the list must not lose an entry)."""
        while True:
            obj = self.executions.get(key) or await self._fresh(key)
            if obj is None:
                return
            metadata = obj.get("metadata") or {}
            finalizers = _finalizers(obj)
            deployment = (obj.get("spec") or {}).get("deployment")
            labels = deployment_label(deployment)
            has_labels = all((metadata.get("labels") or {}).get(k) == v for k, v in labels.items())
            if FINALIZER in finalizers and has_labels:
                return
            if FINALIZER not in finalizers:
                finalizers.append(FINALIZER)
            patch = execution_metadata_patch(obj, labels=labels or None, finalizers=finalizers)
            try:
                self._record(
                    await self.api.patch_custom(
                        EXECUTION.plural, key.namespace, key.name, patch, status=False, count_as="metadata"
                    )
                )
                return
            except NotFound:
                return
            except Conflict:
                await self._fresh(key)

    def _worker_job(self, deployment: DeploymentKey | None, obj: dict[str, Any] | None) -> dict[str, Any]:
        image = self.config.worker_image or self.settings.worker_image
        if deployment is None or obj is None:
            return build_system_worker_job(self.settings.operator_namespace, image=image)
        return build_worker_job(
            Deployment.model_validate(obj),
            default_image=image,
            operator_namespace=self.settings.operator_namespace,
        )

    def _worker_seen_alive(self, deployment: DeploymentKey | None, obj: dict[str, Any] | None) -> bool:
        """Whether the worker claimed an execution recently enough that its Job cannot have ended
        idle since (half its idle timeout). A worker that crashed is not missed by this: its Job is
        not finished (the Job controller replaces the pod), and the lease check looks every time."""
        system: WorkerKey = (self.settings.operator_namespace, None)
        claimed = self._worker_claimed.get((deployment.namespace, deployment.name) if deployment else system)
        if claimed is None:
            return False
        idle = ((((obj or {}).get("spec") or {}).get("worker") or {}).get("idleTimeoutSeconds")
                or DEFAULT_IDLE_TIMEOUT_SECONDS)
        return asyncio.get_running_loop().time() - claimed < float(idle) / 2

    async def _ensure_worker(
        self, key: ExecKey, deployment: DeploymentKey | None, *, at_admission: bool = False
    ) -> None:
        """Identity and Job of the worker that will run `key` (`controller.workers`); when there can
        be none, the execution ends `failed` saying what is missing, and so does the Deployment's
        Event. At admission, a worker seen claiming moments ago is taken as alive (no Job read)."""
        obj = None
        if deployment is not None:
            obj = await self._deployment_of(key, deployment.name)
            if obj is None:
                return
        if at_admission and self._worker_seen_alive(deployment, obj):
            return
        job = self._worker_job(deployment, obj)
        namespace = job["metadata"]["namespace"]
        try:
            problem = await self.workers.ensure_worker(job)
        except ApiError as error:  # tried again at the next lease check; report, go on
            logger.warning("worker of %s: %s", key, error)
            return
        if problem is None:
            return
        message = f"No worker can run in namespace {namespace}: {problem.message}"
        execution = self.executions.get(key)
        if execution is not None and phase_of(execution) is ExecutionPhase.PENDING:
            if obj is not None:
                self._event(obj, ConditionReason.WORKER_UNAVAILABLE, message, "Warning",
                                  kind=DEPLOYMENT.kind)
            transition = Transition(ExecutionPhase.FAILED, ConditionReason.WORKER_UNAVAILABLE, message,
                                    "Warning")
            await self._finish_running(key, execution, transition)

    async def _ensure_pending_workers(self) -> None:
        """Every pending execution has a live worker Job: one look per worker, per lease check."""
        seen: set[tuple[str, str | None]] = set()
        for key, obj in list(self.executions.items()):
            if phase_of(obj) is not ExecutionPhase.PENDING or _deleting(obj):
                continue
            name = (obj.get("spec") or {}).get("deployment")
            if (key.namespace, name) in seen:
                continue
            seen.add((key.namespace, name))
            await self._ensure_worker(key, DeploymentKey(key.namespace, name) if name else None)

    # ----- the end of an execution --------------------------------------------------------------

    async def _end(self, key: ExecKey, obj: dict[str, Any]) -> None:
        """Release the lease, then the finalizer, then hand the slot on (policy.ended). No Event: the
        final status's Event is its writer's (`conveyor.kube.events`)."""
        await self.locks.release(self._lease_of(key, obj), key.name)
        self._started_seen.discard(key)
        self._drop_finalizer_soon(key)
        await self._carry_out(self.policy.ended(key))

    def _drop_finalizer_soon(self, key: ExecKey) -> None:
        """Remove the finalizer in the background: the next start waits only for the release."""
        if key in self._ending:
            return
        self._ending.add(key)
        task = asyncio.get_running_loop().create_task(self._drop_finalizer_in_background(key))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _drop_finalizer_in_background(self, key: ExecKey) -> None:
        try:
            await self._drop_finalizer(key)
        except ApiError as error:  # looked at again from the loop, which calls `_end` once more
            logger.warning("finalizer of %s not removed yet: %s", key, error)
            self._dirty[key] = None
            self._wake.set()
        finally:
            self._ending.discard(key)

    async def _drop_finalizer(self, key: ExecKey) -> None:
        while True:
            obj = self.executions.get(key)
            if obj is None:
                return
            finalizers = _finalizers(obj)
            if FINALIZER not in finalizers:
                return
            finalizers.remove(FINALIZER)
            try:
                self._record(
                    await self.api.patch_custom(
                        EXECUTION.plural,
                        key.namespace,
                        key.name,
                        execution_metadata_patch(obj, finalizers=finalizers),
                        status=False,
                        count_as="metadata",
                    )
                )
                return
            except NotFound:
                self.executions.pop(key, None)
                return
            except Conflict:
                await self._fresh(key)

    async def _finish_running(self, key: ExecKey, obj: dict[str, Any], transition: Transition) -> None:
        """End a running execution from the operator's side (kill, worker lost): CAS the final
        status, then the end path. A lost CAS means the worker moved it: look again next round."""
        try:
            written = await self._write_status(obj, transition)
        except NotFound:
            await self.locks.release(self._lease_of(key, obj), key.name)
            await self._carry_out(self.policy.ended(key))
            return
        except Conflict:
            await self._fresh(key)
            self._dirty[key] = None
            return
        await self._end(key, written)

    async def _kill(self, key: ExecKey, obj: dict[str, Any]) -> None:
        """kill (or deletion of a running execution): delete its worker pod unless another running
        execution shares it, and end it `cancelled`."""
        worker = (obj.get("status") or {}).get("worker")
        if worker:
            shared = any(
                other_key != key
                and (other.get("status") or {}).get("worker") == worker
                and phase_of(other) in RUNNING_PHASES
                for other_key, other in self.executions.items()
            )
            if not shared:
                await self.api.delete_pod(key.namespace, worker)
        why = "Cancelled (kill)" if not _deleting(obj) else "Cancelled: the Execution was deleted"
        await self._finish_running(
            key, obj, Transition(ExecutionPhase.CANCELLED, ConditionReason.CANCELLED, why)
        )

    async def _cancel_running(
        self, key: ExecKey, obj: dict[str, Any], phase: ExecutionPhase, cancel: str
    ) -> None:
        """graceful → cancelling, force → force_cancelling; the worker ends it. A pending execution
        has not been claimed by a worker: it ends `cancelled` at once (the claim is a CAS too, so
        the worker and the operator cannot both win)."""
        if phase is ExecutionPhase.PENDING:
            await self._finish_running(
                key,
                obj,
                Transition(
                    ExecutionPhase.CANCELLED, ConditionReason.CANCELLED, "Cancelled before it started"
                ),
            )
            return
        target = {"graceful": ExecutionPhase.CANCELLING, "force": ExecutionPhase.FORCE_CANCELLING}.get(cancel)
        allowed = {
            ExecutionPhase.CANCELLING: {ExecutionPhase.STARTED},
            ExecutionPhase.FORCE_CANCELLING: {ExecutionPhase.STARTED, ExecutionPhase.CANCELLING},
        }
        if target is None or phase not in allowed[target]:
            return
        try:
            await self._write_status(
                obj, Transition(target, ConditionReason.CANCELLING, f"Cancelling ({cancel})")
            )
        except Conflict:
            await self._fresh(key)
            self._dirty[key] = None
        except NotFound:
            return

    async def _check_worker_leases(self) -> None:
        """A held lease not renewed within its duration: its worker is gone. Its running holders end
        `failed` (worker lost) and the lease is released."""
        now = _now()
        leases = dict(await self.locks.held_deployment_leases(self.settings.namespaces))
        system = LeaseRef.system(self.settings.operator_namespace)
        system_state = await self.locks.read(system)
        if system_state.held:
            leases[system] = system_state
        for ref, state in leases.items():
            if not state.expired(now):
                continue
            for holder in state.holders:
                key = ExecKey(ref.namespace, holder)
                obj = self.executions.get(key)
                if obj is None and await self._fresh(key) is None:
                    await self.locks.release(ref, holder)  # its execution is gone: nothing to fail
                    continue
                if obj is None or phase_of(obj) not in RUNNING_PHASES:
                    continue
                message = WORKER_LOST_MESSAGE.format(seconds=state.duration_seconds)
                transition = Transition(
                    ExecutionPhase.FAILED, ConditionReason.WORKER_LOST, message, "Warning"
                )
                await self._finish_running(key, obj, transition)

    # ----- Deployments --------------------------------------------------------------------------

    async def _write_deployment_statuses(self) -> bool:
        """At most DEPLOYMENT_STATUS_BATCH Deployments per turn; True when more are due now (the loop
        then comes back at once, after looking at executions again)."""
        now = asyncio.get_running_loop().time()
        done = 0
        for key in list(self._dirty_deployments):
            obj = self.deployments.get(key)
            if obj is None:
                del self._dirty_deployments[key]
                continue
            last = self._deployment_written.get(key)
            if last is not None and now - last[0] < DEPLOYMENT_STATUS_MIN_INTERVAL:
                continue
            if done >= DEPLOYMENT_STATUS_BATCH:
                return True
            del self._dirty_deployments[key]
            await self._reconcile_deployment(key, obj, last[1] if last else None)
            done += 1
        return False

    async def _reconcile_deployment(
        self, key: DeploymentKey, obj: dict[str, Any], last: dict[str, Any] | None
    ) -> None:
        mine = [
            (ekey, e)
            for ekey, e in self.executions.items()
            if ekey.namespace == key.namespace and (e.get("spec") or {}).get("deployment") == key.name
        ]
        running = [(k, e) for k, e in mine if phase_of(e) in RUNNING_PHASES]
        queued = sum(1 for _, e in mine if phase_of(e) is ExecutionPhase.QUEUED)
        finalizers = _finalizers(obj)
        deleting = _deleting(obj)
        message = None
        if deleting:
            for ekey, e in running:
                if phase_of(e) is not ExecutionPhase.KILL_CANCELLING:
                    await self._kill(ekey, e)
            for ekey, e in mine:
                if phase_of(e) in WAITING_PHASES:
                    await self._carry_out(self.policy.cancel(ekey))
            still = [k.name for k, e in mine if phase_of(self.executions.get(k) or e) in RUNNING_PHASES]
            if not still:
                if FINALIZER in finalizers:
                    finalizers.remove(FINALIZER)
                    with contextlib.suppress(NotFound, Conflict):
                        await self.api.patch_custom(
                            DEPLOYMENT.plural,
                            key.namespace,
                            key.name,
                            {
                                "metadata": {
                                    "finalizers": finalizers,
                                    "resourceVersion": obj["metadata"].get("resourceVersion"),
                                }
                            },
                            status=False,
                            count_as="deployment",
                        )
                return
            message = f"Waiting for running executions to be cancelled: [{', '.join(sorted(still))}]"
            self._dirty_deployments[key] = None
        elif FINALIZER not in finalizers:
            with contextlib.suppress(NotFound, Conflict):
                await self.api.patch_custom(
                    DEPLOYMENT.plural,
                    key.namespace,
                    key.name,
                    {
                        "metadata": {
                            "finalizers": [*finalizers, FINALIZER],
                            "resourceVersion": obj["metadata"].get("resourceVersion"),
                        }
                    },
                    status=False,
                    count_as="deployment",
                )
        workflows = list(((obj.get("spec") or {}).get("workflows") or {}).keys())
        worker = worker_job_name(key.name) if running else None
        patch = deployment_status_patch(
            workflows,
            len(running),
            queued,
            worker,
            obj["metadata"].get("generation"),
            deleting_message=message,
        )
        current = obj.get("status") or {}
        if all(current.get(k) == v for k, v in patch["status"].items() if v is not None) and last is None:
            self._deployment_written[key] = (asyncio.get_running_loop().time(), patch)
            return
        if last == patch:
            return
        with contextlib.suppress(NotFound):
            await self.api.patch_custom(
                DEPLOYMENT.plural, key.namespace, key.name, patch, status=True, count_as="deployment"
            )
        self._deployment_written[key] = (asyncio.get_running_loop().time(), patch)
