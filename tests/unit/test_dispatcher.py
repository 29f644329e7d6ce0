"""The callback dispatcher's loop, against a fake stream and client (pure, no Redis):
what it asks Redis for when idle, and that a cancel always stops it."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, cast

import pytest

from failover.callbacks.delivery import Delivered, Outcome, Unreachable
from failover.callbacks.dispatcher import IDLE_POLL, Dispatcher
from failover.callbacks.stream import Entry
from kernel.clock import Clock, SystemClock
from tests.support.clock import FakeClock


class FakeStream:
    """A consumer's view of the stream: `new` entries, and `held` (its pending list)."""

    def __init__(self) -> None:
        self.new: list[Entry] = []
        self.held: list[Entry] = []
        self.calls: list[str] = []

    async def own_pending(self, count: int) -> list[Entry]:
        self.calls.append("own_pending")
        return self.held[:count]

    async def read(self, count: int) -> list[Entry]:
        self.calls.append("read")
        taken, self.new = self.new[:count], self.new[count:]
        self.held += taken
        return taken

    async def reclaim(self, *, min_idle_ms: int, count: int) -> list[Entry]:
        self.calls.append("reclaim")
        return []

    async def ack(self, entry: Entry) -> None:
        self.held.remove(entry)


class FakeClient:
    def __init__(self) -> None:
        self.answers: list[Outcome] = []
        self.posted: list[str] = []

    async def deliver(self, target: str, entry: Entry) -> Outcome:
        self.posted.append(entry.id)
        return self.answers.pop(0) if self.answers else Delivered(202)


class Observer:
    def delivered(self, seconds_since_request: float) -> None:
        pass

    def dead_lettered(self, why: str) -> None:
        pass

    def failed(self, kind: str) -> None:
        pass


def entry(n: int) -> Entry:
    return Entry(id=f"{n}-0", key=f"k{n}", payload="{}", created_at=0.0)


def dispatcher(
    stream: FakeStream | None = None,
    client: FakeClient | None = None,
    target: Callable[[], str | None] = lambda: "a",
    clock: Clock | None = None,
) -> Dispatcher:
    return Dispatcher(
        cast(Any, stream), cast(Any, client), target=target, clock=clock or SystemClock(),
        observer=Observer(), rate=1000.0, burst=100, max_attempts=3, reclaim_idle=30.0,
    )  # fmt: skip


async def test_an_idle_dispatcher_reads_the_queue_once_a_second_with_one_command() -> None:
    stream, clock = FakeStream(), FakeClock()
    d = dispatcher(stream, FakeClient(), clock=clock)
    for _ in range(20):  # 5 s of idle rounds, one every IDLE_POLL
        assert await d.step() is False
        clock.advance(IDLE_POLL)
    assert stream.calls.count("read") == 5  # once every IDLE_READ_EVERY
    assert stream.calls.count("own_pending") == 1  # the first round, as after a restart
    assert stream.calls.count("reclaim") == 1  # every reclaim_idle / 2


async def test_intake_here_wakes_it_to_read_at_once() -> None:
    stream, client, clock = FakeStream(), FakeClient(), FakeClock()
    d = dispatcher(stream, client, clock=clock)
    assert await d.step() is False  # read: nothing
    stream.new = [entry(1)]
    assert await d.step() is False  # within the quiet second: the queue is not read
    d.wake.set()  # intake in this process stored a callback
    assert await d.step() is True
    assert client.posted == ["1-0"]


async def test_a_call_center_back_after_an_outage_gets_the_queue_at_once() -> None:
    stream, client, clock = FakeStream(), FakeClient(), FakeClock()
    where: list[str | None] = ["a"]
    d = dispatcher(stream, client, clock=clock, target=lambda: where[0])
    assert await d.step() is False  # read: nothing
    where[0] = None  # every call center down: customers go to self-help
    assert await d.step() is False
    stream.new = [entry(1)]  # taken by another replica during the outage
    where[0] = "a"
    assert await d.step() is True  # no quiet second to sit out
    assert client.posted == ["1-0"]


async def test_entries_held_from_before_a_restart_are_delivered_first() -> None:
    stream, client = FakeStream(), FakeClient()
    stream.held, stream.new = [entry(1)], [entry(2)]
    d = dispatcher(stream, client)
    while await d.step():
        pass
    assert client.posted == ["1-0", "2-0"]
    assert stream.held == []


async def test_what_it_read_and_could_not_deliver_is_asked_for_again() -> None:
    stream, client = FakeStream(), FakeClient()
    where = ["a"]
    d = dispatcher(stream, client, target=lambda: where[0])
    assert await d.step() is False  # idle: Redis said it holds nothing
    stream.new = [entry(1), entry(2)]
    d.wake.set()
    client.answers = [Unreachable("refused")]
    assert await d.step() is True  # read both, the call center went away at the first
    assert stream.held == [entry(1), entry(2)]
    assert await d.step() is False  # paused: a itself is not retried at once
    where[0] = "b"  # the router sends customers to another call center
    calls_before = len(stream.calls)
    while await d.step():
        pass
    assert "own_pending" in stream.calls[calls_before:]
    assert client.posted == ["1-0", "1-0", "2-0"]
    assert stream.held == []


class SlowClient(FakeClient):
    """A call center that answers in `seconds` each, slower than the rate promised."""

    def __init__(self, clock: FakeClock, seconds: float) -> None:
        super().__init__()
        self.clock, self.seconds = clock, seconds

    async def deliver(self, target: str, entry: Entry) -> Outcome:
        self.clock.advance(self.seconds)
        return await super().deliver(target, entry)


async def test_a_round_slower_than_the_rate_stops_before_its_tail_looks_abandoned() -> None:
    """reclaim_idle 30 s: a batch is read for 7.5 s of work at the rate, but each delivery
    takes 2 s; after 7.5 s the round stops and the rest is read again from this
    consumer's pending list (which resets its idle time in Redis) instead of sitting
    there until another replica reclaims it and delivers it a second time."""
    stream, clock = FakeStream(), FakeClock()
    client = SlowClient(clock, seconds=2.0)
    stream.new = [entry(n) for n in range(10)]
    d = dispatcher(stream, client, clock=clock)
    d.wake.set()
    assert await d.step() is True
    assert client.posted == ["0-0", "1-0", "2-0", "3-0"]  # 0, 2, 4, 6 s: then past 7.5 s
    assert len(stream.held) == 6
    calls_before = len(stream.calls)
    assert await d.step() is True
    assert stream.calls[calls_before] == "own_pending"  # the tail, asked for again
    while await d.step():
        pass
    assert client.posted == [f"{n}-0" for n in range(10)]  # each once, in order
    assert stream.held == []


@pytest.mark.parametrize("round_", range(20))
async def test_a_cancel_that_arrives_as_the_dispatcher_is_woken_still_stops_it(
    round_: int,
) -> None:
    # No call center takes customers, so each round is idle and touches nothing.
    d = dispatcher(target=lambda: None)
    task = asyncio.create_task(d.run())
    for _ in range(round_ % 4 + 1):  # into its idle wait, at a few different points
        await asyncio.sleep(0)
    d.wake.set()  # new work, in the same turn of the loop as the stop
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=2.0)
    assert task in done, "the dispatcher lost the cancel and went on"
    assert task.cancelled()
