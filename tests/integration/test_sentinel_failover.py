"""The front door on Redis Sentinel (issue 15): real redis-server primary + replica and
three real redis-sentinel processes (tests/support/sentinel.py), the front door in
process, customers loading it while the primary is SIGKILLed.

What is asserted: no customer sees a 5xx during the failover; the front door's client
finds the new primary by asking Sentinel again (redis-py #3874); every callback answered
202 reaches the call center exactly once; a callback no replica confirmed (WAIT) is
spooled, not acknowledged on the primary's word alone. The recovery time is printed.
"""

from __future__ import annotations

import asyncio
import gc
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import cast

import aiohttp
import pytest
import pytest_asyncio
from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.connection import AbstractConnection
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from failover.callbacks.request import ticket_id
from failover.callbacks.stream import STREAM
from failover.redisconn import HEALTH_CHECK_S, MAX_CONNECTIONS, POOL_WAIT, SOCKET_TIMEOUT, connect
from switchboard.app import CALLBACKS, REDIS
from tests.support.callbacks import first_arrivals
from tests.support.customers import Load
from tests.support.faultstack import metric
from tests.support.sentinel import SentinelGroup
from tests.support.stack import FAST_HEALTH, Stack, running_stack, wait_for

CALLBACKS_CONFIG = """
[callbacks]
rate_per_s = 2000.0
burst = 50
delivery_timeout_ms = 1000
reclaim_idle_ms = 7000
replica_ack_timeout_ms = 300
[limits]
callbacks_burst = 100000
"""


def config(group: SentinelGroup) -> str:
    return FAST_HEALTH + f'[redis]\nurl = "{group.url}"\n' + CALLBACKS_CONFIG


@pytest_asyncio.fixture
async def group(tmp_path: Path) -> AsyncIterator[SentinelGroup]:
    async with SentinelGroup(tmp_path / "redis") as g:
        yield g


@pytest_asyncio.fixture
async def stack(tmp_path: Path, group: SentinelGroup) -> AsyncIterator[Stack]:
    (tmp_path / "door").mkdir()
    async with running_stack(tmp_path / "door", extra=config(group)) as s:
        yield s


def delivered(stack: Stack) -> Counter[str]:
    """Tickets the call centers received, counting each POST (retries included)."""
    return Counter(ticket_id(d.key) for c in stack.centers.values() for d in c.sim.callbacks)


async def all_down(stack: Stack) -> None:
    for c in stack.centers.values():
        await c.sim.set_mode("down")
    await wait_for(lambda: stack.pool.snapshot().router.current == "self-help", within=5,
                   what="failover to self-help")  # fmt: skip


async def stream_tickets(port: int) -> list[str]:
    """The ticket of every entry in the callback stream on the node at `port`."""
    direct = Redis(host="127.0.0.1", port=port)
    try:
        entries = cast(list[tuple[bytes, dict[bytes, bytes]]], await direct.xrange(STREAM))
    finally:
        await direct.aclose()
    return [json.loads(fields[b"payload"])["ticket"] for _, fields in entries]


async def first_write(client: Redis, since: float, within: float = 15.0) -> float:
    """Seconds from `since` until a write through `client` succeeds (every 20 ms)."""
    while time.monotonic() - since < within:
        if await writes_ok(client, "sb:test:after"):
            return time.monotonic() - since
        await asyncio.sleep(0.02)
    raise AssertionError(f"the front door's client could not write for {within} s")


async def writes_ok(client: Redis, key: str) -> bool:
    try:
        await client.set(key, "1")
    except (RedisError, OSError):
        return False
    return True


# About 1 run in 4, a few connections of redis-py's own clients to a sentinel are garbage
# collected unclosed during the failover (ResourceWarning "unclosed Connection" from
# redis-py's __del__, which closes them). redis-py keeps in-use connections in a WeakSet;
# one dropped while in use (we suspect a cancellation, e.g. the limiter's 100 ms budget,
# landing inside Sentinel's master discovery) is closed by the garbage collector instead
# of the pool. Nothing leaks (the socket is closed) and the bounded pool is not the one
# losing them, so the warning is ignored here only, and collected before the test ends.
@pytest.mark.filterwarnings("ignore:unclosed:ResourceWarning")
async def test_a_primary_killed_under_load_fails_over_with_no_5xx_and_no_callback_lost(
    stack: Stack, group: SentinelGroup
) -> None:
    client = stack.app[REDIS]
    runtime = stack.app[CALLBACKS]
    assert runtime.stream.replicas == 1  # Sentinel: a 202 waits for one replica
    await all_down(stack)  # callbacks queue up (none delivered) while Redis fails over
    old = await group.primary_port()
    assert old is not None
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        customers = Load(session, stack.url, tag="sentinel", follow=True)
        load = asyncio.create_task(customers.run(within=25), name="customers")
        try:
            await wait_for(lambda: len(customers.tickets) >= 30, within=10,
                           what="a burst of 202s")  # fmt: skip
            before_kill = len(customers.tickets)
            await group.kill_primary()
            killed_at = time.monotonic()
            # Probed from the kill on, independently of the wait for the promotion.
            probe = asyncio.create_task(first_write(client, killed_at), name="probe")
            await group.promoted(old)
            promoted = time.monotonic() - killed_at
            recovered = await probe
            await asyncio.sleep(1.0)  # customers keep coming, on the new primary alone
            # The killed node comes back (a restarted pod) as a replica of the new
            # primary: WAIT is answered again and the spool drains.
            await group.rejoin(old)
            await asyncio.sleep(0.5)
        finally:
            customers.stop()
            await load
    new = await group.primary_port()
    assert new is not None
    assert new != old
    # The app's own client asked Sentinel again and writes to the new primary.
    direct = Redis(host="127.0.0.1", port=new)
    try:
        assert await direct.get("sb:test:after") == b"1"
    finally:
        await direct.aclose()

    print(  # noqa: T201 - the figures the issue asks for
        f"\nsentinel failover: promoted in {promoted:.2f} s, front door writing again "
        f"{recovered:.2f} s after SIGKILL; customers: {dict(customers.statuses)}, "
        f"{len(customers.tickets)} callbacks acknowledged ({before_kill} before the kill), "
        f"transport failures {len(customers.failures)}"
    )
    assert customers.failures == []
    assert not [s for s in customers.statuses if s >= 500], customers.statuses
    assert sum(customers.statuses.values()) > 100
    assert recovered < 10

    tickets = [t for _, t in customers.tickets]
    # Still no call center: every acknowledged callback is now in the new primary's
    # stream, each exactly once (the spool's moves after the failover appended none twice).
    await wait_for(lambda: runtime.queue.spooled == 0, within=10, what="spool drained")
    queued = await stream_tickets(new)
    assert sorted(queued) == sorted(tickets)
    for c in stack.centers.values():
        await c.sim.set_mode("up")
    await wait_for(lambda: set(delivered(stack)) >= set(tickets), within=20,
                   what="every acknowledged callback at the call center")  # fmt: skip
    await wait_for(lambda: metric(stack.app, "switchboard_callbacks_delivered_total")
                   >= len(tickets), within=10, what="deliveries counted")  # fmt: skip
    # At least once: an entry is POSTed again only after a POST that timed out or lost
    # its connection (first_arrivals asserts it; the Idempotency-Key makes it once there).
    firsts = first_arrivals([c.sim for c in stack.centers.values()], [stack.app])
    lost = set(tickets) - set(firsts)
    again = sum(delivered(stack).values()) - len(firsts)
    print(f"callbacks lost: {len(lost)}, POSTed again after a failed POST: {again}")  # noqa: T201
    assert lost == set()
    assert set(firsts) == set(tickets)  # nothing delivered that was never acknowledged
    gc.collect()  # any connection dropped above warns now, under this test's filter


async def test_a_callback_no_replica_confirms_is_spooled_then_moved_when_one_is_back(
    stack: Stack, group: SentinelGroup
) -> None:
    runtime = stack.app[CALLBACKS]
    await all_down(stack)
    primary = await group.primary_port()
    (replica,) = [n for n in group.nodes if n.port != primary]
    await replica.kill()
    async with aiohttp.ClientSession() as session:
        body = {"name": "Ada", "phone": "+14155552671", "topic": "router"}
        async with session.post(f"{stack.url}/help/callbacks", json=body,
                                headers={"Idempotency-Key": "lonely"}) as r:  # fmt: skip
            assert r.status == 202
            ticket = (await r.json())["ticket"]
    # On the primary, but unconfirmed: acknowledged because the local spool has it.
    assert runtime.queue.spooled == 1
    await asyncio.sleep(1.5)  # the mover tries; without a replica it must not drop it
    assert runtime.queue.spooled == 1
    await replica.start()
    await wait_for(lambda: runtime.queue.spooled == 0, within=10, what="spool moved")
    direct = Redis(host="127.0.0.1", port=replica.port)
    try:
        assert await direct.xlen(STREAM) == 1  # once, on the replica too
    finally:
        await direct.aclose()
    for c in stack.centers.values():
        await c.sim.set_mode("up")
    await wait_for(lambda: ticket in delivered(stack), within=10, what="delivery")
    # Once: POSTed again only after a POST that failed (delivery is at least once).
    assert first_arrivals([c.sim for c in stack.centers.values()], [stack.app]) == [ticket]


def test_both_url_kinds_get_the_same_bounded_blocking_pool() -> None:
    plain = connect("redis://127.0.0.1:1/0")
    via_sentinel = connect("redis+sentinel://127.0.0.1:1,127.0.0.1:2/mymaster/3")
    for client in (plain, via_sentinel):
        pool = client.connection_pool
        assert isinstance(pool, BlockingConnectionPool)
        assert (pool.max_connections, pool.timeout) == (MAX_CONNECTIONS, POOL_WAIT)
        kwargs = pool.connection_kwargs
        assert kwargs["health_check_interval"] == HEALTH_CHECK_S
        assert kwargs["socket_timeout"] == kwargs["socket_connect_timeout"] == SOCKET_TIMEOUT
        assert kwargs["retry"].get_retries() == 2
    assert via_sentinel.connection_pool.connection_kwargs["db"] == 3


async def test_a_sentinel_client_waits_half_a_second_for_a_connection_then_gives_up(
    group: SentinelGroup,
) -> None:
    client = connect(group.url)
    try:
        pool = client.connection_pool
        # redis-py leaves get_connection unannotated: called through a typed name.
        take: Callable[[], Awaitable[AbstractConnection]] = pool.get_connection
        held = [await take() for _ in range(MAX_CONNECTIONS)]  # every connection busy
        started = time.monotonic()
        with pytest.raises(RedisConnectionError, match="No connection available"):
            await client.ping()
        waited = time.monotonic() - started
        assert POOL_WAIT <= waited < POOL_WAIT + 1.0
        for connection in held:
            await pool.release(connection)
        assert await client.ping()  # connections handed back serve again
    finally:
        await client.aclose(close_connection_pool=True)
