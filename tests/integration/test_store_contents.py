"""The Redis tier against a real redis-server: what it holds (bulletins, counts, rankings)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from cache.model import Bulletin
from cache.ranking import TrendingPolicy
from cache.store import (
    Batch,
    HitBuffer,
    HitFlusher,
    RedisStore,
    Votes,
)
from tests.support.clock import FakeClock

T0 = 1_735_000_000.0  # wall-clock seconds; the store is given `now`, never reads a clock
HOUR = 3600.0
POLICY = TrendingPolicy(half_life_seconds=HOUR, window_seconds=24 * HOUR)


def bulletin(bid: int, author: str = "ana") -> Bulletin:
    return Bulletin(
        id=bid,
        title=f"Bulletin {bid}",
        slug=f"bulletin-{bid}",
        author=author,
        author_name=author.title(),
        category="internet",
        tags=("router",),
        excerpt="Unplug it.",
        body_html="<p>Unplug it for 30 s, then \u00e9 \U0001f600</p>",
        created_at=datetime(2024, 12, 24, 9, 0, tzinfo=UTC),
        updated_at=datetime(2024, 12, 24, 10, 0, tzinfo=UTC),
    )


async def landmark_of(client: Redis) -> float:
    raw = await client.get("sb:trending:landmark")
    assert raw is not None
    return float(raw)


@pytest.fixture
def store(redis_client: Redis) -> RedisStore:
    return RedisStore(redis_client, policy=POLICY)


@pytest.fixture
def executed(monkeypatch: pytest.MonkeyPatch) -> list[tuple[bool, list[str]]]:
    """Every pipeline sent: (transactional?, command names)."""
    sent: list[tuple[bool, list[str]]] = []
    real = Pipeline.execute

    async def spy(self: Pipeline, raise_on_error: bool = True) -> list[Any]:
        transactional = self.is_transaction or self.explicit_transaction
        sent.append((transactional, [str(args[0]) for args, _ in self.command_stack]))
        return await real(self, raise_on_error)

    monkeypatch.setattr(Pipeline, "execute", spy)
    return sent


# --- bulletins --------------------------------------------------------------------------


async def test_put_then_get_round_trips_the_bulletin_and_its_stored_at(
    store: RedisStore,
) -> None:
    await store.put(bulletin(1), stored_at=T0 + 0.25)
    assert await store.get(1) == (bulletin(1), T0 + 0.25)
    assert await store.get(2) is None


async def test_put_many_get_many_and_all_ids(store: RedisStore) -> None:
    await store.put_many([bulletin(i) for i in (3, 1, 20)], stored_at=T0)
    await store.put_many([], stored_at=T0)
    got = await store.get_many([1, 2, 20])
    assert got == {1: (bulletin(1), T0), 20: (bulletin(20), T0)}
    assert await store.all_ids() == [1, 3, 20]


async def test_a_stored_bulletin_that_does_not_parse_reads_as_a_miss(
    store: RedisStore, redis_client: Redis
) -> None:
    await store.put(bulletin(1), stored_at=T0)
    await redis_client.hset("sb:bulletins", "1", "{not json")
    assert await store.get(1) is None


# --- counting ---------------------------------------------------------------------------


async def test_flush_writes_hits_top_trending_authors_and_votes_in_one_pipeline(
    store: RedisStore, redis_client: Redis, executed: list[tuple[bool, list[str]]]
) -> None:
    batch = Batch(
        hits={1: 3, 2: 1},
        author_hits={"ana": 3, "bo": 1},
        helpful={1: 2},
        unhelpful={2: 1},
    )
    await store.flush(batch, now=T0)

    landmark, writes = executed
    assert landmark == (False, ["SET", "GET"])
    transactional, commands = writes
    assert not transactional
    assert sorted(commands) == sorted(
        ["HINCRBY", "ZINCRBY", "ZINCRBY"] * 2 + ["HINCRBY"] * 2 + ["HINCRBY"] * 2
    )
    assert await redis_client.hgetall("sb:hits") == {b"1": b"3", b"2": b"1"}
    assert await redis_client.zrange("sb:top", 0, -1, withscores=True) == [
        (b"2", 1.0),
        (b"1", 3.0),
    ]
    # The first flush sets the landmark to now: weight 1.
    assert await landmark_of(redis_client) == T0
    assert await redis_client.zscore("sb:trending", "1") == 3.0
    assert await redis_client.hgetall("sb:author_hits") == {b"ana": b"3", b"bo": b"1"}
    assert await redis_client.hgetall("sb:votes:helpful") == {b"1": b"2"}
    assert await redis_client.hgetall("sb:votes:unhelpful") == {b"2": b"1"}
    assert await store.hits_of([1, 2, 99]) == {1: 3, 2: 1, 99: 0}
    assert await store.top(10) == [(1, 3), (2, 1)]
    assert await store.author_stats() == {"ana": 3, "bo": 1}
    assert await store.votes_of(1) == Votes(helpful=2, unhelpful=0)
    assert await store.votes_of(99) == Votes()


async def test_flushes_add_up(store: RedisStore) -> None:
    await store.flush(Batch(hits={1: 2}, author_hits={"ana": 2}), now=T0)
    await store.flush(Batch(hits={1: 5}, author_hits={"ana": 5}), now=T0 + 1)
    await store.flush(Batch(), now=T0 + 2)  # nothing to write: no round trip either
    assert await store.hits_of([1]) == {1: 7}
    assert await store.author_stats() == {"ana": 7}


async def test_trending_prefers_recent_hits_over_older_equal_counts(store: RedisStore) -> None:
    await store.flush(Batch(hits={1: 5}), now=T0)
    await store.flush(Batch(hits={2: 5}), now=T0 + 0.5 * HOUR)
    await store.flush(Batch(hits={3: 5}), now=T0 + 0.9 * HOUR)
    assert await store.top(3) == [(1, 5), (2, 5), (3, 5)]  # all-time: a tie, by id
    trending = await store.trending(3, now=T0 + HOUR)
    assert [bid for bid, _ in trending] == [3, 2, 1]
    assert [score for _, score in trending] == pytest.approx(
        [5 * 2**-0.1, 5 * 2**-0.5, 5 * 2**-1.0]
    )


async def test_trending_rescales_the_landmark_keeping_decayed_counts(
    store: RedisStore, redis_client: Redis
) -> None:
    await store.flush(Batch(hits={1: 8}), now=T0)
    await store.flush(Batch(hits={2: 1}), now=T0 + 3 * HOUR)  # weight 8 > 2: rescale
    assert await landmark_of(redis_client) == T0 + 3 * HOUR
    assert await redis_client.zscore("sb:trending", "2") == 1.0
    trending = await store.trending(10, now=T0 + 3 * HOUR)
    assert [bid for bid, _ in trending] == [1, 2]
    assert [score for _, score in trending] == pytest.approx([1.0, 1.0])


async def test_trending_after_a_long_idle_prunes_what_decayed_away(store: RedisStore) -> None:
    await store.flush(Batch(hits={1: 1}), now=T0)
    await store.flush(Batch(hits={2: 1}), now=T0 + 5000 * HOUR)  # 2**5000 overflows a float
    assert await store.trending(10, now=T0 + 5000 * HOUR) == [(2, 1.0)]
    assert await store.trending(0, now=T0) == []


async def test_concurrent_flushes_do_not_double_count(store: RedisStore) -> None:
    buffer = HitBuffer()
    flusher = HitFlusher(store, buffer, clock=FakeClock(epoch=T0))

    async def traffic_and_flushes() -> None:
        for i in range(200):
            buffer.add_hit(i % 7, author=f"a{i % 3}")
            if i % 10 == 0:
                await asyncio.sleep(0)

    await asyncio.gather(
        traffic_and_flushes(),
        *(flusher.flush_once() for _ in range(5)),
        *(store.flush(Batch(hits={0: 1}), now=T0) for _ in range(5)),
    )
    await flusher.flush_once()
    hits = await store.hits_of(list(range(7)))
    assert sum(hits.values()) == 205
    assert hits[0] == 29 + 5
    assert sum(score for _, score in await store.top(10)) == 205
    assert sum(s for _, s in await store.trending(10, now=T0)) == pytest.approx(205)
    assert sum((await store.author_stats()).values()) == 200
