"""The admission policy: which execution starts, waits, or fails, and in what order.

Pure: no I/O, no clock, no Kubernetes. The controller feeds it events (a new request, an execution
that ended, a cancel, the time, a new cap) and carries out the decisions it returns, each one for
one execution: ``Start`` (acquire the lease, then status ``pending``), ``Queue``, ``Reject``,
``Invalid``, ``Schedule``, ``Cancel``. The policy assumes its decisions are carried out; when the
lease protocol says otherwise (another admitter won a CAS), the controller tells it what really
happened with :meth:`AdmissionPolicy.restore` and acts on what comes back.

The rules (DESIGN.md, "Admission rules"), and how this module keeps them:

- S1: a non-forced execution starts only when its deployment has no running execution and it is
  the earliest queued non-forced one of that deployment. Forced ones skip only that rule.
- S2: a system-wide execution starts only when nothing runs; nothing starts while one runs.
- L1 (work-conserving): every public event ends with :meth:`_drain`, which starts queued
  executions until none may start; a new request that may start starts, even with ``queue``.
- L2: while a system-wide execution is queued only it may start next (the reference system's
  no-starvation rule: it dequeues the earliest queued system-wide execution alone), and requests
  without ``queue`` are rejected. Otherwise the queued execution that starts next is the earliest
  created among those that may start: FIFO per deployment, a busy deployment never holds up
  another, FIFO among system-wide executions, and the cap (``maxRunningExecutions``) hands freed
  slots out in creation order.
- Which rejection wins when several blockers apply (DESIGN.md's order): for a deployment request,
  a running system-wide execution, then a queued system-wide one, then the busy deployment (not
  for forced requests), then the cap. For a system-wide request: anything running, then a queued
  system-wide one ahead of it, then the cap.

Complexity (n queued or scheduled executions, r running ones, d deployments): a decision about a
new request, an end, a cancel or a cap change is O(log n) per execution it starts or dequeues,
amortized (creation-ordered heaps with lazy deletion per deployment, for system-wide and for forced
executions, and one heap of idle deployments keyed by their first queued execution). Two texts
name every blocker and so cost more: the busy-deployment rejection O(r_dep log r_dep), and a
system-wide request meeting running executions O(r log r). Rebuilding is O((n + r) log n).
Queue positions are computed on demand in O(n log n) and never stored on the objects.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from conveyor.admission import messages
from conveyor.admission.state import CreationQueue


class ExecKey(NamedTuple):
    """An Execution's identity."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


class DeploymentKey(NamedTuple):
    """A Deployment's identity."""

    namespace: str
    name: str

    def __str__(self) -> str:
        return f"{self.namespace}/{self.name}"


class Phase(enum.StrEnum):
    """``status.phase`` of an Execution, as the records of a rebuild carry it."""

    PENDING = "pending"
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    STARTED = "started"
    CANCELLING = "cancelling"
    FORCE_CANCELLING = "force_cancelling"
    KILL_CANCELLING = "kill_cancelling"
    TERMINATED = "terminated"
    FAILED = "failed"
    CANCELLED = "cancelled"


RUNNING_PHASES = frozenset(
    {Phase.PENDING, Phase.STARTED, Phase.CANCELLING, Phase.FORCE_CANCELLING, Phase.KILL_CANCELLING}
)
FINAL_PHASES = frozenset({Phase.TERMINATED, Phase.FAILED, Phase.CANCELLED})


@dataclass(frozen=True)
class Request:
    """What admission needs to know of an Execution; the controller builds it from the object.

    ``created`` is the creation time; ``seq`` breaks ties between executions created in the same
    instant (creationTimestamp has a one-second resolution): use something every admitter computes
    the same way from the object, so rebuilds and replicas agree on the order. ``deployment`` is
    None for a system-wide execution. ``submitted`` is when the API server accepted the object
    (metadata.creationTimestamp): a ``scheduledTime`` is judged "in the past" against it, not against
    ``created``, which may be when an operator that was down or late first saw the request.
    """

    key: ExecKey
    deployment: DeploymentKey | None
    created: datetime
    seq: int = 0
    force: bool = False
    queue: bool = False
    dry_run: bool = False
    scheduled_time: datetime | None = None
    submitted: datetime | None = None

    @property
    def system_wide(self) -> bool:
        return self.deployment is None

    @property
    def order(self) -> tuple[datetime, int, str, str]:
        """The creation order: total, and the same on every admitter."""
        return (self.created, self.seq, self.key.namespace, self.key.name)


@dataclass(frozen=True)
class Start:
    """Admit now: acquire the lease (the system lease when ``deployment`` is None), then ``pending``."""

    key: ExecKey
    deployment: DeploymentKey | None = None
    forced: bool = False


@dataclass(frozen=True)
class Queue:
    """Status ``queued``; ``waiting_for`` is written once, as ``status.waitingFor``."""

    key: ExecKey
    waiting_for: str


@dataclass(frozen=True)
class Reject:
    """Status ``failed``, condition reason ``Rejected``; ``message`` is the reference sentence."""

    key: ExecKey
    message: str


@dataclass(frozen=True)
class Invalid:
    """Status ``failed``, condition reason ``Invalid``."""

    key: ExecKey
    message: str


@dataclass(frozen=True)
class Schedule:
    """Status ``scheduled`` until ``at``; call :meth:`AdmissionPolicy.advance` then (see ``next_wakeup``)."""

    key: ExecKey
    at: datetime


@dataclass(frozen=True)
class Cancel:
    """A queued or scheduled execution ends ``cancelled`` at once."""

    key: ExecKey


Decision = Start | Queue | Reject | Invalid | Schedule | Cancel


class Slot(enum.Enum):
    """Where the policy holds an execution; final ones are forgotten."""

    RUNNING = "running"
    QUEUED = "queued"
    SCHEDULED = "scheduled"


@dataclass(frozen=True)
class _Blocker:
    message: str
    waiting_for: str


@dataclass
class AdmissionPolicy:
    """The admission state and its indexes; every public method is one event in, decisions out.

    Invariant between calls ("drained"): no queued execution may start under the rules.
    """

    max_running: int = 0
    _requests: dict[ExecKey, Request] = field(default_factory=dict, repr=False)
    _slots: dict[ExecKey, Slot] = field(default_factory=dict, repr=False)
    _running_by_deployment: dict[DeploymentKey, set[ExecKey]] = field(default_factory=dict, repr=False)
    _running_system: set[ExecKey] = field(default_factory=set, repr=False)
    _running: set[ExecKey] = field(default_factory=set, repr=False)
    _deployment_queues: dict[DeploymentKey, CreationQueue[ExecKey]] = field(default_factory=dict, repr=False)
    # Idle deployments with queued executions, ordered by their first one: the dequeue candidates.
    _ready: CreationQueue[DeploymentKey] = field(default_factory=CreationQueue, repr=False)
    _system_queue: CreationQueue[ExecKey] = field(default_factory=CreationQueue, repr=False)
    # Forced executions queue only when they come from a schedule (queue + force is invalid).
    _forced_queue: CreationQueue[ExecKey] = field(default_factory=CreationQueue, repr=False)
    _scheduled: CreationQueue[ExecKey] = field(default_factory=CreationQueue, repr=False)

    def __post_init__(self) -> None:
        if self.max_running < 0:
            raise ValueError("max_running must be 0 (no cap) or more")

    # ----- events -------------------------------------------------------------------------------

    def submit(self, request: Request, now: datetime) -> list[Decision]:
        """A new Execution (no status yet). One decision for it; nothing else changes.

        Seen before (the controller may see an object twice): no decision. A ``scheduledTime``
        before the object was submitted is invalid; one that has come by ``now`` (the operator was late)
        goes through admission at once as if ``queue`` were set, as the reference scheduler does.
        """
        if request.key in self._slots:
            return []
        conflicts = [flag for flag, on in (("force", request.force), ("dryRun", request.dry_run)) if on]
        if request.queue and conflicts:
            return [Invalid(request.key, messages.queue_combined_with(conflicts))]
        at = request.scheduled_time
        if at is not None:
            submitted = request.submitted or request.created
            if at < submitted:
                return [Invalid(request.key, messages.scheduled_in_past(at, submitted))]
            if at > now:
                self._schedule(request)
                return [Schedule(request.key, at)]
        return [self._admit(request, queue=request.queue or at is not None)]

    def ended(self, key: ExecKey) -> list[Decision]:
        """The execution reached a final status, or its object was deleted: free what it held.

        Returns the starts this makes possible. Unknown keys are ignored (ends are reported
        level-based and may repeat).
        """
        if self._forget(key) is None:
            return []
        return list(self._drain())

    def cancel(self, key: ExecKey) -> list[Decision]:
        """``spec.cancel`` set: a queued or scheduled execution ends ``cancelled`` at once (L3).

        Running executions are cancelled by their worker, not here: no decision for them.
        """
        if self._slots.get(key) not in (Slot.QUEUED, Slot.SCHEDULED):
            return []
        self._forget(key)
        return [Cancel(key), *self._drain()]

    def advance(self, now: datetime) -> list[Decision]:
        """Time passed: scheduled executions whose time has come go through admission as if
        ``queue`` were set, in order of scheduled time then creation. O(log n) each."""
        decisions: list[Decision] = []
        while (key := self._scheduled.head()) is not None:
            request = self._requests[key]
            assert request.scheduled_time is not None
            if request.scheduled_time > now:
                break
            self._forget(key)
            decisions.append(self._admit(request, queue=True))
        decisions.extend(self._drain())
        return decisions

    def set_max_running(self, max_running: int) -> list[Decision]:
        """The cap changed (0 = none). Lowering it stops nothing that runs; raising it starts the
        earliest queued executions that may start."""
        if max_running < 0:
            raise ValueError("max_running must be 0 (no cap) or more")
        self.max_running = max_running
        return list(self._drain())

    def restore(self, request: Request, phase: Phase) -> list[Decision]:
        """Make the policy agree with an observed phase (another admitter's decision, a failed
        lease CAS undone by the controller), then return the starts that follow.

        Reality wins: a running phase is recorded even if the rules would not have started it.
        To undo a ``Start`` whose lease CAS was lost: ``restore`` the lease holders first, then
        ``ended(key)`` the loser and ``submit`` it again (or ``restore`` it ``queued`` if it was).
        """
        self._forget(request.key)
        self._place(request, phase)
        return list(self._drain())

    @classmethod
    def from_records(
        cls, records: Iterable[tuple[Request, Phase | None]], max_running: int, now: datetime
    ) -> tuple[AdmissionPolicy, list[Decision]]:
        """Rebuild after a restart from what the API says (statuses and leases), not from memory.

        ``phase`` None means no decision yet: those are submitted after the rebuild, in creation
        order. Returns the policy and the decisions due now: starts that became possible while the
        operator was away, scheduled executions whose time came, the undecided requests.
        O((n + r) log n).
        """
        policy = cls(max_running=max_running)
        undecided: list[Request] = []
        for request, phase in records:
            if phase is None:
                undecided.append(request)
            else:
                policy._forget(request.key)
                policy._place(request, phase)
        decisions = policy.advance(now)
        for request in sorted(undecided, key=lambda r: r.order):
            decisions.extend(policy.submit(request, now))
        return policy, decisions

    # ----- queries ------------------------------------------------------------------------------

    def slot_of(self, key: ExecKey) -> Slot | None:
        return self._slots.get(key)

    @property
    def running_count(self) -> int:
        return len(self._running)

    @property
    def queued_count(self) -> int:
        return (
            len(self._system_queue)
            + len(self._forced_queue)
            + sum(len(q) for q in self._deployment_queues.values())
        )

    @property
    def scheduled_count(self) -> int:
        return len(self._scheduled)

    def next_wakeup(self) -> datetime | None:
        """When :meth:`advance` next has work: the earliest scheduled time."""
        key = self._scheduled.head()
        return None if key is None else self._requests[key].scheduled_time

    def queue_position(self, key: ExecKey) -> int | None:
        """1-based place in the line the execution waits in (its deployment's queue, the
        system-wide queue, or the forced ones), None if not queued. O(n log n), on demand only."""
        if self._slots.get(key) is not Slot.QUEUED:
            return None
        line = self._line_of(self._requests[key])
        for position, queued in enumerate(line, start=1):
            if queued == key:
                return position
        raise AssertionError(f"{key} is queued but in no line")  # pragma: no cover

    # ----- internals ----------------------------------------------------------------------------

    def _line_of(self, request: Request) -> CreationQueue[ExecKey]:
        if request.deployment is None:
            return self._system_queue
        if request.force:
            return self._forced_queue
        return self._deployment_queues.setdefault(request.deployment, CreationQueue())

    def _capacity_left(self) -> bool:
        return self.max_running == 0 or len(self._running) < self.max_running

    def _blocker(self, request: Request) -> _Blocker | None:
        """Why ``request`` may not start now, by the precedence in the module docstring."""
        if request.deployment is None:
            if self._running:
                ids = [str(k) for k in self._running]
                return _Blocker(messages.others_running(ids), messages.waiting_for_others(ids))
        else:
            if self._running_system:
                blocker = str(min(self._running_system))
                return _Blocker(
                    messages.system_wide_running(blocker), messages.waiting_for_system_wide_running(blocker)
                )
        waiting_system = self._system_queue.head()
        if waiting_system is not None and (
            request.deployment is not None or self._requests[waiting_system].order < request.order
        ):
            blocker = str(waiting_system)
            return _Blocker(
                messages.system_wide_waiting(blocker), messages.waiting_for_system_wide_queued(blocker)
            )
        if request.deployment is not None and not request.force:
            busy = self._running_by_deployment.get(request.deployment)
            if busy:
                names = [k.name for k in busy]
                return _Blocker(
                    messages.deployment_busy(names),
                    messages.waiting_for_deployment(str(request.deployment), [str(k) for k in busy]),
                )
        if not self._capacity_left():
            return _Blocker(
                messages.capacity_reached(self.max_running, len(self._running)),
                messages.waiting_for_capacity(self.max_running),
            )
        return None

    def _admit(self, request: Request, *, queue: bool) -> Decision:
        """Start, queue or reject a request the policy does not hold yet. Keeps the state drained:
        a start or a queued entry never makes another queued execution startable."""
        blocker = self._blocker(request)
        if blocker is None:
            return self._start(request)
        if queue:
            self._enqueue(request)
            return Queue(request.key, blocker.waiting_for)
        return Reject(request.key, blocker.message)

    def _start(self, request: Request) -> Start:
        key = request.key
        self._requests[key] = request
        self._slots[key] = Slot.RUNNING
        self._running.add(key)
        if request.deployment is None:
            self._running_system.add(key)
        else:
            self._running_by_deployment.setdefault(request.deployment, set()).add(key)
            self._refresh_ready(request.deployment)
        return Start(key, request.deployment, request.force)

    def _enqueue(self, request: Request) -> None:
        self._requests[request.key] = request
        self._slots[request.key] = Slot.QUEUED
        self._line_of(request).push(request.order, request.key)
        if request.deployment is not None and not request.force:
            self._refresh_ready(request.deployment)

    def _schedule(self, request: Request) -> None:
        assert request.scheduled_time is not None
        self._requests[request.key] = request
        self._slots[request.key] = Slot.SCHEDULED
        self._scheduled.push((request.scheduled_time, request.order), request.key)

    def _place(self, request: Request, phase: Phase) -> None:
        """Record a decided phase as is (rebuild, observation); no rule is checked."""
        if phase in RUNNING_PHASES:
            self._start(request)
        elif phase is Phase.QUEUED:
            self._enqueue(request)
        elif phase is Phase.SCHEDULED and request.scheduled_time is not None:
            self._schedule(request)
        elif phase is Phase.SCHEDULED:
            self._enqueue(request)  # a scheduled record without a time: due, so it waits its turn

    def _forget(self, key: ExecKey) -> Slot | None:
        """Drop ``key`` from every index; the drained invariant may not hold afterwards."""
        slot = self._slots.pop(key, None)
        if slot is None:
            return None
        request = self._requests.pop(key)
        deployment = request.deployment
        if slot is Slot.RUNNING:
            self._running.discard(key)
            if deployment is None:
                self._running_system.discard(key)
            else:
                running = self._running_by_deployment[deployment]
                running.discard(key)
                if not running:
                    del self._running_by_deployment[deployment]
                self._refresh_ready(deployment)
        elif slot is Slot.QUEUED:
            self._line_of(request).discard(key)
            if deployment is not None and not request.force:
                self._refresh_ready(deployment)
        else:
            self._scheduled.discard(key)
        return slot

    def _refresh_ready(self, deployment: DeploymentKey) -> None:
        """Keep ``_ready`` exact: a deployment is in it iff it is idle and has queued executions,
        at the order of its first one. O(log n)."""
        self._ready.discard(deployment)
        queue = self._deployment_queues.get(deployment)
        if queue is None:
            return
        head = queue.head()
        if head is None:
            del self._deployment_queues[deployment]
        elif deployment not in self._running_by_deployment:
            self._ready.push(self._requests[head].order, deployment)

    def _drain(self) -> Iterable[Start]:
        """Start queued executions until none may start (L1), in the dequeue order of L2."""
        started: list[Start] = []
        while not self._running_system:
            waiting_system = self._system_queue.head()
            if waiting_system is not None:
                if not self._running and self._capacity_left():
                    started.append(self._start_queued(waiting_system))
                break
            if not self._capacity_left():
                break
            candidates: list[tuple[Any, ExecKey]] = []
            deployment = self._ready.head()
            if deployment is not None:
                head = self._deployment_queues[deployment].head()
                assert head is not None
                candidates.append((self._requests[head].order, head))
            forced = self._forced_queue.head()
            if forced is not None:
                candidates.append((self._requests[forced].order, forced))
            if not candidates:
                break
            _, key = min(candidates)
            started.append(self._start_queued(key))
        return started

    def _start_queued(self, key: ExecKey) -> Start:
        request = self._requests[key]
        self._forget(key)
        return self._start(request)
