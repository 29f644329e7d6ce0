"""Views and "this helped" votes count once per client per bulletin per window, across
replicas, and only for bulletins that exist (issue 14, point 6). Before: 300 views from
one client put a bulletin first under "Trending now" and "Most read" for everyone; 500
votes from one client counted 500 customers helped; votes for bulletins that do not
exist were stored in `sb:votes:helpful`, in the Redis that holds the callback queue."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest_asyncio
from redis.asyncio import Redis

from sims.community import CommunitySim
from tests.attacks.limits_support import TIMEOUT, Door, World, client, front_doors, redis_client
from tests.support.redis import RedisServer
from tests.support.stack import wait_for

ATTACKER = "203.0.113.66"
HELPED = "switchboard_selfhelp_helped_total"


@pytest_asyncio.fixture
async def redis_server(tmp_path: Path) -> AsyncIterator[RedisServer]:
    async with RedisServer(tmp_path / "redis") as server:
        yield server


@pytest_asyncio.fixture
async def community() -> AsyncIterator[CommunitySim]:
    async with CommunitySim() as sim:
        yield sim


async def view(s: aiohttp.ClientSession, door: Door, bulletin_id: int, address: str) -> None:
    async with s.get(f"{door.url}/help/bulletins/{bulletin_id}", headers=client(address)) as r:
        assert r.status == 200
        await r.read()


async def vote(
    s: aiohttp.ClientSession, door: Door, bulletin_id: int, address: str
) -> tuple[int, dict[str, str], str]:
    async with s.post(
        f"{door.url}/help/bulletins/{bulletin_id}/vote",
        data={"helpful": "yes"},
        headers=client(address),
        allow_redirects=False,
    ) as r:
        return r.status, dict(r.headers), await r.text()


async def hits(redis: Redis, bulletin_id: int) -> int:
    return int(await redis.hget("sb:hits", str(bulletin_id)) or 0)


async def counted_everywhere(world: World) -> None:
    """Every replica's views folded and flushed, and its rankings read back."""
    for door in world.doors:
        await door.self_help.service.fold_views()
    await asyncio.sleep(1.2)  # one hit-flush interval
    for door in world.doors:
        await door.self_help.runtime.refresh_rankings()


async def test_300_views_from_one_client_move_nothing_on_any_replica(
    tmp_path: Path, redis_server: RedisServer, community: CommunitySim
) -> None:
    async with (
        front_doors(tmp_path, redis_url=redis_server.url, replicas=2, community=community) as w,
        aiohttp.ClientSession(timeout=TIMEOUT) as s,
        redis_client(redis_server.url) as redis,
    ):
        read, pushed = community.seed.topics[10].id, community.seed.topics[11].id
        # Five customers read one: the fewest "Trending now" needs ([selfhelp]
        # trending_min_views).
        for i, door in enumerate([*w.doors, *w.doors, w.doors[0]]):
            await view(s, door, read, f"198.51.100.{i + 1}")
        gate = asyncio.Semaphore(20)

        async def push(i: int) -> None:
            async with gate:
                await view(s, w.doors[i % 2], pushed, ATTACKER)

        await asyncio.gather(*(push(i) for i in range(300)))
        await counted_everywhere(w)
        await wait_for(lambda: hits_are(redis, {read: 5, pushed: 1}), within=5, what="flush")
        await asyncio.sleep(1.2)  # nothing more arrives later
        assert await hits(redis, pushed) == 1
        for door in w.doors:
            service = door.self_help.service
            assert [b.id for b in service.top(2)] == [read, pushed]
            assert service.trending(1)[0].id == read
        # What everyone sees: "Trending now" and "Most read" lead with the one that was read.
        async with s.get(f"{w.doors[1].url}/help", headers=client("198.51.100.99")) as r:
            page = await r.text()
        first_read = page.index(f"/help/bulletins/{read}")
        assert first_read < page.index(f"/help/bulletins/{pushed}")


async def hits_are(redis: Redis, expected: dict[int, int]) -> bool:
    return all([await hits(redis, b) == n for b, n in expected.items()])


async def test_500_helped_votes_from_one_client_are_one_customer_helped(
    tmp_path: Path, redis_server: RedisServer, community: CommunitySim
) -> None:
    async with (
        front_doors(tmp_path, redis_url=redis_server.url, replicas=2, community=community) as w,
        aiohttp.ClientSession(timeout=TIMEOUT) as s,
        redis_client(redis_server.url) as redis,
    ):
        await w.callcenter.set_mode("down")  # an outage: "helped" is the self-help SLO
        await wait_for(
            lambda: all(d.self_help.outage().active for d in w.doors), within=5, what="outage"
        )
        bulletin = community.seed.topics[12].id
        gate = asyncio.Semaphore(20)

        async def one(i: int) -> int:
            async with gate:
                return (await vote(s, w.doors[i % 2], bulletin, ATTACKER))[0]

        assert set(await asyncio.gather(*(one(i) for i in range(500)))) == {303}
        assert sum(door.metric(HELPED) for door in w.doors) == 1
        await wait_for(lambda: voted(redis, bulletin), within=5, what="vote flushed")
        await asyncio.sleep(1.2)
        assert await redis.hget("sb:votes:helpful", str(bulletin)) == b"1"
        # Another customer's vote counts.
        assert (await vote(s, w.doors[1], bulletin, "198.51.100.7"))[0] == 303
        assert sum(door.metric(HELPED) for door in w.doors) == 2


async def voted(redis: Redis, bulletin_id: int) -> bool:
    return await redis.hget("sb:votes:helpful", str(bulletin_id)) is not None


async def test_votes_for_bulletins_that_do_not_exist_are_404_and_store_nothing(
    tmp_path: Path, redis_server: RedisServer, community: CommunitySim
) -> None:
    async with (
        front_doors(tmp_path, redis_url=redis_server.url, community=community) as w,
        aiohttp.ClientSession(timeout=TIMEOUT) as s,
        redis_client(redis_server.url) as redis,
    ):
        (door,) = w.doors
        known = community.seed.topics[13].id
        assert (await vote(s, door, known, "198.51.100.8"))[0] == 303
        await wait_for(lambda: voted(redis, known), within=5, what="a real vote flushed")
        before = await redis.hgetall("sb:votes:helpful")
        keys_before = sorted(await redis.keys("*"))
        missing = [9_000_000 + i for i in range(200)]
        for bulletin_id in missing:
            status, _, page = await vote(s, door, bulletin_id, ATTACKER)
            assert status == 404
            assert "could not find that bulletin" in page
        await asyncio.sleep(1.2)  # a flush interval: nothing to write
        assert await redis.hgetall("sb:votes:helpful") == before
        assert sorted(await redis.keys("*")) == keys_before  # not one key more
        assert await redis.hgetall("sb:votes:unhelpful") == {}
        assert await redis.keys("sb:once:vote:9*") == []
        assert await redis.keys(f"sb:rl:vote:4:{ATTACKER}") == []
        assert door.server_errors() == 0


async def test_votes_past_a_clients_limit_are_a_429_page_that_says_when(
    tmp_path: Path, redis_server: RedisServer, community: CommunitySim
) -> None:
    async with (
        front_doors(
            tmp_path, redis_url=redis_server.url, community=community, limits="votes_burst = 5\n"
        ) as w,
        aiohttp.ClientSession(timeout=TIMEOUT) as s,
    ):
        (door,) = w.doors
        answers = [
            await vote(s, door, topic.id, ATTACKER) for topic in community.seed.topics[20:27]
        ]
        assert [status for status, _, _ in answers] == [303] * 5 + [429] * 2
        _, headers, page = answers[-1]
        assert 1 <= int(headers["Retry-After"]) <= 30  # 120 an hour: one every 30 s
        assert headers["Cache-Control"] == "no-store"
        assert "Too many votes from your network" in page
        assert door.metric('switchboard_rate_limited_total{action="vote"}') == 2
        # A repeat of a counted vote is thanked, not refused, and not counted.
        assert (await vote(s, door, community.seed.topics[20].id, ATTACKER))[0] == 303


async def test_with_redis_down_views_and_votes_still_count_once_per_process(
    tmp_path: Path, redis_server: RedisServer, community: CommunitySim
) -> None:
    async with (
        front_doors(tmp_path, redis_url=redis_server.url, community=community) as w,
        aiohttp.ClientSession(timeout=TIMEOUT) as s,
    ):
        (door,) = w.doors
        await w.callcenter.set_mode("down")
        await wait_for(lambda: door.self_help.outage().active, within=5, what="outage")
        bulletin = community.seed.topics[30].id
        service = door.self_help.service
        await redis_server.kill()
        before = service.hit_counts.get(bulletin, 0)
        for _ in range(50):
            await view(s, door, bulletin, ATTACKER)
        await service.fold_views()
        assert service.hit_counts.get(bulletin, 0) == before + 1
        statuses = [(await vote(s, door, bulletin, ATTACKER))[0] for _ in range(20)]
        assert set(statuses) == {303}
        assert door.metric(HELPED) == 1
        assert door.metric('switchboard_rate_limit_local_decisions_total{action="view"}') >= 1
        assert door.server_errors() == 0


async def test_views_past_a_clients_limit_are_served_but_not_counted(
    tmp_path: Path, redis_server: RedisServer, community: CommunitySim
) -> None:
    async with (
        front_doors(
            tmp_path, redis_url=redis_server.url, community=community, limits="views_burst = 5\n"
        ) as w,
        aiohttp.ClientSession(timeout=TIMEOUT) as s,
        redis_client(redis_server.url) as redis,
    ):
        (door,) = w.doors
        read = [topic.id for topic in community.seed.topics[40:48]]
        for bulletin_id in read:  # each page is served (view() checks the 200)
            await view(s, door, bulletin_id, ATTACKER)
        await counted_everywhere(w)
        await wait_for(
            lambda: total_hits(redis, read, 5), within=5, what="the counted views flushed"
        )
        await asyncio.sleep(1.2)
        assert sum([await hits(redis, b) for b in read]) == 5
        assert door.metric('switchboard_rate_limited_total{action="view"}') == 3


async def total_hits(redis: Redis, ids: list[int], n: int) -> bool:
    return sum([await hits(redis, b) for b in ids]) >= n
