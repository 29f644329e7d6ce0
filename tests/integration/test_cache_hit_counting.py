"""A cache hit is a copy that answers without waiting for the community site
(`switchboard:cache_hit:ratio_rate5m`, monitoring/rules/switchboard-recording.yml).

Before, a copy older than max-age + stale-while-revalidate was counted a hit of its tier
(L1, Redis or the last-known copy) and then fetched again in the foreground: the
customer waited on the origin all the same, and the hit ratio (and the load tests'
readings of it) said otherwise. Real community simulator in slow mode over HTTP on
127.0.0.1, a real redis-server, the app's clock faked so a copy's age is exact.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Final

import aiohttp
import pytest
import pytest_asyncio

from cache.freshness import FreshnessPolicy
from cache.hits import HitBuffer
from cache.origin import DiscourseClient
from cache.service import SelfHelpService
from cache.store import RedisStore
from failover.redisconn import connect
from loadtests.spike.readings import hit_ratio, lookups, parse
from sims.community import CommunitySim
from tests.support.clock import FakeClock
from tests.support.redis import RedisServer
from tests.support.selfhelp_stack import help_stack

POLICY: Final = FreshnessPolicy()  # max-age 60 s, stale-while-revalidate 300 s
TOO_OLD: Final = POLICY.max_age + POLICY.stale_while_revalidate + 40  # 400 s: fetch first
STALE: Final = POLICY.max_age + 30  # served at once, refreshed behind
DELAY: Final = 0.3  # the community site's answer, in slow mode
TIMEOUT: Final = aiohttp.ClientTimeout(total=5, sock_connect=2, sock_read=5)


@pytest_asyncio.fixture
async def community() -> AsyncIterator[CommunitySim]:
    async with CommunitySim(topics=5) as sim:
        yield sim


@asynccontextmanager
async def _store(tmp_path: Path) -> AsyncIterator[RedisStore]:
    """The Redis tier on a real redis-server of its own (a free loopback port)."""
    async with RedisServer(tmp_path / "redis") as server:
        client = connect(server.url)
        try:
            yield RedisStore(client)
        finally:
            await client.aclose(close_connection_pool=True)


async def _lookup(svc: SelfHelpService, bulletin_id: int) -> float:
    """Seconds the customer waited for `svc.bulletin` (the event loop's clock)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with asyncio.timeout(5):
        await svc.bulletin(bulletin_id)
    return loop.time() - started


@pytest.mark.parametrize("tier", ["l1", "redis", "last_known"])
@pytest.mark.parametrize("age", [TOO_OLD, STALE])
async def test_a_copy_counts_as_a_hit_only_when_it_answers_without_the_origin(
    tmp_path: Path, community: CommunitySim, tier: str, age: int
) -> None:
    clock = FakeClock()
    counted: Counter[tuple[str, str]] = Counter()
    bid = community.seed.topics[0].id
    async with AsyncExitStack() as stack:
        session = await stack.enter_async_context(aiohttp.ClientSession())
        store = await stack.enter_async_context(_store(tmp_path)) if tier == "redis" else None
        origin = DiscourseClient(session, community.url, timeout=TIMEOUT)
        copy = await origin.topic(bid)
        svc = SelfHelpService(
            origin=origin, store=store, policy=POLICY, hits=HitBuffer(), clock=clock,
            count_lookup=lambda t, r, amount=1: counted.update({(t, r): amount}),
        )  # fmt: skip
        try:
            if tier == "l1":  # a start-up from a snapshot written `age` s before
                svc.load([copy], clock.epoch() - age, "snapshot")
            else:  # L1 has let go of it (its TTL is max-age)
                svc.load([copy], clock.epoch(), "snapshot")
                if store is not None:
                    await store.put(copy, clock.epoch())
                clock.advance(age)
            await community.set_mode("slow", delay_ms=DELAY * 1000)
            waited = await _lookup(svc, bid)
        finally:
            await svc.aclose()
            await community.set_mode("up")

    by_tier = {f"{t} {r}": float(n) for (t, r), n in counted.items()}
    if age == TOO_OLD:  # fetched first: the customer waited on the origin, no hit
        assert waited >= DELAY * 0.9
        assert counted[tier, "hit"] == 0, counted
        assert counted[tier, "miss"] == (0 if tier == "last_known" else 1), counted
        assert counted["origin", "hit"] == 1, counted
        assert hit_ratio(by_tier) == 0
        assert hit_ratio(by_tier, ("l1",)) == 0
    else:  # served at once, refreshed behind: a hit of its tier
        assert waited < DELAY * 0.9
        assert counted[tier, "hit"] == 1, counted
        assert counted[tier, "miss"] == 0, counted
        assert hit_ratio(by_tier) == 1


async def test_a_copy_too_old_is_still_a_hit_while_the_origin_is_known_down(
    community: CommunitySim,
) -> None:
    # The breaker is open: the copy answers at once, whatever its age (cache/freshness.py).
    clock = FakeClock()
    counted: Counter[tuple[str, str]] = Counter()
    bid = community.seed.topics[0].id
    async with aiohttp.ClientSession() as session:
        origin = DiscourseClient(session, community.url, timeout=TIMEOUT)
        svc = SelfHelpService(
            origin=origin, store=None, policy=POLICY, hits=HitBuffer(), clock=clock,
            count_lookup=lambda t, r, amount=1: counted.update({(t, r): amount}),
        )  # fmt: skip
        try:
            svc.load([await origin.topic(bid)], clock.epoch() - TOO_OLD, "snapshot")
            while not svc.origin_dep.open:
                svc.origin_dep.record(ok=False)
            await community.set_mode("slow", delay_ms=DELAY * 1000)
            waited = await _lookup(svc, bid)
        finally:
            await svc.aclose()
            await community.set_mode("up")
    assert waited < DELAY * 0.9
    assert counted["l1", "hit"] == 1, counted
    assert counted["origin", "hit"] == 0, counted


async def test_the_front_doors_metrics_count_no_hit_for_a_copy_fetched_first(
    tmp_path: Path, community: CommunitySim, redis_server: RedisServer
) -> None:
    # End to end: the lookups as /metrics shows them, read as the load tests read them.
    clock = FakeClock()
    async with (
        help_stack(tmp_path, redis=redis_server, community=community, clock=clock,
                   origin_timeout_ms=2000) as stack,
        aiohttp.ClientSession(timeout=TIMEOUT) as http,
    ):  # fmt: skip
        bid = community.seed.topics[0].id
        clock.advance(TOO_OLD)  # L1 has let go; Redis's copy is 400 s old
        await community.set_mode("slow", delay_ms=DELAY * 1000)
        async with http.get(f"{stack.ops_url}/metrics") as resp:
            before = parse(await resp.text())
        loop = asyncio.get_running_loop()
        started = loop.time()
        async with http.get(f"{stack.url}/help/bulletins/{bid}") as resp:
            assert resp.status == 200
            await resp.read()
        waited = loop.time() - started
        async with http.get(f"{stack.ops_url}/metrics") as resp:
            after = parse(await resp.text())
        await community.set_mode("up")

    counted = lookups(before, after)
    assert waited >= DELAY * 0.9
    assert counted == {"l1 miss": 1, "origin hit": 1, "redis miss": 1}
    assert hit_ratio(counted) == 0
