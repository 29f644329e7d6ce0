"""Where accepted callbacks wait, end to end in-process: with Redis down they spool
locally and reach the call center after, survive a restart, or are refused when neither
store can take them, or go to Redis when only the spool fails (its disk read-only); the
backlog and Redis's durability in the status API. Real redis-server, real SQLite spool,
real aiohttp servers on 127.0.0.1 (shared parts in tests/support/callbacks.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import aiohttp

from failover.callbacks.queue import CallbackQueue
from failover.callbacks.request import CallbackRequest, validate
from failover.callbacks.spool import Spool
from failover.callbacks.stream import STREAM, CallbackStream
from failover.redisconn import connect
from kernel.clock import SystemClock
from switchboard.app import CALLBACKS
from tests.support.callbacks import (
    all_down,
    all_up,
    arrivals,
    body,
    config,
    delivered_keys,
    metric,
    post,
)
from tests.support.redis import RedisServer
from tests.support.stack import Stack, running_stack, wait_for


async def test_with_redis_down_callbacks_spool_locally_and_reach_the_call_center_after(
    tmp_path: Path, redis: RedisServer
) -> None:
    async with running_stack(tmp_path, extra=config(redis)) as stack, aiohttp.ClientSession() as c:
        await all_down(stack)
        status, before = await post(c, stack, body(0), "before")
        assert status == 202
        await wait_for(lambda: _sample(stack, spooled=0, redis_ok=True, pending=1), within=5,
                       what="backlog sample")  # fmt: skip
        await redis.kill()
        tickets = [before["ticket"]]
        for i in range(1, 21):
            status, answer = await post(c, stack, body(i), f"during-{i}")
            assert status == 202, answer
            tickets.append(answer["ticket"])
        runtime = stack.app[CALLBACKS]
        assert runtime.queue.spooled == 20
        assert metric(stack, 'switchboard_callbacks_accepted_total{store="spool"}') == 20
        await wait_for(lambda: _sample(stack, spooled=20, redis_ok=False), within=5,
                       what="backlog sample with Redis down")  # fmt: skip
        assert metric(stack, "switchboard_callbacks_pending") == 21  # 1 in Redis (last seen) + 20
        assert metric(stack, "switchboard_callbacks_oldest_pending_age_seconds") > 0
        # A retry while spooled gets the same ticket and is not spooled twice.
        status, again = await post(c, stack, body(5), "during-5")
        assert (status, again["ticket"], runtime.queue.spooled) == (202, tickets[5], 20)

        await redis.restart()
        await wait_for(lambda: runtime.queue.spooled == 0, within=10, what="spool moved")
        await all_up(stack)
        await wait_for(lambda: len(delivered_keys(stack)) >= 21, within=10, what="deliveries")
        got = arrivals(stack)
        assert sorted(got) == sorted(tickets)
        assert got == tickets  # the spooled ones in the order they were asked, after the first


def _sample(stack: Stack, *, spooled: int, redis_ok: bool, pending: int | None = None) -> bool:
    s = stack.app[CALLBACKS].sample
    return (
        s is not None
        and s.spooled == spooled
        and s.redis_ok is redis_ok
        and (pending is None or s.pending == pending)
    )


async def test_when_neither_redis_nor_the_spool_can_take_it_the_customer_is_told_so(
    tmp_path: Path, redis: RedisServer
) -> None:
    async with running_stack(tmp_path, extra=config(redis)) as stack, aiohttp.ClientSession() as c:
        await redis.kill()
        stack.app[CALLBACKS].spool.close()  # the spool fails too (as on a full disk)
        status, answer = await post(c, stack, body(1), "lost?")
        assert status == 503
        assert "could not be saved" in answer["error"]
        assert "ticket" not in answer
        assert metric(stack, 'switchboard_callbacks_refused_total{reason="unavailable"}') == 1
        assert metric(stack, 'switchboard_callbacks_accepted_total{store="spool"}') == 0


async def test_the_status_api_shows_the_backlog_and_how_durable_redis_is(
    tmp_path: Path, redis: RedisServer
) -> None:
    token = "admin-token-" + "d" * 20
    async with (
        running_stack(tmp_path, extra=config(redis), token=token) as stack,
        aiohttp.ClientSession() as c,
    ):
        await all_down(stack)
        for i in range(3):
            assert (await post(c, stack, body(i), f"s-{i}"))[0] == 202
        await wait_for(lambda: _sample(stack, spooled=0, redis_ok=True, pending=3), within=5,
                       what="backlog sample")  # fmt: skip
        # How Redis persists is for operators (issue 14): the durability is in the
        # operator view, not the public one.
        async with c.get(f"{stack.ops_url}/api/v1/status") as resp:
            assert "durability" not in (await resp.json())["callbacks"]
        operator = {"Authorization": f"Bearer {token}"}
        async with c.get(f"{stack.ops_url}/api/v1/status", headers=operator) as resp:
            callbacks = (await resp.json())["callbacks"]
        assert callbacks["enabled"] is True
        assert callbacks["durability"] == "aof always"
        assert (callbacks["pending"], callbacks["spooled"], callbacks["dead_lettered"]) == (3, 0, 0)
        assert callbacks["oldest_pending_age_s"] >= 0


async def test_callbacks_spooled_before_a_restart_are_delivered_by_the_next_process(
    tmp_path: Path, redis: RedisServer
) -> None:
    tickets = []
    async with running_stack(tmp_path, extra=config(redis)) as stack, aiohttp.ClientSession() as c:
        await all_down(stack)
        # Killed only now: while it is down its port is free, and servers started then
        # could be handed it.
        await redis.kill()
        for i in range(5):
            status, answer = await post(c, stack, body(i), f"restart-{i}")
            assert status == 202, answer
            tickets.append(answer["ticket"])
        assert stack.app[CALLBACKS].queue.spooled == 5
    await redis.restart()
    async with running_stack(tmp_path, extra=config(redis)) as stack:
        await wait_for(lambda: len(delivered_keys(stack)) == 5, within=10, what="deliveries")
        await wait_for(lambda: metric(stack, "switchboard_callbacks_delivered_total") == 5,
                       within=5, what="deliveries counted")  # fmt: skip
        assert arrivals(stack) == tickets
        assert stack.app[CALLBACKS].queue.spooled == 0


def _read_only(spool: Spool) -> None:
    """The spool's file system remounted read-only (after an I/O error): reads work,
    every write fails (SQLITE_READONLY)."""
    with spool._lock:
        assert spool._conn is not None
        spool._conn.close()
        spool._conn = sqlite3.connect(
            f"file:{spool.path}?mode=ro", uri=True, isolation_level=None, check_same_thread=False
        )


async def _in_stream(redis: RedisServer, ticket: str) -> bool:
    client = connect(redis.url)
    try:
        entries = await client.xrange(STREAM)
        return any(ticket in str(fields) for _, fields in entries or [])
    finally:
        await client.aclose(close_connection_pool=True)


async def test_with_the_spool_read_only_a_callback_goes_to_redis_not_503(
    tmp_path: Path, redis: RedisServer
) -> None:
    # Before: with one callback spooled, every new one went to the spool only, and the
    # mover could not delete what it had moved, so `spooled` stayed 1: 503 for every
    # callback while Redis was healthy.
    async with running_stack(tmp_path, extra=config(redis)) as stack, aiohttp.ClientSession() as c:
        await all_down(stack)  # nothing delivered: what Redis took stays in the stream
        await redis.kill()
        status, spooled = await post(c, stack, body(0), "spooled")
        assert status == 202
        runtime = stack.app[CALLBACKS]
        _read_only(runtime.spool)
        await redis.restart()

        status, answer = await post(c, stack, body(1), "after")

        assert status == 202, answer
        assert answer["status"] == "accepted"
        assert await _in_stream(redis, answer["ticket"])
        await wait_for(lambda: runtime.queue.spooled == 0, within=10, what="spool moved")
        assert runtime.queue.deletes_pending  # in Redis; the read-only spool still holds it
        assert await _in_stream(redis, spooled["ticket"])


async def test_submit_tries_redis_when_the_spool_fails_behind_a_spooled_callback(
    tmp_path: Path, redis: RedisServer
) -> None:
    # The mover not run: `submit` alone, behind one spooled callback (spoolro.py's case).
    path = tmp_path / "ro.spool"
    first = validate(body(0))
    assert isinstance(first, CallbackRequest)
    old = Spool(path)
    old.put("oldkey", first.to_json(ticket="cb_x", requested_at="t"), 1.0)
    old.close()
    spool = Spool(path)
    _read_only(spool)
    client = connect(redis.url)
    try:
        queue = CallbackQueue(CallbackStream(client, consumer="fd"), spool, clock=SystemClock())
        assert queue.spooled == 1
        request = validate(body(1))
        assert isinstance(request, CallbackRequest)

        receipt = await queue.submit("api:k1", request)

        assert (receipt.stored, receipt.new) == ("redis", True)
        assert await client.xlen(STREAM) == 1
        assert await _in_stream(redis, receipt.ticket)
    finally:
        await client.aclose(close_connection_pool=True)
        spool.close()
