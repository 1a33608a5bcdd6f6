"""The holders of a Lease: holderIdentity first, forced extras in the annotation (conveyor.locks.holders)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from conveyor.api.names import ANNOTATION_HOLDERS
from conveyor.locks.holders import LeaseHolders, build_lease

NOW = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


def test_a_missing_lease_has_no_holders_and_is_written_with_a_create() -> None:
    state = LeaseHolders.from_lease(None)
    assert not state.held and state.resource_version is None


def test_the_first_holder_is_holder_identity_and_the_others_the_annotation() -> None:
    state = LeaseHolders().with_holder("a", NOW, 60).with_holder("b", NOW, 60)
    lease = build_lease("l", "ns", state, {})
    assert lease["spec"]["holderIdentity"] == "a"
    assert lease["metadata"]["annotations"] == {ANNOTATION_HOLDERS: '["b"]'}


def test_holders_survive_a_round_trip_through_the_lease_object() -> None:
    state = LeaseHolders(resource_version="7").with_holder("a", NOW, 60).with_holder("b", NOW, 60)
    lease = build_lease("l", "ns", state, {})
    lease["metadata"]["resourceVersion"] = "8"
    read = LeaseHolders.from_lease(lease)
    assert read.holders == ("a", "b")
    assert read.renew_time == NOW and read.duration_seconds == 60


def test_a_write_carries_the_version_it_was_decided_on() -> None:
    state = LeaseHolders(resource_version="41").with_holder("a", NOW, 60)
    assert build_lease("l", "ns", state, {})["metadata"]["resourceVersion"] == "41"


def test_releasing_the_first_holder_promotes_the_next_and_counts_a_transition() -> None:
    state = LeaseHolders().with_holder("a", NOW, 60).with_holder("b", NOW, 60)
    later = NOW + timedelta(seconds=5)
    released = state.without_holder("a", later)
    assert released.holders == ("b",)
    assert released.transitions == state.transitions + 1
    assert released.renew_time == later


def test_releasing_the_last_holder_empties_holder_identity() -> None:
    state = LeaseHolders().with_holder("a", NOW, 60).without_holder("a", NOW)
    lease = build_lease("l", "ns", state, {})
    assert lease["spec"]["holderIdentity"] == "" and lease["metadata"]["annotations"] == {}


def test_acquiring_twice_keeps_one_entry() -> None:
    state = LeaseHolders().with_holder("a", NOW, 60).with_holder("a", NOW, 60)
    assert state.holders == ("a",)


def test_a_held_lease_not_renewed_within_its_duration_is_expired() -> None:
    state = LeaseHolders().with_holder("a", NOW, 10)
    assert not state.expired(NOW + timedelta(seconds=10))
    assert state.expired(NOW + timedelta(seconds=11))


def test_a_free_lease_never_expires() -> None:
    assert not LeaseHolders(renew_time=NOW, duration_seconds=1).expired(NOW + timedelta(days=1))


def test_a_garbled_annotation_leaves_holder_identity_alone() -> None:
    lease = {"metadata": {"annotations": {ANNOTATION_HOLDERS: "not json"}}, "spec": {"holderIdentity": "a"}}
    assert LeaseHolders.from_lease(lease).holders == ("a",)
