"""Callbacks survive a `kill -9` of a front door between read and ack: restarted under
the same consumer name it resumes its own entries; left dead, a replica reclaims them
once idle `reclaim_idle_ms`, never before.

The processes, the call center and what "delivered exactly once" means are described in
tests/support/callback_crashes.py. Run with `-s` to see the figures.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass
from typing import Any, Final, cast

import aiohttp
import pytest
from redis.asyncio import Redis

from failover.callbacks.stream import GROUP, STREAM
from failover.redisconn import connect
from sims.callcenter import CallCenterSim
from tests.support import callback_crashes as crashes
from tests.support.callback_crashes import (
    _ticket,
    accepted,
    ask_for_callbacks,
    assert_duplicates_explained,
    assert_each_accepted_once,
    closing,
    duplicates,
    failed_acks,
    queue_is_drained,
    resent,
    start,
)
from tests.support.frontdoor import FrontDoorProcess, FrontDoors
from tests.support.redis import RedisServer
from tests.support.stack import wait_for

# Paced: one delivery each 0.5 s, none back to back, so a front door spends nearly all
# its time asleep in the pacer holding an entry it read and has not acked. The batch it
# reads is max(1, int(rate * reclaim_idle / 4)) = 1 entry (dispatcher.Dispatcher.batch).
PACED: Final = """
rate_per_s = 2.0
burst = 1
max_attempts = 5
delivery_timeout_ms = 300
reclaim_idle_ms = 3200
"""
RECLAIM_IDLE: Final = 3.2
CLOCK_SLACK: Final = 0.05  # Redis's idle time and ours are read on different clocks
N_PACED: Final = 20

pytestmark = pytest.mark.timeout(40)

# The fixtures, defined once in tests/support/callback_crashes.py.
aof_redis, callcenter, doors, session = (
    crashes.aof_redis,
    crashes.callcenter,
    crashes.doors,
    crashes.session,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Held:
    ticket: str
    idle: float  # seconds since it was handed to the consumer


async def held_by(redis: Redis, consumer: str) -> dict[str, Held]:
    """Entries `consumer` was handed and has not acked, by entry id."""
    rows = await redis.xpending_range(STREAM, GROUP, min="-", max="+", count=1000,
                                      consumername=consumer)  # fmt: skip
    held: dict[str, Held] = {}
    for row in rows:
        entry_id = _text(row["message_id"])
        found = cast(list[Any], await redis.xrange(STREAM, entry_id, entry_id))
        if found:  # else acked and deleted since
            ticket = _ticket(json.loads(found[0][1][b"payload"]))
            held[entry_id] = Held(ticket=ticket, idle=int(row["time_since_delivered"]) / 1000)
    return held


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


# --- kill -9 of a front door between read and ack -----------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Crash:
    held: frozenset[str]  # tickets the dead front door had read and not acked
    resent: int  # its POSTs sent again after a failed one, read just before it stopped
    idle: float  # seconds the oldest of them had been held at the kill
    reached: frozenset[str]  # of those, tickets the call center had already taken
    accepted_before: int
    posts_before: int  # POSTs the call center had recorded, duplicates included
    at: float  # monotonic

    def all_back(self, sim: CallCenterSim) -> bool:
        return self.held <= accepted(sim).keys()


async def settled(sim: CallCenterSim, *, quiet: float = 0.3, within: float = 5.0) -> None:
    """Until the call center has recorded no new POST for `quiet` s (at most `within` s):
    bytes a stopped process had already sent have arrived, however loaded the machine."""
    started = since = time.monotonic()
    seen = len(sim.callbacks)
    while time.monotonic() - since < quiet:
        if time.monotonic() - started > within:
            raise AssertionError(f"the call center still receiving after {within} s")
        await asyncio.sleep(0.02)
        if len(sim.callbacks) != seen:
            seen, since = len(sim.callbacks), time.monotonic()


async def crash_while_pacing(
    door: FrontDoorProcess, consumer: str, redis: Redis, sim: CallCenterSim, n: int, *,
    session: aiohttp.ClientSession,
) -> Crash:  # fmt: skip
    """Once at least 2 callbacks were taken, every answer so far acked and `door` holds an
    entry (it is asleep in the pacer): stop it dead, see what it held and whether that
    had reached the call center, then SIGKILL it."""

    async def pacing() -> bool:
        took = sum(accepted(sim).values())
        if took < 2 or int(await redis.xlen(STREAM)) != n - took:
            return False  # an answer not acked yet: the process may be mid-delivery
        return bool(await held_by(redis, consumer))

    await wait_for(pacing, within=10, what=f"{consumer} to hold an entry while pacing")
    # Asleep in the pacer: a POST it starts now cannot time out and be sent again before
    # the next line stops it.
    resent_before = await resent(session, door)
    door.freeze()
    # Whatever it had sent before it stopped now reaches the call center, or never will.
    await settled(sim)
    held = await held_by(redis, consumer)
    took, posts = accepted(sim), len(sim.callbacks)
    await door.kill()
    assert held, f"{consumer} held nothing when killed: the test proves nothing"
    tickets = frozenset(h.ticket for h in held.values())
    return Crash(
        held=tickets,
        resent=resent_before,
        idle=max(h.idle for h in held.values()),
        reached=tickets & took.keys(),
        accepted_before=sum(took.values()),
        posts_before=posts,
        at=time.monotonic(),
    )


def report(what: str, sim: CallCenterSim, crash: Crash, back: str, rest_in: float) -> None:
    print(  # noqa: T201 - the figures this test exists to show (-s)
        f"\n{what}: {sum(accepted(sim).values())} callbacks delivered, "
        f"{crash.accepted_before} before the kill; the dead front door held "
        f"{len(crash.held)} unacked ({len(crash.reached)} of them already at the call "
        f"center, held {crash.idle:.2f} s); {back}; all delivered {rest_in:.2f} s after "
        f"the kill; duplicate POSTs {duplicates(sim)}"
    )


async def test_a_front_door_killed_between_read_and_ack_resumes_its_entries_under_the_same_name(
    doors: FrontDoors,
    aof_redis: RedisServer,
    callcenter: CallCenterSim,
    session: aiohttp.ClientSession,
) -> None:
    a = await start(doors, "a", consumer="fd-a", redis=aof_redis, sim=callcenter, callbacks=PACED)
    redis = connect(aof_redis.url)
    try:
        await a.wait_ready(session)
        tickets = await ask_for_callbacks(session, a, N_PACED, prefix="resume")
        await callcenter.set_mode("up")
        crash = await crash_while_pacing(a, "fd-a", redis, callcenter, N_PACED, session=session)

        again = await doors.restart(a)  # same config: consumer "fd-a"
        await again.wait_ready(session)
        resumed = await wait_for(lambda: crash.all_back(callcenter), within=5,
                                 what="the entries it held delivered")  # fmt: skip
        await wait_for(lambda: sum(accepted(callcenter).values()) >= N_PACED, within=15,
                       what="every callback delivered")  # fmt: skip
        took = time.monotonic() - crash.at
        await wait_for(lambda: queue_is_drained(redis), within=3, what="the queue to drain")

        assert_each_accepted_once(callcenter, tickets)
        # Its own pending entries come back first: the next POST is what it held.
        first_after = callcenter.callbacks[crash.posts_before]
        assert _ticket(first_after.body) in crash.held
        assert_duplicates_explained(
            callcenter, expected=len(crash.reached) + failed_acks(a, again),
            resent=crash.resent + await resent(session, again),
        )  # fmt: skip
        report("same consumer restarted", callcenter, crash,
               f"they went out {resumed:.2f} s after it was ready again", took)  # fmt: skip
    finally:
        await closing(redis)


async def test_a_front_door_killed_between_read_and_ack_has_its_entries_reclaimed_by_a_replica(
    doors: FrontDoors,
    aof_redis: RedisServer,
    callcenter: CallCenterSim,
    session: aiohttp.ClientSession,
) -> None:
    a = await start(doors, "a", consumer="fd-a", redis=aof_redis, sim=callcenter, callbacks=PACED)
    b = await start(doors, "b", consumer="fd-b", redis=aof_redis, sim=callcenter, callbacks=PACED)
    redis = connect(aof_redis.url)
    try:
        await asyncio.gather(a.wait_ready(session), b.wait_ready(session))
        tickets = await ask_for_callbacks(session, a, N_PACED, prefix="reclaim")
        await callcenter.set_mode("up")  # both replicas deliver
        crash = await crash_while_pacing(a, "fd-a", redis, callcenter, N_PACED, session=session)

        # A is not restarted: B takes over what it held once idle for reclaim_idle.
        await wait_for(lambda: crash.all_back(callcenter), within=10,
                       what="B to deliver what A held")  # fmt: skip
        idle = crash.idle + time.monotonic() - crash.at
        await wait_for(lambda: sum(accepted(callcenter).values()) >= N_PACED, within=15,
                       what="every callback delivered")  # fmt: skip
        took = time.monotonic() - crash.at
        await wait_for(lambda: queue_is_drained(redis), within=3, what="the queue to drain")

        assert_each_accepted_once(callcenter, tickets)
        assert_duplicates_explained(
            callcenter, expected=len(crash.reached) + failed_acks(a, b),
            resent=crash.resent + await resent(session, b),
        )  # fmt: skip
        assert "took over" in b.output(), b.output()
        assert await held_by(redis, "fd-a") == {}
        # Not before it had been idle reclaim_idle (a live replica is never robbed).
        assert idle >= RECLAIM_IDLE - CLOCK_SLACK, idle
        report("reclaimed by another replica", callcenter, crash,
               f"B delivered them once idle {idle:.2f} s", took)  # fmt: skip
    finally:
        await closing(redis)
