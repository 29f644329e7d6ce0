"""Callbacks survive crashes: `kill -9` of a front door between read and ack, and of
Redis right after a 202.

Real processes on 127.0.0.1: front doors are children (`python -m failover serve`,
`tests.support.frontdoor`), Redis is a `redis-server` child (`tests.support.redis`) run
with the directives of `deploy/redis-callbacks.conf` (the control: without AOF); the
call center is a `CallCenterSim` in the test's own event loop, which records every
`POST /callbacks` (`duplicate` when its `Idempotency-Key` was seen before). A delivery is
mapped to its request by the ticket in its body.

"Delivered exactly once" means: one non-duplicate POST per ticket, none missing, none
extra. Duplicate POSTs (the call center answers 200 and keeps one) are counted apart:
the design allows one for an entry whose POST reached the call center and was not acked
(the front door died first, or Redis refused the ack, logged "cannot ack"), and the
tests expect each of those; delivery is at least once, so a POST answered after
`delivery_timeout_ms` (a slow machine) may add one more, never more than the front
doors' failed POSTs (`retried`, `unreachable`) explain. Run with `-s` to see the figures.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Final, cast

import aiohttp
import pytest
import pytest_asyncio
from redis.asyncio import Redis

from failover.callbacks.stream import GROUP, STREAM
from failover.redisconn import connect
from sims.callcenter import CallCenterSim
from tests.support.frontdoor import FrontDoorProcess, FrontDoors
from tests.support.redis import RedisServer
from tests.support.stack import wait_for

REPO: Final = Path(__file__).resolve().parents[2]
# docs/callbacks.md, "Callback durability"
DOCUMENTED: Final = REPO / "deploy" / "redis-callbacks.conf"
NO_PERSISTENCE: Final = {"appendonly": "no", "save": ""}
TIMEOUT: Final = aiohttp.ClientTimeout(total=5, sock_connect=2, sock_read=5)

# Paced: one delivery each 0.5 s, none back to back, so a front door spends nearly all
# its time asleep in the pacer holding an entry it read and has not acked. The batch it
# reads is max(1, int(rate * reclaim_idle / 4)) = 1 entry (dispatcher.Dispatcher.batch).
PACED: Final = """
rate_per_s = 2.0
burst = 1
max_attempts = 5
delivery_timeout_ms = 300
reclaim_idle_ms = 1500
"""
RECLAIM_IDLE: Final = 1.5
CLOCK_SLACK: Final = 0.05  # Redis's idle time and ours are read on different clocks
N_PACED: Final = 20

# Fast, with room for a loaded machine: a POST that times out is sent again, which the
# call center would count as a duplicate.
FAST: Final = """
rate_per_s = 500.0
burst = 50
max_attempts = 5
delivery_timeout_ms = 1000
reclaim_idle_ms = 3000
"""
N_FAST: Final = 50
TOKEN: Final = "admin-token-" + "k" * 20
OPERATOR: Final = {"Authorization": f"Bearer {TOKEN}"}

pytestmark = pytest.mark.timeout(40)


def documented_redis() -> dict[str, str]:
    """The directives of the Redis config the README tells operators to run."""
    options: dict[str, str] = {}
    for line in DOCUMENTED.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.strip().partition(" ")
            options[name] = value.strip()
    return options


def config(
    port: int, *, consumer: str, redis: RedisServer, sim: CallCenterSim, callbacks: str
) -> str:
    # The spool path is relative: each front door has its own (FrontDoors.start gives
    # each a folder).
    return f"""
[server]
host = "127.0.0.1"
port = {port}
data_dir = "."
shutdown_grace_ms = 1000

[health]
interval_ms = 50
timeout_ms = 200
healthy_threshold = 1
unhealthy_threshold = 1
jitter = 0.0

[redis]
url = "{redis.url}"

[callbacks]
consumer = "{consumer}"
spool_path = "callbacks.spool"
{callbacks}
# Up to 53 callbacks from one address (127.0.0.1) per test; per-client limits have their
# own tests (tests/attacks/test_limits_*.py).
[limits]
callbacks_burst = 1000

[[callcenters]]
name = "primary"
url = "{sim.url}"
"""


async def start(
    doors: FrontDoors, name: str, *, consumer: str, redis: RedisServer, sim: CallCenterSim,
    callbacks: str,
) -> FrontDoorProcess:  # fmt: skip
    """A front door process with `sim` as its only call center."""
    return await doors.start(
        name, partial(config, consumer=consumer, redis=redis, sim=sim, callbacks=callbacks)
    )


@pytest_asyncio.fixture
async def callcenter() -> AsyncIterator[CallCenterSim]:
    """The one call center, down: callbacks wait in the queue until a test brings it up."""
    sim = CallCenterSim(name="primary")
    await sim.start()
    try:
        await sim.set_mode("down")
        yield sim
    finally:
        await sim.stop()


@pytest_asyncio.fixture
async def doors(tmp_path: Path) -> AsyncIterator[FrontDoors]:
    async with FrontDoors(tmp_path / "doors", env={"SWITCHBOARD_ADMIN_TOKEN": TOKEN}) as started:
        yield started


@pytest_asyncio.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=TIMEOUT) as s:
        yield s


@pytest_asyncio.fixture
async def aof_redis(tmp_path: Path) -> AsyncIterator[RedisServer]:
    """Redis as documented: every write in the AOF and fsynced before the reply."""
    options = documented_redis()
    assert (options["appendonly"], options["appendfsync"]) == ("yes", "always"), options
    async with RedisServer(tmp_path / "redis", options=options) as server:
        yield server


# --- what the call center and Redis say ---------------------------------------------------


def accepted(sim: CallCenterSim) -> Counter[str]:
    """Ticket -> non-duplicate POSTs (the call center took it as new)."""
    return Counter(_ticket(d.body) for d in sim.callbacks if not d.duplicate)


def duplicates(sim: CallCenterSim) -> int:
    return sum(1 for d in sim.callbacks if d.duplicate)


def failed_acks(*doors: FrontDoorProcess) -> int:
    """Acks Redis did not take (dispatcher: "cannot ack"): each such entry stays pending
    and its next delivery is a duplicate POST. After a Redis restart a pooled connection
    that is not retried fails its first command, which may be an ack."""
    return sum(door.output().count("cannot ack") for door in doors)


RESENT: Final = ("retried", "unreachable")


async def resent(session: aiohttp.ClientSession, *doors: FrontDoorProcess) -> int:
    """POSTs the front doors sent again after one that timed out or lost its connection
    (the call center may have had it): each may be a duplicate it absorbs."""
    total = 0.0
    for door in doors:
        for kind in RESENT:
            name = f'switchboard_callback_delivery_failures_total{{kind="{kind}"}}'
            total += await metric(session, door, name)
    return int(total)


def assert_duplicates_explained(sim: CallCenterSim, *, expected: int, resent: int) -> None:
    """Each of the `expected` duplicates happened (entries that reached the call center
    and were not acked are sent again), and any more came from POSTs sent again after
    one that failed: at least once, never more often than failures explain."""
    got = duplicates(sim)
    assert expected <= got <= expected + resent, (got, expected, resent)


def _ticket(body: Any) -> str:
    assert isinstance(body, dict), body
    ticket = body["ticket"]
    assert isinstance(ticket, str)
    return ticket


def assert_each_accepted_once(sim: CallCenterSim, tickets: Sequence[str]) -> None:
    took = accepted(sim)
    assert sorted(took) == sorted(tickets), "tickets missing or unknown at the call center"
    assert set(took.values()) == {1}, f"accepted twice: {[t for t, c in took.items() if c > 1]}"
    counts = sim.callback_counts  # Idempotency-Key -> POSTs
    assert len(counts) == len(tickets)
    assert sum(counts.values()) == len(sim.callbacks)


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


async def queue_is_drained(redis: Redis) -> bool:
    """The stream is empty and no entry is pending in the group."""
    summary = await redis.xpending(STREAM, GROUP)
    return int(await redis.xlen(STREAM)) == 0 and int(summary["pending"]) == 0


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def closing(redis: Redis) -> None:
    # connect() hands Redis an explicit pool, which aclose() leaves open by default.
    await redis.aclose(close_connection_pool=True)


# --- customers ----------------------------------------------------------------------------


async def ask_for_callbacks(
    session: aiohttp.ClientSession, door: FrontDoorProcess, n: int, *, prefix: str
) -> list[str]:
    """`n` JSON callback requests, one after another; each must get its 202 and ticket."""
    tickets: list[str] = []
    for i in range(n):
        fields = {"name": f"Customer {i}", "phone": "+14155552671", "topic": f"router {i}"}
        headers = {"Idempotency-Key": f"{prefix}-{i}"}
        async with session.post(f"{door.url}/help/callbacks", json=fields, headers=headers) as r:
            answer = await r.json()
            assert r.status == 202, answer
        tickets.append(answer["ticket"])
    assert len(set(tickets)) == n
    return tickets


async def durability(session: aiohttp.ClientSession, door: FrontDoorProcess) -> str:
    """As the operator view shows it: Redis's configuration is not the public's business."""
    async with session.get(f"{door.ops_url}/api/v1/status", headers=OPERATOR) as r:
        status = await r.json()
    return str(status["callbacks"]["durability"])


async def metric(session: aiohttp.ClientSession, door: FrontDoorProcess, name: str) -> float:
    async with session.get(f"{door.ops_url}/metrics") as r:
        text = await r.text()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0  # a labelled counter never incremented is not shown


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


# --- kill -9 of Redis right after a 202 ---------------------------------------------------


async def test_callbacks_acknowledged_just_before_redis_is_killed_are_all_delivered_once_with_aof(
    doors: FrontDoors,
    aof_redis: RedisServer,
    callcenter: CallCenterSim,
    session: aiohttp.ClientSession,
) -> None:
    door = await start(
        doors, "fd", consumer="fd-1", redis=aof_redis, sim=callcenter, callbacks=FAST
    )
    await door.wait_ready(session)
    assert await durability(session, door) == "aof always"
    tickets = await ask_for_callbacks(session, door, N_FAST, prefix="aof")
    await aof_redis.kill()  # right after the last 202

    # All went to Redis, none to the local spool: what survives is the AOF's doing.
    stored = 'switchboard_callbacks_accepted_total{store="redis"}'
    assert await metric(session, door, stored) == N_FAST
    assert await metric(session, door, 'switchboard_callbacks_accepted_total{store="spool"}') == 0

    await aof_redis.restart()  # same directory: the AOF is replayed
    redis = connect(aof_redis.url)
    try:
        assert int(await redis.xlen(STREAM)) == N_FAST
        await callcenter.set_mode("up")
        took = await wait_for(lambda: sum(accepted(callcenter).values()) >= N_FAST, within=15,
                              what="every callback delivered")  # fmt: skip
        await wait_for(lambda: queue_is_drained(redis), within=3, what="the queue to drain")
        assert_each_accepted_once(callcenter, tickets)
        assert_duplicates_explained(
            callcenter, expected=failed_acks(door), resent=await resent(session, door)
        )
        print(  # noqa: T201 - the figures this test exists to show (-s)
            f"\nRedis kill -9 with AOF always: {N_FAST} of {N_FAST} callbacks survived and "
            f"were delivered, all {took:.2f} s after the call center came back; duplicate "
            f"POSTs {duplicates(callcenter)} (failed acks {failed_acks(door)})"
        )
    finally:
        await closing(redis)


async def test_without_aof_a_redis_kill_loses_acknowledged_callbacks_and_only_later_ones_go_out(
    tmp_path: Path,
    doors: FrontDoors,
    callcenter: CallCenterSim,
    session: aiohttp.ClientSession,
) -> None:
    """The control: the same crash with `appendonly no` and `save ""`."""
    async with RedisServer(tmp_path / "redis", options=NO_PERSISTENCE) as server:
        door = await start(
            doors, "fd", consumer="fd-1", redis=server, sim=callcenter, callbacks=FAST
        )
        await door.wait_ready(session)
        # The front door says so at start.
        assert "Redis runs with no aof" in door.output()
        assert await durability(session, door) == "no aof"
        await ask_for_callbacks(session, door, N_FAST, prefix="no-aof")
        redis = connect(server.url)
        try:
            assert int(await redis.xlen(STREAM)) == N_FAST  # in Redis, not in the spool
        finally:
            await closing(redis)
        await server.kill()
        await server.restart()
        redis = connect(server.url)
        try:
            assert int(await redis.exists(STREAM)) == 0, "the stream survived: not a control"
            # Redis is back empty, consumer group included: what is asked now still goes
            # out (the group is created again), and it is all that goes out.
            later = await ask_for_callbacks(session, door, 3, prefix="later")
            await callcenter.set_mode("up")
            await wait_for(lambda: sum(accepted(callcenter).values()) >= len(later), within=10,
                           what="the callbacks asked after the restart")  # fmt: skip
            await wait_for(lambda: queue_is_drained(redis), within=3, what="the queue to drain")
            assert_each_accepted_once(callcenter, later)
            assert_duplicates_explained(
                callcenter, expected=failed_acks(door), resent=await resent(session, door)
            )
            print(  # noqa: T201 - the figures this test exists to show (-s)
                f"\nRedis kill -9 without AOF: {N_FAST} of {N_FAST} acknowledged callbacks "
                f"lost; {len(later)} asked after the restart delivered; duplicate POSTs "
                f"{duplicates(callcenter)} (failed acks {failed_acks(door)})"
            )
        finally:
            await closing(redis)
