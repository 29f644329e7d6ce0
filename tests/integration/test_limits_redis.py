"""The limiter against a real redis-server: one Lua script, shared by every replica,
keys bounded and expiring; per process, within its budget, when Redis is hung or gone."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from failover.redisconn import connect
from kernel.clock import SystemClock
from kernel.limits.gcra import Outcome, Rule
from kernel.limits.limiter import Action, Limiter, Policy
from tests.support.redis import RedisServer

HOUR_MS = 3_600_000
POLICIES = {
    Action.CALLBACK: Policy(rule=Rule(burst=3, per_hour=60)),
    Action.VOTE: Policy(rule=Rule(burst=100, per_hour=60), once_ms=HOUR_MS, cap=1000),
    Action.VIEW: Policy(rule=Rule(burst=2, per_hour=60), once_ms=HOUR_MS, cap=4),
}
A, B = "4:198.51.100.1", "4:198.51.100.2"


class Observer:
    """A `LimitObserver` that keeps what it was told."""

    def __init__(self) -> None:
        self.limits: list[str] = []
        self.locally: list[tuple[str, int]] = []
        self.full: list[str] = []

    def limited(self, action: str) -> None:
        self.limits.append(action)

    def local(self, action: str, n: int) -> None:
        self.locally.append((action, n))

    def saturated(self, action: str) -> None:
        self.full.append(action)


def replica(
    redis: Redis, observer: Observer | None = None, *, budget: float = 0.05,
    retry_after: float = 2.0,
) -> Limiter:  # fmt: skip
    return Limiter(
        redis,
        POLICIES,
        observer=observer,
        budget=budget,
        retry_after=retry_after,
        monotonic=SystemClock().monotonic,
    )


@pytest_asyncio.fixture
async def second_client(redis_server: RedisServer) -> AsyncIterator[Redis]:
    """Another replica's own client (its own pool) to the same Redis."""
    client = connect(redis_server.url)
    try:
        yield client
    finally:
        await client.aclose(close_connection_pool=True)


async def test_a_limit_used_up_on_one_replica_holds_on_the_other(
    redis_client: Redis, second_client: Redis
) -> None:
    one, two = replica(redis_client), replica(second_client)
    assert [(await one.check(Action.CALLBACK, A)).allowed for _ in range(3)] == [True] * 3
    refused = await two.check(Action.CALLBACK, A)
    assert refused.outcome is Outcome.LIMITED
    assert 59 <= refused.retry_after_s <= 60
    assert (await two.check(Action.CALLBACK, B)).allowed  # another client is not affected
    assert not one.redis_failing
    assert not two.redis_failing


async def test_a_vote_counts_once_across_replicas_and_limits_hold_per_client(
    redis_client: Redis, second_client: Redis
) -> None:
    one, two = replica(redis_client), replica(second_client)
    assert (await one.check(Action.VOTE, A, 7)).allowed
    assert (await two.check(Action.VOTE, A, 7)).outcome is Outcome.REPEAT  # from Redis
    assert (await two.check(Action.VOTE, B, 7)).allowed


async def test_keys_are_short_and_every_one_expires(redis_client: Redis) -> None:
    limiter = replica(redis_client)
    await limiter.check(Action.CALLBACK, A)
    await limiter.check_many(Action.VIEW, [(A, 1), (B, 1), (A, 2)])
    keys = sorted(
        k.decode() if isinstance(k, bytes) else k for k in await redis_client.keys("sb:*")
    )
    assert keys == [
        "sb:once:view:1:4:198.51.100.1", "sb:once:view:1:4:198.51.100.2",
        "sb:once:view:2:4:198.51.100.1", "sb:once:view:count",
        "sb:rl:callback:4:198.51.100.1", "sb:rl:view:4:198.51.100.1",
        "sb:rl:view:4:198.51.100.2",
    ]  # fmt: skip
    for key in keys:
        ttl = await redis_client.pttl(key)
        assert 0 < ttl <= HOUR_MS, key
    # A TAT lives until the client's burst has refilled: 3 at one a minute, 1 used.
    assert await redis_client.pttl("sb:rl:callback:4:198.51.100.1") <= 60_000


async def test_the_window_remembers_at_most_cap_pairs_then_counts_nothing_more(
    redis_client: Redis,
) -> None:
    observer = Observer()
    limiter = replica(redis_client, observer)
    clients = [f"4:203.0.113.{i}" for i in range(10)]
    verdicts = await limiter.check_many(Action.VIEW, [(c, 5) for c in clients])
    assert [v.outcome for v in verdicts] == [Outcome.ALLOWED] * 4 + [Outcome.SATURATED] * 6
    assert observer.full == ["view"] * 6
    assert len(await redis_client.keys("sb:once:view:5:*")) == 4


async def test_views_over_a_clients_limit_are_not_counted_within_one_batch(
    redis_client: Redis,
) -> None:
    observer = Observer()
    limiter = replica(redis_client, observer)
    verdicts = await limiter.check_many(Action.VIEW, [(A, i) for i in range(4)] + [(A, 0)])
    assert [v.outcome for v in verdicts] == [
        Outcome.ALLOWED, Outcome.ALLOWED, Outcome.LIMITED, Outcome.LIMITED, Outcome.REPEAT,
    ]  # fmt: skip
    assert observer.limits == ["view", "view"]


async def test_a_flushed_script_cache_is_loaded_again(redis_client: Redis) -> None:
    limiter = replica(redis_client)
    assert (await limiter.check(Action.CALLBACK, A)).allowed
    await redis_client.script_flush()
    assert (await limiter.check(Action.CALLBACK, A)).allowed
    assert not limiter.redis_failing


async def test_a_hung_redis_costs_one_budget_then_limits_hold_per_process(
    redis_server: RedisServer,
) -> None:
    # A client of its own whose socket timeout (5 s) is far above the budget (50 ms), so
    # that the wait below can only be the budget's; and its script calls counted.
    client = Redis.from_url(redis_server.url, socket_timeout=5, socket_connect_timeout=5)
    asked = 0
    evalsha = client.evalsha

    async def counted(*args: Any, **kw: Any) -> Any:
        nonlocal asked
        asked += 1
        return await evalsha(*args, **kw)

    client.evalsha = counted  # type: ignore[method-assign]
    observer = Observer()
    limiter = replica(client, observer, budget=0.05, retry_after=30.0)
    try:
        assert (await limiter.check(Action.CALLBACK, A)).allowed  # script loaded, pool warm
        redis_server.pause()
        started = time.monotonic()
        first = await limiter.check(Action.CALLBACK, A)
        waited = time.monotonic() - started
        assert first.allowed  # per process now, from what Redis let through (1 of 3)
        assert limiter.redis_failing
        assert waited < 2.0  # the budget, not the client's 5 s socket timeout
        asked_when_failing = asked
        rest = [await limiter.check(Action.CALLBACK, A) for _ in range(3)]
        assert asked == asked_when_failing  # Redis is not asked again for a while
        # Never fails open: the burst of 3 holds across the switch (1 in Redis, 2 here).
        assert [v.allowed for v in rest] == [True, False, False]
        assert observer.locally == [("callback", 1)] * 4
    finally:
        redis_server.resume()
        await client.aclose()


async def test_with_redis_gone_and_back_limits_are_shared_again(
    redis_client: Redis, second_client: Redis, redis_server: RedisServer
) -> None:
    one = replica(redis_client, retry_after=0.2)
    two = replica(second_client, retry_after=0.2)
    await redis_server.kill()
    # Each replica decides alone: each gives this client at most its burst, no more.
    for limiter in (one, two):
        verdicts = [await limiter.check(Action.CALLBACK, A) for _ in range(4)]
        assert [v.allowed for v in verdicts] == [True, True, True, False]
        assert limiter.redis_failing
    await redis_server.restart()
    await asyncio.sleep(0.25)  # past retry_after
    # Shared again: Redis starts a new client afresh, and what one takes the other sees.
    assert [(await one.check(Action.CALLBACK, B)).allowed for _ in range(3)] == [True] * 3
    assert (await two.check(Action.CALLBACK, B)).outcome is Outcome.LIMITED
    assert not one.redis_failing
    assert not two.redis_failing
    # What each let A through alone is told to Redis with A's next check: no new burst.
    assert (await one.check(Action.CALLBACK, A)).outcome is Outcome.LIMITED
    assert (await two.check(Action.CALLBACK, A)).outcome is Outcome.LIMITED


async def test_requests_let_through_alone_count_in_redis_once_it_answers_again(
    redis_client: Redis, redis_server: RedisServer
) -> None:
    limiter = replica(redis_client, retry_after=0.2)
    await redis_server.kill()
    assert [(await limiter.check(Action.CALLBACK, A)).allowed for _ in range(2)] == [True] * 2
    await redis_server.restart()
    await asyncio.sleep(0.25)  # past retry_after
    # Redis, with no key for A, would give a full burst of 3; it hears of the 2 first,
    # even from two checks at once (the lead is sent with both, and counts once).
    both = await asyncio.gather(*(limiter.check(Action.CALLBACK, A) for _ in range(2)))
    assert sorted(v.outcome for v in both) == [Outcome.ALLOWED, Outcome.LIMITED]
    assert not limiter.redis_failing
    tat = int(await redis_client.get("sb:rl:callback:" + A) or 0)
    now_ms = int((await redis_client.time())[0]) * 1000
    assert 2 * 60_000 < tat - now_ms <= 3 * 60_000 + 1_000  # three intervals of 60 s on
    # Told once: the next check moves nothing (a refusal leaves the TAT where it is).
    assert (await limiter.check(Action.CALLBACK, A)).outcome is Outcome.LIMITED
    assert int(await redis_client.get("sb:rl:callback:" + A) or 0) == tat


@pytest.mark.parametrize("limiting", [True, False])
async def test_with_limits_off_views_still_count_once_and_callbacks_skip_redis(
    redis_client: Redis, limiting: bool
) -> None:
    limiter = Limiter(redis_client, POLICIES, limiting=limiting, monotonic=SystemClock().monotonic)
    verdicts = await limiter.check_many(Action.VIEW, [(A, i) for i in range(4)] + [(A, 1)])
    allowed = [v.outcome for v in verdicts]
    if limiting:
        assert allowed[:3] == [Outcome.ALLOWED, Outcome.ALLOWED, Outcome.LIMITED]
    else:
        assert allowed == [Outcome.ALLOWED] * 4 + [Outcome.REPEAT]
        for _ in range(10):
            assert (await limiter.check(Action.CALLBACK, A)).allowed
        assert await redis_client.keys("sb:rl:callback:*") == []
