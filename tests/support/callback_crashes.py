"""What the callback crash tests share (tests/e2e/test_callback_crashes_frontdoor.py,
tests/e2e/test_callback_crashes_redis.py): the front doors' config, the fixtures, the
customers' requests, and what the call center and Redis say.

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
doors' failed POSTs (`retried`, `unreachable`) explain.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any, Final

import aiohttp
import pytest_asyncio
from redis.asyncio import Redis

from failover.callbacks.stream import GROUP, STREAM
from sims.callcenter import CallCenterSim
from tests.support.frontdoor import FrontDoorProcess, FrontDoors
from tests.support.redis import RedisServer

REPO: Final = Path(__file__).resolve().parents[2]
# docs/callbacks.md, "Callback durability"
DOCUMENTED: Final = REPO / "deploy" / "redis-callbacks.conf"
TIMEOUT: Final = aiohttp.ClientTimeout(total=5, sock_connect=2, sock_read=5)
TOKEN: Final = "admin-token-" + "k" * 20


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


async def queue_is_drained(redis: Redis) -> bool:
    """The stream is empty and no entry is pending in the group."""
    summary = await redis.xpending(STREAM, GROUP)
    return int(await redis.xlen(STREAM)) == 0 and int(summary["pending"]) == 0


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


async def metric(session: aiohttp.ClientSession, door: FrontDoorProcess, name: str) -> float:
    async with session.get(f"{door.ops_url}/metrics") as r:
        text = await r.text()
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0  # a labelled counter never incremented is not shown
