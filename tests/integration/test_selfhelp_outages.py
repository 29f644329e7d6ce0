"""The self-help layer when its parts fail and while the front door is failed over,
against a real community simulator and a real redis-server: origin down (stale at once),
Redis killed, a cold start with both down, L1 expired, and during a failover votes,
trending and the top bulletins fetched again."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
from redis.asyncio import Redis

from cache.model import Bulletin
from failover.redisconn import connect
from sims.community import CommunitySim
from tests.integration.test_selfhelp_serving import TIMEOUT, community, fetch
from tests.support.redis import RedisServer
from tests.support.selfhelp_stack import help_stack
from tests.support.stack import wait_for

__all__ = ["community"]  # the shared fixture

TRUST_LOOPBACK = 'trusted_proxies = ["127.0.0.1/32"]\n'


def customer(i: int) -> dict[str, str]:
    """Headers of customer `i` behind the trusted proxy (TRUST_LOOPBACK)."""
    return {"X-Forwarded-For": f"198.51.100.{i + 1}"}


async def test_origin_down_serves_stale_at_once_once_its_breaker_is_open(
    tmp_path: Path, community: CommunitySim
) -> None:
    extra = "max_age_s = 0\nstale_while_revalidate_s = 0\n"
    # An origin timeout (1 s) well above the wait asserted below, so that only an open
    # breaker can explain a short wait, on a slow machine too.
    async with help_stack(
        tmp_path, redis=None, community=community, extra=extra, origin_timeout_ms=1000
    ) as stack:
        await community.set_mode("hang")
        ids = [t.id for t in community.seed.topics[:4]]
        async with aiohttp.ClientSession() as s:
            # The first misses pay the origin timeout and open its breaker...
            for bulletin_id in ids[:2]:
                status, headers, _ = await fetch(s, f"{stack.url}/help/bulletins/{bulletin_id}")
                assert status == 200
            assert stack.self_help.service.origin_dep.open
            # ...after that a stale answer is immediate, with its age shown.
            started = time.monotonic()
            status, headers, _ = await fetch(s, f"{stack.url}/help/bulletins/{ids[3]}")
            waited = time.monotonic() - started
        assert status == 200
        assert waited < 0.6
        assert int(headers["Age"]) >= 0
        await community.set_mode("up")


async def test_redis_killed_pages_keep_coming_and_hits_arrive_after_restart(
    tmp_path: Path, community: CommunitySim, redis_server: RedisServer
) -> None:
    # Eight customers (a view counts once per client: issue 14), told apart by the
    # X-Forwarded-For a trusted proxy on 127.0.0.1 would set.
    async with help_stack(
        tmp_path, redis=redis_server, community=community, server=TRUST_LOOPBACK
    ) as stack:
        topic = community.seed.topics[5]
        url = f"{stack.url}/help/bulletins/{topic.id}"
        await redis_server.kill()
        async with aiohttp.ClientSession() as s:
            for i in range(5):
                status, _, _ = await fetch(s, url, headers=customer(i))
                assert status == 200
            await redis_server.restart()
            for i in range(5, 8):
                status, _, _ = await fetch(s, url, headers=customer(i))
                assert status == 200
        client = connect(redis_server.url)
        try:
            await wait_for(
                lambda: _hits(client, topic.id, 8), within=10, what="buffered hits flushed"
            )
        finally:
            await client.aclose(close_connection_pool=True)


async def _hits(client: Redis, bulletin_id: int, at_least: int) -> bool:
    value = await client.hget("sb:hits", str(bulletin_id))
    return value is not None and int(value) >= at_least


async def test_cold_start_with_redis_and_origin_down_serves_the_snapshot(
    tmp_path: Path, community: CommunitySim
) -> None:
    async with help_stack(tmp_path, redis=None, community=community) as stack:
        await stack.self_help.runtime.save_snapshot()
    await community.set_mode("down")
    async with (
        help_stack(tmp_path, redis=None, community=community) as stack,
        aiohttp.ClientSession() as s,
    ):
        topic = community.seed.topics[7]
        status, _, _ = await fetch(s, f"{stack.url}/help/bulletins/{topic.id}")
        assert status == 200
        status, _, results = await fetch(s, f"{stack.url}/api/v1/search?q=router")
        assert status == 200
        assert json.loads(results)["results"]


async def test_votes_count_and_a_helpful_vote_during_an_outage_is_a_customer_helped(
    tmp_path: Path, community: CommunitySim, redis_server: RedisServer
) -> None:
    async with (
        help_stack(tmp_path, redis=redis_server, community=community) as stack,
        aiohttp.ClientSession() as s,
    ):
        await stack.callcenter.set_mode("down")  # the front door fails over to self-help
        await wait_for(lambda: stack.self_help.outage().active, within=3, what="failover")
        topic = community.seed.topics[3]
        async with s.post(
            f"{stack.url}/help/bulletins/{topic.id}/vote",
            data={"helpful": "yes"},
            allow_redirects=False,
            timeout=TIMEOUT,
        ) as r:
            assert r.status == 303
            assert r.headers["Location"] == f"/help/bulletins/{topic.id}?voted=1"
        status, _, page = await fetch(s, f"{stack.url}/help/bulletins/{topic.id}?voted=1")
        assert status == 200
        assert b"Thanks for telling us" in page
        async with s.post(
            f"{stack.url}/help/bulletins/{topic.id}/vote",
            data={"helpful": "maybe"},
            timeout=TIMEOUT,
        ) as r:
            assert r.status == 400
        _, _, metrics = await fetch(s, f"{stack.ops_url}/metrics")
        assert b"switchboard_selfhelp_helped_total 1.0" in metrics
        client = connect(redis_server.url)
        try:
            await wait_for(
                lambda: _counted(client, "sb:votes:helpful", topic.id), within=5, what="vote"
            )
        finally:
            await client.aclose(close_connection_pool=True)


async def _counted(client: Redis, key: str, bulletin_id: int) -> bool:
    return (await client.hget(key, str(bulletin_id))) is not None


async def test_topics_customers_arrive_with_during_a_failover_lead_trending(
    tmp_path: Path, community: CommunitySim, redis_server: RedisServer
) -> None:
    # One customer's views here: the boost, not the views, is under test.
    extra = "trending_min_views = 1\n"
    async with (
        help_stack(tmp_path, redis=redis_server, community=community, extra=extra) as stack,
        aiohttp.ClientSession() as s,
    ):
        runtime = stack.self_help.runtime
        # Equal views for everything first, so that only the boost can tell them apart.
        service = stack.self_help.service
        for topic in community.seed.topics[:40]:
            await fetch(s, f"{stack.url}/help/bulletins/{topic.id}")

        async def refreshed(holds: Callable[[], bool]) -> bool:
            await runtime.refresh_rankings()  # the views flushed to Redis so far
            return holds()

        await wait_for(
            lambda: refreshed(lambda: len(service.hit_counts) >= 40),
            within=5,
            what="the 40 views flushed and ranked",
        )
        before = _about(service.trending(5), ("modem", "firmware"))
        await stack.callcenter.set_mode("down")
        await wait_for(lambda: stack.self_help.outage().active, within=3, what="failover")
        for _ in range(30):
            await fetch(s, f"{stack.url}/support/modem/firmware")
        await wait_for(
            lambda: refreshed(lambda: _about(service.trending(5), ("modem", "firmware")) >= 3),
            within=5,
            what="modem and firmware bulletins trending",
        )
        assert _about(service.trending(5), ("modem", "firmware")) > before


def _about(bulletins: list[Bulletin], words: tuple[str, ...]) -> int:
    return sum(any(w in f"{b.title} {' '.join(b.tags)}".lower() for w in words) for b in bulletins)


async def test_l1_expired_with_redis_and_origin_down_serves_the_last_known_copy(
    tmp_path: Path, community: CommunitySim, redis_server: RedisServer
) -> None:
    extra = "max_age_s = 1\n"  # L1 keeps a copy for max-age: 1 s here
    async with (
        help_stack(tmp_path, redis=redis_server, community=community, extra=extra) as stack,
        aiohttp.ClientSession() as s,
    ):
        topic = community.seed.topics[9]
        await redis_server.kill()
        await community.set_mode("down")
        await asyncio.sleep(1.1)
        status, headers, _ = await fetch(s, f"{stack.url}/help/bulletins/{topic.id}")
        assert status == 200
        assert int(headers["Age"]) >= 1
        _, _, metrics = await fetch(s, f"{stack.ops_url}/metrics")
        assert b'switchboard_cache_lookups_total{result="miss",tier="l1"}' in metrics
        assert b'switchboard_cache_lookups_total{result="hit",tier="last_known"}' in metrics
        await community.set_mode("up")


async def test_the_moment_the_front_door_fails_over_the_top_bulletins_are_fetched_again(
    tmp_path: Path, community: CommunitySim
) -> None:
    extra = "max_age_s = 1\nwarm_top = 20\n"
    async with help_stack(tmp_path, redis=None, community=community, extra=extra) as stack:
        await asyncio.sleep(1.1)  # every copy is past max-age now
        before = community.requests_total
        await stack.callcenter.set_mode("down")  # no customer asks for anything
        await wait_for(lambda: stack.self_help.outage().active, within=3, what="failover")
        await wait_for(
            lambda: community.requests_total - before >= 20, within=5, what="warm-up fetches"
        )
