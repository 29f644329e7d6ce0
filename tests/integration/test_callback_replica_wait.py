"""A callback's WAIT for replicas may take `replica_ack_timeout_ms`, however long that is.

The app's Redis client reads with a 0.5 s socket timeout (failover/redisconn.py). The
add + WAIT used to go through it, so with `replica_ack_timeout_ms` >= 500 the socket
timed out before Redis answered: the callback was spooled after 0.5 s with "Redis cannot
take callbacks ... Timeout reading", the pooled connection was dropped, and raising the
setting changed nothing. Now it has a client of its own (failover/callbacks/wiring.py).

Real redis-server with no replica (WAIT then blocks for its whole timeout, as it does
when the replica is paused or gone), and a real Sentinel group whose replica is paused;
the real front door on 127.0.0.1.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from redis.asyncio import Redis

from switchboard.app import CALLBACKS
from tests.support.callbacks import body, post
from tests.support.redis import RedisServer
from tests.support.sentinel import SentinelGroup
from tests.support.stack import FAST_HEALTH, running_stack, wait_for

WAIT_MS = 1500


def _config(redis: RedisServer) -> str:
    return FAST_HEALTH + (
        f'[redis]\nurl = "{redis.url}"\n'
        f"[callbacks]\nreplicas_to_ack = 1\nreplica_ack_timeout_ms = {WAIT_MS}\n"
        "[limits]\ncallbacks_burst = 100000\n"
    )


async def _waiters(admin: Redis) -> set[int]:
    """Ids of the connections whose last command was WAIT."""
    clients: list[dict[str, Any]] = await admin.client_list()
    return {int(c["id"]) for c in clients if c.get("cmd") == "wait"}


async def _waits(admin: Redis) -> int:
    stats = await admin.info("commandstats")
    return int(stats.get("cmdstat_wait", {}).get("calls", 0))


async def test_a_wait_above_the_socket_timeout_runs_its_course_and_spools_honestly(
    tmp_path: Path, redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="switchboard.callbacks")
    admin = Redis(host="127.0.0.1", port=redis.port, socket_timeout=2.0)
    try:
        async with running_stack(tmp_path, extra=_config(redis)) as stack:
            async with aiohttp.ClientSession() as client:
                started = time.monotonic()
                status, answer = await post(client, stack, body(0), "wait-1")
                took = time.monotonic() - started
            assert status == 202, answer
            # WAIT ran its 1.5 s (not cut at the 0.5 s socket timeout), then the spool took it
            assert WAIT_MS / 1000 - 0.1 <= took < WAIT_MS / 1000 + 1.5, took
            assert stack.app[CALLBACKS].queue.spooled == 1
            messages = [r.getMessage() for r in caplog.records]
            assert any("no replica confirmed callback" in m for m in messages), messages
            assert not any("Timeout reading" in m for m in messages), messages
            assert not any("Redis cannot take callbacks" in m for m in messages), messages
            # The connection that waited is kept: the spool mover's next add (and WAIT)
            # runs on it, not on a new one (which, behind Sentinel, asks Sentinel again).
            (waiter,) = await _waiters(admin)
            first = await _waits(admin)

            async def waited_again() -> bool:
                return await _waits(admin) > first

            await wait_for(waited_again, within=5, what="the mover's WAIT")
            assert await _waiters(admin) == {waiter}
    finally:
        await admin.aclose()


async def test_behind_sentinel_a_paused_replica_costs_the_wait_then_the_spool_moves(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The deployed shape: replicas_to_ack is 1 by default behind Sentinel. The replica is
    SIGSTOPped: the add waits out its 1.5 s and spools; resumed, the replica confirms and
    the spool moves to Redis."""
    caplog.set_level(logging.INFO, logger="switchboard.callbacks")
    async with SentinelGroup(tmp_path / "redis") as group:
        primary = await group.primary_port()
        (replica,) = [n for n in group.nodes if n.port != primary]
        config = FAST_HEALTH + (
            f'[redis]\nurl = "{group.url}"\n'
            f"[callbacks]\nreplica_ack_timeout_ms = {WAIT_MS}\n"
            "[limits]\ncallbacks_burst = 100000\n"
        )
        async with running_stack(tmp_path, extra=config) as stack:
            queue = stack.app[CALLBACKS].queue
            replica.pause()
            try:
                async with aiohttp.ClientSession() as client:
                    started = time.monotonic()
                    status, answer = await post(client, stack, body(1), "paused-1")
                    took = time.monotonic() - started
                assert status == 202, answer
                assert WAIT_MS / 1000 - 0.1 <= took < WAIT_MS / 1000 + 1.5, took
                assert queue.spooled == 1
            finally:
                replica.resume()
            await wait_for(lambda: queue.spooled == 0, within=10, what="the spool moved")
        messages = [r.getMessage() for r in caplog.records]
        assert any("no replica confirmed callback" in m for m in messages), messages
        assert not any("Timeout reading" in m for m in messages), messages
