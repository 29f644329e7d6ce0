"""The Redis tier against a real redis-server that dies, hangs or restarts: bounded failures,
and the hit flusher keeping its hits through a crash and writing what is left at stop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from cache.store import Batch, HitBuffer, HitFlusher, RedisStore, StoreUnavailable, Votes
from failover.redisconn import connect
from kernel.clock import SystemClock
from tests.integration.test_store_contents import POLICY, T0, bulletin, store
from tests.support.redis import RedisServer

__all__ = ["store"]  # the fixture, shared with the contents tests

# failover/redisconn.py: 0.5 s socket timeouts, 2 retries with backoff capped at 0.2 s.
OUTAGE_BOUND = 3.0


async def eventually(check: Callable[[], Awaitable[bool]]) -> None:
    """Poll `check` until it holds; fail after 5 s. (Polling on purpose: the state lives
    in another process, redis-server, which cannot set an asyncio.Event.)"""
    async with asyncio.timeout(5.0):
        while not await check():  # noqa: ASYNC110
            await asyncio.sleep(0.02)


# --- outages ----------------------------------------------------------------------------


async def test_every_call_raises_store_unavailable_quickly_when_redis_is_killed(
    store: RedisStore, redis_server: RedisServer
) -> None:
    await store.flush(Batch(hits={1: 1}), now=T0)
    await redis_server.kill()
    calls: list[Callable[[], Awaitable[object]]] = [
        lambda: store.flush(Batch(hits={1: 1}), now=T0),
        lambda: store.get(1),
        lambda: store.put(bulletin(1), stored_at=T0),
        lambda: store.top(5),
        lambda: store.trending(5, now=T0),
        lambda: store.votes_of(1),
    ]
    for call in calls:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="ConnectionError"):
            await call()
        assert time.monotonic() - started < OUTAGE_BOUND


async def test_a_hung_redis_is_bounded_by_the_socket_timeout(
    store: RedisStore, redis_server: RedisServer
) -> None:
    await store.flush(Batch(hits={1: 1}), now=T0)
    redis_server.pause()
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable, match="Timeout"):
            await store.flush(Batch(hits={1: 1}), now=T0)
        assert 0.4 < time.monotonic() - started < OUTAGE_BOUND
    finally:
        redis_server.resume()
    await eventually(lambda: _answers(store))


async def _answers(store: RedisStore) -> bool:
    try:
        await store.top(1)
    except StoreUnavailable:
        return False
    return True


async def test_flusher_keeps_hits_through_a_crash_and_delivers_them_after_restart(
    tmp_path: Path,
) -> None:
    aof = {"appendonly": "yes", "appendfsync": "always"}  # the crash loses nothing flushed
    async with RedisServer(tmp_path / "redis", options=aof) as server:
        client = connect(server.url)
        try:
            store = RedisStore(client, policy=POLICY)
            buffer = HitBuffer()
            flusher = HitFlusher(store, buffer, interval=0.05, clock=SystemClock())
            flusher.start()
            try:
                for _ in range(5):
                    buffer.add_hit(1, author="ana")

                async def hits_are(expected: dict[int, int]) -> bool:
                    return await store.hits_of(list(expected)) == expected

                await eventually(lambda: hits_are({1: 5}))

                await server.kill()
                for _ in range(7):
                    buffer.add_hit(1, author="ana")
                for _ in range(3):
                    buffer.add_hit(2, author="bo")
                buffer.add_vote(2, helpful=True)

                async def failing() -> bool:
                    return flusher.failing

                await eventually(failing)
                await asyncio.sleep(0.3)  # several more failed ticks
                assert flusher.running

                async def kept() -> bool:  # between two attempts (during one, it is drained)
                    return (buffer.pending_hits, buffer.dropped) == (10, 0)

                await eventually(kept)

                await server.restart()  # same port; the AOF replays the first 5
                await eventually(lambda: hits_are({1: 12, 2: 3}))
                assert not flusher.failing
                assert await store.top(5) == [(1, 12), (2, 3)]
                assert await store.author_stats() == {"ana": 12, "bo": 3}
                assert await store.votes_of(2) == Votes(helpful=1)
            finally:
                await flusher.stop()
            assert not flusher.running
        finally:
            await client.aclose(close_connection_pool=True)


async def test_stopping_the_flusher_writes_what_is_left(store: RedisStore) -> None:
    buffer = HitBuffer()
    flusher = HitFlusher(store, buffer, interval=3600, clock=SystemClock())
    flusher.start()
    buffer.add_hit(4, author="cy")
    await flusher.stop()
    assert await store.hits_of([4]) == {4: 1}
    assert len(buffer) == 0
