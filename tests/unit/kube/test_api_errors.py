"""What the operator makes of an error answer: the server's Retry-After is kept, and the admission
loop waits that long (within a bound) before it rebuilds."""

from __future__ import annotations

import json

from conveyor.controller.admission_loop import MAX_RETRY_AFTER_SECONDS, _backoff
from conveyor.kube.api import _error
from conveyor.locks.api import ApiError, Conflict

THROTTLED = json.dumps({"kind": "Status", "reason": "TooManyRequests", "message": "slow down"}).encode()


def test_a_throttled_answer_keeps_the_seconds_the_server_asked_for() -> None:
    error = _error(429, THROTTLED, "3")
    assert (error.status, error.reason, error.retry_after) == (429, "TooManyRequests", 3.0)


def test_a_retry_after_given_as_a_date_is_not_taken_for_seconds() -> None:
    assert _error(429, THROTTLED, "Wed, 21 Oct 2026 07:28:00 GMT").retry_after is None


def test_a_conflict_is_still_a_conflict() -> None:
    assert isinstance(_error(409, b"{}"), Conflict)


def test_the_loop_waits_what_the_server_asked_for() -> None:
    assert _backoff(ApiError(429, "TooManyRequests", "", retry_after=2.0)) == 2.0


def test_the_loop_does_not_stall_for_whatever_a_server_asks() -> None:
    assert _backoff(ApiError(429, "TooManyRequests", "", retry_after=3600.0)) == MAX_RETRY_AFTER_SECONDS


def test_without_retry_after_the_loop_waits_half_a_second() -> None:
    assert _backoff(ApiError(500, "InternalError", "")) == 0.5
