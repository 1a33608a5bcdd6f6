"""The admission webhook fails open (`controller.webhook.decide_or_let_through`): when the state
cannot be read, or not in time, the request is let through and the controller decides it as ever."""

from __future__ import annotations

import asyncio

from conveyor.api.models import ConditionReason
from conveyor.controller.webhook import decide_or_let_through
from conveyor.controller.webhook_decision import Refusal
from conveyor.locks.api import ApiError

BODY = {"metadata": {"namespace": "shop", "name": "new"}}


def test_a_refusal_made_in_time_stands() -> None:
    refusal = Refusal(ConditionReason.REJECTED, "busy")

    async def decide() -> Refusal | None:
        return refusal

    assert asyncio.run(decide_or_let_through(decide(), 1.0, BODY)) == refusal


def test_a_failed_read_lets_the_request_through() -> None:
    async def decide() -> Refusal | None:
        raise ApiError(403, "Forbidden", "leases is forbidden")

    assert asyncio.run(decide_or_let_through(decide(), 1.0, BODY)) is None


def test_a_slow_read_lets_the_request_through() -> None:
    async def decide() -> Refusal | None:
        await asyncio.Event().wait()  # never answers
        return Refusal(ConditionReason.REJECTED, "too late")

    assert asyncio.run(decide_or_let_through(decide(), 0.05, BODY)) is None
