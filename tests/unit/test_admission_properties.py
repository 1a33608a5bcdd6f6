"""Admission under random histories: S1, S2, S3, L1, L2, L3 and the dequeue order after every step.

The policy is checked against a naive model written here, independent of the policy's indexes:
plain lists scanned in O(n), the rules of DESIGN.md spelled out once more. Every decision the policy
returns is checked against the model before the model applies it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

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
    Request,
    Schedule,
    Start,
)

T0 = datetime(2025, 1, 1, tzinfo=UTC)
DEPLOYMENTS = [DeploymentKey("shop", "web"), DeploymentKey("shop", "db"), DeploymentKey("lab", "web")]
FINAL = {"finished", "rejected", "invalid", "cancelled", "deleted"}


@dataclass
class Model:
    """One execution as the model sees it."""

    request: Request
    state: str = "new"  # new | scheduled | queued | running | and one of FINAL
    starts: int = 0


class AdmissionHistory(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.policy = AdmissionPolicy()
        self.cap = 0
        self.now = T0
        self.seq = 0
        self.execs: dict[ExecKey, Model] = {}

    # ----- the naive model -------------------------------------------------------------------------

    def in_state(self, state: str) -> list[Model]:
        return [m for m in self.execs.values() if m.state == state]

    def earliest(self, models: list[Model]) -> Model | None:
        return min(models, key=lambda m: m.request.order, default=None)

    def blockers(self, request: Request) -> str | None:
        """The rejection text the rules give for ``request`` now, or None if it may start.

        Precedence of DESIGN.md: running system-wide, queued system-wide, busy deployment, cap; for
        a system-wide request: anything running, an earlier queued system-wide one, cap.
        """
        running = [m for m in self.in_state("running") if m.request.key != request.key]
        queued_system = [
            m for m in self.in_state("queued") if m.request.system_wide and m.request.key != request.key
        ]
        if request.system_wide:
            if running:
                ids = ", ".join(sorted(str(m.request.key) for m in running))
                return (
                    "You cannot start a system-wide execution if there are other executions running. "
                    f"Currently running executions: [{ids}]"
                )
            queued_system = [m for m in queued_system if m.request.order < request.order]
        else:
            running_system = [m for m in running if m.request.system_wide]
            if running_system:
                first = min(str(m.request.key) for m in running_system)
                return (
                    f"You cannot start an execution if there is a running system-wide execution (id: {first})"
                )
        head = self.earliest(queued_system)
        if head is not None:
            return (
                "You cannot start an execution while a system-wide execution is waiting in the queue "
                f"(id: {head.request.key}). Set queue: true to run after it."
            )
        if not request.system_wide and not request.force:
            busy = sorted(m.request.key.name for m in running if m.request.deployment == request.deployment)
            if busy:
                return (
                    "The following executions are currently running for this deployment: "
                    f"[{', '.join(busy)}]. Set force: true to run this workflow anyway."
                )
        if self.cap and len(running) >= self.cap:
            return (
                "You cannot start an execution while the maximum number of running executions is reached "
                f"({len(running)} running, maxRunningExecutions: {self.cap}). "
                "Set queue: true to run when one ends."
            )
        if not request.system_wide and not request.force:
            ahead = [
                m
                for m in self.in_state("queued")
                if m.request.deployment == request.deployment
                and not m.request.force
                and m.request.order < request.order
            ]
            if ahead:
                return "FIFO: an earlier execution of this deployment is queued"
        return None

    def startable_queued(self) -> list[Model]:
        return [m for m in self.in_state("queued") if self.blockers(m.request) is None]

    # ----- checking and applying decisions ---------------------------------------------------------

    def apply(
        self, decisions: list[Decision], *, new: ExecKey | None = None, cancelled: ExecKey | None = None
    ) -> None:
        for decision in decisions:
            model = self.execs[decision.key]
            assert model.state not in FINAL, f"S3: decision {decision} for a final execution"
            if isinstance(decision, Start):
                self.check_start(model, came_from_queue=decision.key != new)
                assert decision.deployment == model.request.deployment
                assert decision.forced == model.request.force
                model.state = "running"
                model.starts += 1
            elif isinstance(decision, Queue):
                assert model.state in ("new", "scheduled"), f"{decision} from {model.state}"
                assert self.blockers(model.request) is not None, f"L1: queued {decision.key} could start"
                model.state = "queued"
            elif isinstance(decision, Reject):
                assert decision.key == new and model.state == "new"
                assert not model.request.queue and model.request.scheduled_time is None
                assert decision.message == self.blockers(model.request)
                model.state = "rejected"
            elif isinstance(decision, Invalid):
                assert decision.key == new and model.state == "new"
                model.state = "invalid"
            elif isinstance(decision, Schedule):
                assert decision.key == new and model.state == "new"
                assert decision.at == model.request.scheduled_time and decision.at > self.now
                model.state = "scheduled"
            elif isinstance(decision, Cancel):
                assert decision.key == cancelled, "L3: only the execution asked for is cancelled"
                assert model.state in ("queued", "scheduled")
                model.state = "cancelled"

    def check_start(self, model: Model, *, came_from_queue: bool) -> None:
        request = model.request
        assert model.starts == 0, f"S3: {request.key} started twice"
        running = self.in_state("running")
        if request.system_wide:
            assert not running, f"S2: system-wide {request.key} started while {len(running)} run"
        else:
            assert not any(m.request.system_wide for m in running), (
                f"S2: {request.key} started beside a system-wide"
            )
            if not request.force:
                assert not any(m.request.deployment == request.deployment for m in running), (
                    f"S1: {request.key} started while its deployment runs"
                )
        assert not self.cap or len(running) < self.cap, "cap exceeded"
        if came_from_queue and model.state == "queued":
            queued_system = [m for m in self.in_state("queued") if m.request.system_wide]
            if queued_system:
                assert model is self.earliest(queued_system), (
                    "L2: only the first queued system-wide may start next"
                )
            else:
                assert model is self.earliest(self.startable_queued()), (
                    "dequeue order: earliest startable first"
                )

    # ----- history steps ---------------------------------------------------------------------------

    @initialize(cap=st.integers(0, 3))
    def start_with_cap(self, cap: int) -> None:
        self.cap = cap
        self.policy = AdmissionPolicy(max_running=cap)

    @rule(
        deployment=st.sampled_from([*DEPLOYMENTS, None]),
        force=st.sampled_from([False, False, True]),
        queue=st.booleans(),
        dry_run=st.sampled_from([False, False, False, True]),
        schedule_in=st.none() | st.none() | st.integers(-3, 30),
    )
    def create(
        self,
        deployment: DeploymentKey | None,
        force: bool,
        queue: bool,
        dry_run: bool,
        schedule_in: int | None,
    ) -> None:
        self.seq += 1
        namespace = deployment.namespace if deployment else "conveyor-system"
        request = Request(
            key=ExecKey(namespace, f"x{self.seq:03d}"),
            deployment=deployment,
            created=self.now,
            seq=self.seq,
            force=force,
            queue=queue,
            dry_run=dry_run,
            scheduled_time=None if schedule_in is None else self.now + timedelta(seconds=schedule_in),
        )
        self.execs[request.key] = Model(request)
        decisions = self.policy.submit(request, self.now)
        assert len(decisions) == 1 and decisions[0].key == request.key
        [decision] = decisions
        if queue and (force or dry_run):
            assert isinstance(decision, Invalid), "queue with force or dryRun is invalid"
        elif schedule_in is not None and schedule_in < 0:
            assert isinstance(decision, Invalid), "scheduledTime in the past is invalid"
        elif schedule_in is not None and schedule_in > 0:
            assert isinstance(decision, Schedule)
        else:
            as_queued = queue or schedule_in is not None
            expected = self.blockers(request)
            if expected is None:
                assert isinstance(decision, Start), f"L1: {request.key} could start, got {decision}"
            elif as_queued:
                assert isinstance(decision, Queue), f"expected queued, got {decision}"
            else:
                assert isinstance(decision, Reject), f"expected rejected, got {decision}"
        self.apply(decisions, new=request.key)

    @precondition(lambda self: bool(self.in_state("running")))
    @rule(pick=st.integers(0, 10_000))
    def finish(self, pick: int) -> None:
        running = sorted(self.in_state("running"), key=lambda m: m.request.order)
        model = running[pick % len(running)]
        model.state = "finished"
        decisions = self.policy.ended(model.request.key)
        assert all(isinstance(d, Start) for d in decisions)
        self.apply(decisions)

    @precondition(lambda self: bool(self.in_state("queued") + self.in_state("scheduled")))
    @rule(pick=st.integers(0, 10_000))
    def cancel_waiting(self, pick: int) -> None:
        waiting = sorted(self.in_state("queued") + self.in_state("scheduled"), key=lambda m: m.request.order)
        key = waiting[pick % len(waiting)].request.key
        decisions = self.policy.cancel(key)
        assert decisions[:1] == [Cancel(key)], "L3: cancelled at once"
        self.apply(decisions, cancelled=key)

    @precondition(lambda self: bool(self.in_state("running")))
    @rule(pick=st.integers(0, 10_000))
    def cancel_running_is_not_admissions_business(self, pick: int) -> None:
        running = sorted(self.in_state("running"), key=lambda m: m.request.order)
        assert self.policy.cancel(running[pick % len(running)].request.key) == []

    @precondition(lambda self: bool(self.in_state("queued")))
    @rule(pick=st.integers(0, 10_000))
    def delete_queued(self, pick: int) -> None:
        queued = sorted(self.in_state("queued"), key=lambda m: m.request.order)
        model = queued[pick % len(queued)]
        model.state = "deleted"
        decisions = self.policy.ended(model.request.key)
        assert all(isinstance(d, Start) for d in decisions)
        self.apply(decisions)

    @rule(seconds=st.integers(0, 20))
    def time_passes(self, seconds: int) -> None:
        self.now += timedelta(seconds=seconds)
        due = sorted(
            (m for m in self.in_state("scheduled") if m.request.scheduled_time <= self.now),  # type: ignore[operator]
            key=lambda m: (m.request.scheduled_time, m.request.order),
        )
        decisions = self.policy.advance(self.now)
        admitted = [
            d.key for d in decisions if not isinstance(d, Start) or self.execs[d.key].state == "scheduled"
        ]
        assert admitted == [m.request.key for m in due], "scheduled ones are admitted when due, in time order"
        assert not any(isinstance(d, Reject) for d in decisions), "due scheduled ones queue, never fail"
        self.apply(decisions)

    @rule(cap=st.integers(0, 3))
    def change_cap(self, cap: int) -> None:
        self.cap = cap
        decisions = self.policy.set_max_running(cap)
        assert all(isinstance(d, Start) for d in decisions)
        self.apply(decisions)

    @rule()
    def restart(self) -> None:
        """The operator restarts: rebuild from statuses; a drained state needs no decision."""
        phases = {"running": Phase.STARTED, "queued": Phase.QUEUED, "scheduled": Phase.SCHEDULED}
        records = [
            (m.request, phases.get(m.state, Phase.TERMINATED)) for m in reversed(list(self.execs.values()))
        ]
        self.policy, decisions = AdmissionPolicy.from_records(records, self.cap, self.now)
        assert decisions == []

    # ----- after every step ------------------------------------------------------------------------

    @invariant()
    def s2_system_wide_runs_alone(self) -> None:
        running = self.in_state("running")
        if any(m.request.system_wide for m in running):
            assert len(running) == 1

    @invariant()
    def l1_no_queued_execution_could_start(self) -> None:
        assert self.startable_queued() == []

    @invariant()
    def policy_counts_agree_with_the_model(self) -> None:
        assert self.policy.running_count == len(self.in_state("running"))
        assert self.policy.queued_count == len(self.in_state("queued"))
        assert self.policy.scheduled_count == len(self.in_state("scheduled"))

    @invariant()
    def queue_positions_follow_creation_order_per_line(self) -> None:
        lines: dict[object, list[Model]] = {}
        for m in self.in_state("queued"):
            line = (
                "system" if m.request.system_wide else ("forced" if m.request.force else m.request.deployment)
            )
            lines.setdefault(line, []).append(m)
        for members in lines.values():
            members.sort(key=lambda m: m.request.order)
            assert [self.policy.queue_position(m.request.key) for m in members] == list(
                range(1, len(members) + 1)
            )

    def teardown(self) -> None:
        """S3: let the history run out; every execution then has exactly one final outcome."""
        for _ in range(10_000):
            if self.in_state("scheduled"):
                self.time_passes(3600)
            elif self.in_state("running"):
                self.finish(0)
            else:
                break
        assert not self.in_state("queued"), "queued executions left behind once everything ended"
        for model in self.execs.values():
            assert model.state in FINAL, f"S3: {model.request.key} never ended ({model.state})"
            assert model.starts == (1 if model.state == "finished" else 0)


TestAdmissionHistory = AdmissionHistory.TestCase
