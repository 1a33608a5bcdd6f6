"""Admission policy by example: one rule per test, with the exact texts of DESIGN.md."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from conveyor.admission.policy import (
    AdmissionPolicy,
    Cancel,
    DeploymentKey,
    ExecKey,
    Invalid,
    Phase,
    Queue,
    Reject,
    Request,
    Schedule,
    Slot,
    Start,
)

T0 = datetime(2025, 1, 1, tzinfo=UTC)
NS = "shop"
SYSTEM_NS = "conveyor-system"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def run(
    name: str, deployment: str | None = "web", t: float = 0, ns: str | None = None, **flags: object
) -> Request:
    """A request created at T0 + t; deployment None = system-wide (in the operator's namespace)."""
    namespace = ns or (NS if deployment is not None else SYSTEM_NS)
    dep = DeploymentKey(namespace, deployment) if deployment is not None else None
    return Request(key=ExecKey(namespace, name), deployment=dep, created=at(t), **flags)  # type: ignore[arg-type]


def key(name: str, ns: str = NS) -> ExecKey:
    return ExecKey(ns, name)


def skey(name: str) -> ExecKey:
    return ExecKey(SYSTEM_NS, name)


def submit(policy: AdmissionPolicy, request: Request, now: float | None = None) -> list[object]:
    """Submit at the request's creation time unless ``now`` (seconds after T0) says otherwise."""
    return list(policy.submit(request, request.created if now is None else at(now)))


# ----- S1: the deployment rule ---------------------------------------------------------------------


def test_s1_non_forced_request_is_rejected_with_reference_message_while_its_deployment_runs() -> None:
    policy = AdmissionPolicy()
    submit(policy, run("install-1"))
    assert submit(policy, run("install-2", t=1)) == [
        Reject(
            key("install-2"),
            "The following executions are currently running for this deployment: [install-1]. "
            "Set force: true to run this workflow anyway.",
        )
    ]


def test_s1_busy_message_names_every_running_execution_sorted() -> None:
    policy = AdmissionPolicy()
    submit(policy, run("zeta"))
    submit(policy, run("alpha", t=1, force=True))
    [decision] = submit(policy, run("mid", t=2))
    assert isinstance(decision, Reject)
    assert decision.message.startswith(
        "The following executions are currently running for this deployment: [alpha, zeta]."
    )


def test_s1_force_bypasses_the_deployment_rule() -> None:
    policy = AdmissionPolicy()
    submit(policy, run("a"))
    assert submit(policy, run("b", t=1, force=True)) == [Start(key("b"), DeploymentKey(NS, "web"), True)]


def test_s1_queued_execution_waits_for_forced_ones_too() -> None:
    policy = AdmissionPolicy()
    submit(policy, run("a"))
    submit(policy, run("f", t=1, force=True))
    submit(policy, run("q", t=2, queue=True))
    assert policy.ended(key("a")) == []
    assert policy.ended(key("f")) == [Start(key("q"), DeploymentKey(NS, "web"), False)]


def test_s1_same_deployment_name_in_another_namespace_is_another_deployment() -> None:
    policy = AdmissionPolicy()
    submit(policy, run("a"))
    [decision] = submit(policy, run("b", t=1, ns="other"))
    assert isinstance(decision, Start)


# ----- S2: the system-wide rule --------------------------------------------------------------------


def test_s2_nothing_starts_while_a_system_wide_execution_runs() -> None:
    policy = AdmissionPolicy()
    submit(policy, run("snap", deployment=None))
    assert submit(policy, run("a", t=1)) == [
        Reject(
            key("a"),
            "You cannot start an execution if there is a running system-wide execution "
            "(id: conveyor-system/snap)",
        )
    ]


def test_s2_force_never_bypasses_a_running_system_wide_execution() -> None:
    policy = AdmissionPolicy()
    submit(policy, run("snap", deployment=None))
    [decision] = submit(policy, run("a", t=1, force=True))
    assert isinstance(decision, Reject)
    assert "running system-wide execution (id: conveyor-system/snap)" in decision.message


def test_s2_system_wide_request_is_rejected_while_anything_runs_naming_them_sorted() -> None:
    policy = AdmissionPolicy()
    submit(policy, run("b", deployment="db"))
    submit(policy, run("a", deployment="web", ns="zz", t=1))
    assert submit(policy, run("snap", deployment=None, t=2)) == [
        Reject(
            skey("snap"),
            "You cannot start a system-wide execution if there are other executions running. "
            "Currently running executions: [shop/b, zz/a]",
        )
    ]


def test_s2_system_wide_request_is_rejected_while_another_system_wide_runs() -> None:
    policy = AdmissionPolicy()
    submit(policy, run("snap-1", deployment=None))
    [decision] = submit(policy, run("snap-2", deployment=None, t=1))
    assert decision == Reject(
        skey("snap-2"),
        "You cannot start a system-wide execution if there are other executions running. "
        "Currently running executions: [conveyor-system/snap-1]",
    )


def test_s2_queued_system_wide_starts_only_when_everything_ended() -> None:
    policy = AdmissionPolicy()
    submit(policy, run("a", deployment="web"))
    submit(policy, run("b", deployment="db", t=1))
    [queued] = submit(policy, run("snap", deployment=None, t=2, queue=True))
    assert isinstance(queued, Queue)
    assert policy.ended(key("a")) == []
    assert policy.ended(key("b")) == [Start(skey("snap"), None, False)]


# ----- L2: no starvation of a queued system-wide execution -----------------------------------------


def test_l2_request_without_queue_is_rejected_while_a_system_wide_execution_waits() -> None:
    policy = AdmissionPolicy()
    submit(policy, run("a", deployment="web"))
    submit(policy, run("snap", deployment=None, t=1, queue=True))
    assert submit(policy, run("b", deployment="db", t=2)) == [
        Reject(
            key("b"),
            "You cannot start an execution while a system-wide execution is waiting in the queue "
            "(id: conveyor-system/snap). Set queue: true to run after it.",
        )
    ]


def test_l2_forced_request_without_queue_is_rejected_while_a_system_wide_execution_waits() -> None:
    policy = AdmissionPolicy()
    submit(policy, run("a"))
    submit(policy, run("snap", deployment=None, t=1, queue=True))
    [decision] = submit(policy, run("f", t=2, force=True))
    assert isinstance(decision, Reject)
    assert "system-wide execution is waiting in the queue (id: conveyor-system/snap)" in decision.message


def test_l2_queued_request_waits_behind_a_queued_system_wide_execution() -> None:
    policy = AdmissionPolicy()
    submit(policy, run("a", deployment="web"))
    submit(policy, run("snap", deployment=None, t=1, queue=True))
    assert submit(policy, run("b", deployment="db", t=2, queue=True)) == [
        Queue(key("b"), "system-wide execution conveyor-system/snap (queued ahead)")
    ]
    assert policy.ended(key("a")) == [Start(skey("snap"), None, False)]
    assert policy.ended(skey("snap")) == [Start(key("b"), DeploymentKey(NS, "db"), False)]


def test_l2_queued_system_wide_starts_before_earlier_queued_deployment_executions() -> None:
    policy = AdmissionPolicy()
    submit(policy, run("a", deployment="web"))
    submit(policy, run("b", deployment="web", t=1, queue=True))
    submit(policy, run("snap", deployment=None, t=2, queue=True))
    assert policy.ended(key("a")) == [Start(skey("snap"), None, False)]
    assert policy.ended(skey("snap")) == [Start(key("b"), DeploymentKey(NS, "web"), False)]


def test_l2_queued_system_wide_executions_start_one_at_a_time_in_creation_order() -> None:
    policy = AdmissionPolicy()
    submit(policy, run("a"))
    submit(policy, run("snap-2", deployment=None, t=2, queue=True))
    submit(policy, run("snap-1", deployment=None, t=1, queue=True))
    assert policy.ended(key("a")) == [Start(skey("snap-1"), None, False)]
    assert policy.ended(skey("snap-1")) == [Start(skey("snap-2"), None, False)]


# ----- message precedence --------------------------------------------------------------------------


def test_precedence_running_system_wide_wins_over_busy_deployment() -> None:
    policy = AdmissionPolicy.from_records(
        [(run("a"), Phase.STARTED), (run("snap", deployment=None, t=1), Phase.STARTED)], 0, at(2)
    )[0]
    [decision] = submit(policy, run("b", t=3))
    assert isinstance(decision, Reject)
    assert decision.message.startswith("You cannot start an execution if there is a running system-wide")


def test_precedence_waiting_system_wide_wins_over_busy_deployment() -> None:
    policy = AdmissionPolicy()
    submit(policy, run("a"))
    submit(policy, run("snap", deployment=None, t=1, queue=True))
    [decision] = submit(policy, run("b", t=2))
    assert isinstance(decision, Reject)
    assert decision.message.startswith(
        "You cannot start an execution while a system-wide execution is waiting"
    )


def test_precedence_busy_deployment_wins_over_the_cap() -> None:
    policy = AdmissionPolicy(max_running=1)
    submit(policy, run("a"))
    [decision] = submit(policy, run("b", t=1))
    assert isinstance(decision, Reject)
    assert decision.message.startswith("The following executions are currently running for this deployment")


# ----- L1: work-conserving -------------------------------------------------------------------------


def test_l1_request_that_can_start_starts_even_with_queue() -> None:
    policy = AdmissionPolicy()
    assert submit(policy, run("a", queue=True)) == [Start(key("a"), DeploymentKey(NS, "web"), False)]


def test_l1_queued_execution_starts_when_its_deployment_frees() -> None:
    policy = AdmissionPolicy()
    submit(policy, run("a"))
    assert submit(policy, run("b", t=1, queue=True)) == [
        Queue(key("b"), "running executions of deployment shop/web: shop/a")
    ]
    assert policy.ended(key("a")) == [Start(key("b"), DeploymentKey(NS, "web"), False)]


def test_l1_busy_deployment_does_not_hold_up_other_deployments() -> None:
    policy = AdmissionPolicy()
    submit(policy, run("a", deployment="web"))
    submit(policy, run("b", deployment="web", t=1, queue=True))
    assert submit(policy, run("c", deployment="db", t=2, queue=True)) == [
        Start(key("c"), DeploymentKey(NS, "db"), False)
    ]


def test_l2_fifo_per_deployment_one_non_forced_at_a_time() -> None:
    policy = AdmissionPolicy()
    submit(policy, run("a"))
    submit(policy, run("c", t=2, queue=True))
    submit(policy, run("b", t=1, queue=True))
    assert policy.ended(key("a")) == [Start(key("b"), DeploymentKey(NS, "web"), False)]
    assert policy.ended(key("b")) == [Start(key("c"), DeploymentKey(NS, "web"), False)]


# ----- the cap -------------------------------------------------------------------------------------


def test_cap_rejects_a_request_without_queue_when_reached() -> None:
    policy = AdmissionPolicy(max_running=1)
    submit(policy, run("a", deployment="web"))
    assert submit(policy, run("b", deployment="db", t=1)) == [
        Reject(
            key("b"),
            "You cannot start an execution while the maximum number of running executions is reached "
            "(1 running, maxRunningExecutions: 1). Set queue: true to run when one ends.",
        )
    ]


def test_cap_bounds_forced_executions_too() -> None:
    policy = AdmissionPolicy(max_running=1)
    submit(policy, run("a"))
    [decision] = submit(policy, run("f", t=1, force=True))
    assert isinstance(decision, Reject)


def test_cap_hands_a_freed_slot_to_the_earliest_queued_execution_that_may_start() -> None:
    policy = AdmissionPolicy(max_running=2)
    submit(policy, run("a", deployment="web"))
    submit(policy, run("x", deployment="other", t=1))
    submit(policy, run("b", deployment="web", t=2, queue=True))  # held by its deployment
    submit(policy, run("d", deployment="db", t=3, queue=True))
    submit(policy, run("e", deployment="etc", t=4, queue=True))
    assert policy.ended(key("x")) == [Start(key("d"), DeploymentKey(NS, "db"), False)]


def test_cap_raise_starts_queued_executions_in_creation_order() -> None:
    policy = AdmissionPolicy(max_running=1)
    submit(policy, run("a", deployment="web"))
    submit(policy, run("e", deployment="etc", t=2, queue=True))
    submit(policy, run("d", deployment="db", t=1, queue=True))
    assert policy.set_max_running(2) == [Start(key("d"), DeploymentKey(NS, "db"), False)]
    assert policy.set_max_running(0) == [Start(key("e"), DeploymentKey(NS, "etc"), False)]


def test_cap_lowering_stops_nothing_that_runs() -> None:
    policy = AdmissionPolicy()
    submit(policy, run("a", deployment="web"))
    submit(policy, run("b", deployment="db", t=1))
    assert policy.set_max_running(1) == []
    assert policy.running_count == 2
    [decision] = submit(policy, run("c", deployment="etc", t=2, queue=True))
    assert isinstance(decision, Queue)
    assert policy.ended(key("a")) == []
    assert policy.ended(key("b")) == [Start(key("c"), DeploymentKey(NS, "etc"), False)]


# ----- invalid requests ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flags", "named"),
    [
        ({"force": True}, "force: true"),
        ({"dry_run": True}, "dryRun: true"),
        ({"force": True, "dry_run": True}, "force: true and dryRun: true"),
    ],
)
def test_invalid_queue_combined_with_force_or_dry_run(flags: dict[str, bool], named: str) -> None:
    policy = AdmissionPolicy()
    [decision] = submit(policy, run("a", queue=True, **flags))
    assert decision == Invalid(
        key("a"),
        f"queue: true cannot be combined with {named}: a forced or dry-run execution starts now "
        "or fails, it never waits in the queue.",
    )
    assert policy.slot_of(key("a")) is None


def test_invalid_scheduled_time_in_the_past() -> None:
    policy = AdmissionPolicy()
    [decision] = submit(policy, run("a", t=10, scheduled_time=at(5)))
    assert isinstance(decision, Invalid)
    assert decision.message.startswith("scheduledTime 2025-01-01T00:00:05+00:00 is in the past")


def test_scheduled_time_is_judged_against_submission_not_against_a_late_operator() -> None:
    """Submitted at t=1 for t=3; the operator (down until then) first sees it at t=10: admitted."""
    policy = AdmissionPolicy()
    late = run("s", t=10, scheduled_time=at(3), submitted=at(1))
    assert submit(policy, late) == [Start(key("s"), DeploymentKey(NS, "web"), False)]


def test_scheduled_time_before_submission_is_invalid_even_for_a_late_operator() -> None:
    policy = AdmissionPolicy()
    [decision] = submit(policy, run("s", t=10, scheduled_time=at(0), submitted=at(1)))
    assert isinstance(decision, Invalid)
    assert decision.message.startswith("scheduledTime 2025-01-01T00:00:00+00:00 is in the past")


# ----- scheduled executions ------------------------------------------------------------------------


def test_scheduled_execution_waits_until_its_time() -> None:
    policy = AdmissionPolicy()
    assert submit(policy, run("a", scheduled_time=at(60))) == [Schedule(key("a"), at(60))]
    assert policy.next_wakeup() == at(60)
    assert policy.advance(at(59)) == []
    assert policy.advance(at(60)) == [Start(key("a"), DeploymentKey(NS, "web"), False)]


def test_scheduled_execution_is_admitted_as_if_queue_were_set() -> None:
    policy = AdmissionPolicy()
    submit(policy, run("s", scheduled_time=at(60)))
    submit(policy, run("a", t=30))
    assert policy.advance(at(61)) == [Queue(key("s"), "running executions of deployment shop/web: shop/a")]


def test_scheduled_time_already_come_at_submission_is_admitted_at_once() -> None:
    policy = AdmissionPolicy()
    submit(policy, run("a"))
    assert submit(policy, run("s", t=1, scheduled_time=at(2)), now=5) == [
        Queue(key("s"), "running executions of deployment shop/web: shop/a")
    ]


def test_scheduled_forced_execution_queues_behind_a_system_wide_one_and_then_runs_forced() -> None:
    policy = AdmissionPolicy()
    submit(policy, run("a"))
    submit(policy, run("f", t=1, force=True, scheduled_time=at(10)))
    submit(policy, run("snap", deployment=None, t=2, queue=True))
    [queued] = policy.advance(at(10))
    assert isinstance(queued, Queue)
    assert policy.ended(key("a")) == [Start(skey("snap"), None, False)]
    submit(policy, run("b", t=11, queue=True))
    starts = policy.ended(skey("snap"))
    assert starts == [Start(key("f"), DeploymentKey(NS, "web"), True)]


# ----- L3: cancelling ------------------------------------------------------------------------------


def test_l3_cancelling_a_queued_execution_ends_it_at_once() -> None:
    policy = AdmissionPolicy()
    submit(policy, run("a"))
    submit(policy, run("b", t=1, queue=True))
    assert policy.cancel(key("b")) == [Cancel(key("b"))]
    assert policy.ended(key("a")) == []


def test_l3_cancelling_a_scheduled_execution_ends_it_at_once() -> None:
    policy = AdmissionPolicy()
    submit(policy, run("s", scheduled_time=at(60)))
    assert policy.cancel(key("s")) == [Cancel(key("s"))]
    assert policy.advance(at(100)) == []


def test_l3_cancelling_a_running_execution_is_the_workers_business() -> None:
    policy = AdmissionPolicy()
    submit(policy, run("a"))
    assert policy.cancel(key("a")) == []
    assert policy.slot_of(key("a")) is Slot.RUNNING


def test_l3_cancelling_a_queued_system_wide_execution_lets_the_others_go() -> None:
    policy = AdmissionPolicy(max_running=1)
    submit(policy, run("a", deployment="web"))
    submit(policy, run("snap", deployment=None, t=1, queue=True))
    submit(policy, run("b", deployment="db", t=2, queue=True))
    policy.set_max_running(2)
    assert policy.cancel(skey("snap")) == [
        Cancel(skey("snap")),
        Start(key("b"), DeploymentKey(NS, "db"), False),
    ]


# ----- bookkeeping ---------------------------------------------------------------------------------


def test_seeing_a_request_twice_decides_once() -> None:
    policy = AdmissionPolicy()
    submit(policy, run("a"))
    assert submit(policy, run("a")) == []


def test_queue_position_is_the_place_in_the_deployment_line() -> None:
    policy = AdmissionPolicy()
    submit(policy, run("a"))
    for i, name in enumerate(["b", "c", "d"], start=1):
        submit(policy, run(name, t=i, queue=True))
    policy.cancel(key("c"))
    assert [policy.queue_position(key(n)) for n in "abcd"] == [None, 1, None, 2]


def test_rebuild_from_records_keeps_queue_order_and_running_locks() -> None:
    records = [
        (run("c", t=3, queue=True), Phase.QUEUED),
        (run("a", t=1), Phase.STARTED),
        (run("b", t=2, queue=True), Phase.QUEUED),
        (run("old", t=0), Phase.TERMINATED),
    ]
    policy, decisions = AdmissionPolicy.from_records(records, max_running=0, now=at(4))
    assert decisions == []
    assert policy.ended(key("a")) == [Start(key("b"), DeploymentKey(NS, "web"), False)]


def test_rebuild_starts_what_became_possible_and_decides_undecided_requests() -> None:
    records = [
        (run("q", t=1, queue=True), Phase.QUEUED),  # its blocker ended while the operator was away
        (run("new", deployment="db", t=2), None),
        (run("s", deployment="etc", t=0, scheduled_time=at(5)), Phase.SCHEDULED),
    ]
    _, decisions = AdmissionPolicy.from_records(records, max_running=0, now=at(10))
    assert decisions == [
        Start(key("s"), DeploymentKey(NS, "etc"), False),
        Start(key("q"), DeploymentKey(NS, "web"), False),
        Start(key("new"), DeploymentKey(NS, "db"), False),
    ]


def test_restore_records_another_admitters_start() -> None:
    policy = AdmissionPolicy()
    submit(policy, run("a"))
    submit(policy, run("b", t=1, queue=True))
    policy.restore(run("x", deployment="web", t=2), Phase.PENDING)
    assert policy.ended(key("a")) == []
    assert policy.ended(key("x")) == [Start(key("b"), DeploymentKey(NS, "web"), False)]
