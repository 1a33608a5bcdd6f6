"""The operator's Event outbox: nothing waits for an Event, yet none is reordered, lost on a clean
shutdown, or allowed to grow memory without bound."""

from __future__ import annotations

import asyncio
from typing import Any

from conveyor.kube.event_outbox import EventOutbox


class RecordingSink:
    """Where the outbox posts: records Events; `gate` holds posts until set; `failing` refuses."""

    def __init__(self, failing: frozenset[str] = frozenset()) -> None:
        self.posted: list[str] = []
        self.gate = asyncio.Event()
        self.gate.set()
        self.failing = failing

    async def create_event(self, namespace: str, event: dict[str, Any]) -> None:
        await self.gate.wait()
        if event["reason"] in self.failing:
            raise OSError("connection reset")
        self.posted.append(event["reason"])


def _event(reason: str, name: str = "x") -> dict[str, Any]:
    return {"reason": reason, "involvedObject": {"name": name, "namespace": "ns"}}


def test_the_events_of_one_object_are_posted_in_the_order_they_were_handed_in() -> None:
    async def main() -> list[str]:
        sink = RecordingSink()
        outbox = EventOutbox(sink)
        for reason in ("Queued", "Admitted", "Cancelled"):
            outbox.post("ns", _event(reason))
        await outbox.close()
        return sink.posted

    assert asyncio.run(main()) == ["Queued", "Admitted", "Cancelled"]


def test_post_returns_before_the_event_is_written() -> None:
    async def main() -> tuple[list[str], list[str]]:
        sink = RecordingSink()
        sink.gate.clear()
        outbox = EventOutbox(sink)
        outbox.post("ns", _event("Admitted"))
        await asyncio.sleep(0)
        before = list(sink.posted)
        sink.gate.set()
        await outbox.close()
        return before, sink.posted

    assert asyncio.run(main()) == ([], ["Admitted"])


def test_a_full_outbox_drops_new_events_and_counts_them() -> None:
    async def main() -> tuple[int, list[str]]:
        sink = RecordingSink()
        sink.gate.clear()
        outbox = EventOutbox(sink, capacity=2, writers=1)
        for index in range(5):
            outbox.post("ns", _event(f"E{index}"))
        sink.gate.set()
        await outbox.close()
        return outbox.dropped, sink.posted

    dropped, posted = asyncio.run(main())
    assert dropped == 3
    assert posted == ["E0", "E1"]


def test_a_failed_event_does_not_stop_the_ones_after_it() -> None:
    async def main() -> list[str]:
        sink = RecordingSink(failing=frozenset({"Broken"}))
        outbox = EventOutbox(sink)
        for reason in ("Queued", "Broken", "Admitted"):
            outbox.post("ns", _event(reason))
        await outbox.close()
        return sink.posted

    assert asyncio.run(main()) == ["Queued", "Admitted"]


def test_the_events_of_many_objects_are_all_posted_by_the_writers() -> None:
    async def main() -> list[str]:
        sink = RecordingSink()
        outbox = EventOutbox(sink, writers=4)
        for index in range(40):
            outbox.post("ns", _event(f"E{index}", name=f"x{index}"))
        await outbox.close()
        return sink.posted

    assert sorted(asyncio.run(main())) == sorted(f"E{index}" for index in range(40))
