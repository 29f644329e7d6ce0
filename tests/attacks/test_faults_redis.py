"""Faults: Redis frozen (SIGSTOP), Redis slow, and its connection pool used up by a burst
(issue 14). Customers still get their self-help pages, from memory, with no 5xx, and no
customer waits on Redis longer than the request path's Redis budget.

Before this was fixed, a bulletin read that missed L1 waited for Redis as long as its
client allowed: a frozen Redis cost each read the 0.5 s socket timeout (a burst: the
0.5 s pool wait on top), and a Redis slow but answering (300 ms a read) was never
counted as failing at all, so every L1 miss paid it, for as long as Redis stayed slow.
Now a read on the request path gives up after `REDIS_READ_BUDGET` (100 ms) and counts
as a failure, so the Redis breaker opens after two.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest_asyncio
from markupsafe import escape

from failover.redisconn import MAX_CONNECTIONS, SOCKET_TIMEOUT
from sims.community import CommunitySim
from tests.support.faultstack import Answer, ProxiedRedis, get, metric, post_callback, proxied_redis
from tests.support.selfhelp_stack import HelpStack, help_stack

L1_EXPIRES = 1.1  # s: max-age 1 s is L1's time to live too (cache/service.py)


@pytest_asyncio.fixture
async def community() -> AsyncIterator[CommunitySim]:
    async with CommunitySim(topics=40) as sim:
        yield sim


@pytest_asyncio.fixture
async def redis(tmp_path: Path) -> AsyncIterator[ProxiedRedis]:
    async with proxied_redis(tmp_path / "redis") as proxied:
        yield proxied


async def timed(session: aiohttp.ClientSession, url: str) -> tuple[Answer, float]:
    started = time.monotonic()
    answer = await get(session, url)
    return answer, time.monotonic() - started


def assert_the_bulletin(answer: Answer, community: CommunitySim, bulletin_id: int) -> None:
    title = next(t.title for t in community.seed.topics if t.id == bulletin_id)
    assert answer.status == 200
    assert str(escape(title)) in answer.text


async def read_one_by_one(stack: HelpStack, community: CommunitySim, ids: list[int]) -> list[float]:
    """Each bulletin read alone (no queueing behind others); how long each took."""
    waits = []
    async with aiohttp.ClientSession() as session:
        for bulletin_id in ids:
            answer, waited = await timed(session, f"{stack.url}/help/bulletins/{bulletin_id}")
            assert_the_bulletin(answer, community, bulletin_id)
            waits.append(waited)
    return waits


async def test_redis_frozen_pages_come_from_memory_after_two_bounded_waits(
    tmp_path: Path, community: CommunitySim, redis: ProxiedRedis
) -> None:
    async with help_stack(
        tmp_path, redis=None, community=community, extra="max_age_s = 1\n" + redis.config()
    ) as stack:
        service = stack.self_help.service
        ids = [t.id for t in community.seed.topics]
        await asyncio.sleep(L1_EXPIRES)  # every L1 copy gone: the next reads ask Redis
        redis.server.pause()
        try:
            waits = await read_one_by_one(stack, community, ids[:6])
            assert service.redis_dep.open
            errors = metric(stack.app, "switchboard_cache_lookups_total", tier="redis",
                            result="error")  # fmt: skip
            # Two reads waited, then Redis was skipped (one, if the rankings loop's own
            # Redis call failed in between: it counts against the same breaker).
            assert 1 <= errors <= 2
            # The two that asked Redis gave up at the read budget, not the socket timeout.
            assert all(w < SOCKET_TIMEOUT - 0.05 for w in waits), waits
            async with aiohttp.ClientSession() as session:
                burst = await asyncio.gather(
                    *(get(session, f"{stack.url}/help/bulletins/{i}") for i in ids * 3),
                    get(session, f"{stack.url}/help"),
                    get(session, f"{stack.url}/help/search?q=router"),
                    post_callback(session, stack.url, "frozen-redis"),
                )
            for bulletin_id, answer in zip(ids * 3, burst, strict=False):
                assert_the_bulletin(answer, community, bulletin_id)
            assert [a.status for a in burst[-3:]] == [200, 200, 202]  # spooled, not lost
        finally:
            redis.server.resume()


async def test_redis_slow_but_answering_counts_as_failing_and_is_skipped(
    tmp_path: Path, community: CommunitySim, redis: ProxiedRedis
) -> None:
    async with help_stack(
        tmp_path, redis=None, community=community, extra="max_age_s = 1\n" + redis.config()
    ) as stack:
        ids = [t.id for t in community.seed.topics]
        await asyncio.sleep(L1_EXPIRES)
        # 150 ms each way: a read takes about 300 ms, under the socket timeout (500 ms),
        # so the client itself never gives up on it.
        await redis.proxy.set_mode("slow", delay_ms=150)
        waits = await read_one_by_one(stack, community, ids[:8])
        assert stack.self_help.service.redis_dep.open
        # Two in a row open the breaker; the rankings loop's Redis call (slow, but a
        # success) can land between them and make it three.
        assert 2 <= metric(stack.app, "switchboard_cache_lookups_total", tier="redis",
                           result="error") <= 3  # fmt: skip
        assert all(w < 0.3 for w in waits[:2]), waits  # the budget, not Redis's 300 ms
        await redis.proxy.set_mode("pass")


async def test_a_burst_that_uses_up_the_redis_pool_is_answered_from_memory(
    tmp_path: Path, community: CommunitySim, redis: ProxiedRedis
) -> None:
    async with help_stack(
        tmp_path, redis=None, community=community, extra="max_age_s = 1\n" + redis.config()
    ) as stack:
        ids = [t.id for t in community.seed.topics]
        await asyncio.sleep(L1_EXPIRES)
        await redis.proxy.set_mode("slow", delay_ms=150)
        requests = ids * 5  # 200 at once, against a pool of 32 connections
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=len(requests))
        ) as session:
            answers = await asyncio.gather(
                *(get(session, f"{stack.url}/help/bulletins/{i}") for i in requests)
            )
        for bulletin_id, answer in zip(requests, answers, strict=True):
            assert_the_bulletin(answer, community, bulletin_id)
        assert stack.self_help.service.redis_dep.open
        # More reads gave up on Redis than the pool has connections: the rest waited for
        # one, and gave up at the read budget instead of the pool's 0.5 s wait.
        gave_up = metric(stack.app, "switchboard_cache_lookups_total", tier="redis",
                         result="error")  # fmt: skip
        assert gave_up > MAX_CONNECTIONS
        await redis.proxy.set_mode("pass")
