"""The callback queue against a real redis-server: idempotent, crash-safe, dead-letters."""

from __future__ import annotations

import asyncio
from typing import Any, cast

from redis.asyncio import Redis

from failover.callbacks.stream import DEAD, CallbackStream


async def _stream(redis_client: Redis, consumer: str) -> CallbackStream:
    stream = CallbackStream(redis_client, consumer=consumer)
    await stream.ensure_group()
    return stream


async def test_a_retried_submission_is_queued_once(redis_client: Redis) -> None:
    stream = await _stream(redis_client, "a")
    first = await stream.add("key-1", '{"name": "Ana"}', 1.0)
    again = await stream.add("key-1", '{"name": "Ana"}', 2.0)
    assert first[1] is True
    assert again == (first[0], False)
    assert await stream.pending() == 1


async def test_entries_come_out_oldest_first_and_leave_only_when_acked(
    redis_client: Redis,
) -> None:
    stream = await _stream(redis_client, "a")
    for i in range(5):
        await stream.add(f"k{i}", f"p{i}", float(i))
    entries = await stream.read(10)
    assert [e.key for e in entries] == [f"k{i}" for i in range(5)]
    await stream.ack(entries[0])
    assert await stream.pending() == 4  # read but not acked: still there
    assert await stream.read(10) == []  # nothing new for this consumer


async def test_entries_of_a_consumer_that_died_are_reclaimed_by_another(
    redis_client: Redis,
) -> None:
    crashed = await _stream(redis_client, "replica-1")
    survivor = await _stream(redis_client, "replica-2")
    for i in range(3):
        await crashed.add(f"k{i}", f"p{i}", float(i))
    taken = await crashed.read(10)  # ...and then the process is killed before acking
    assert len(taken) == 3
    assert await survivor.reclaim(min_idle_ms=60_000) == []  # not idle long enough
    await asyncio.sleep(0.15)
    reclaimed = await survivor.reclaim(min_idle_ms=100)
    assert [e.key for e in reclaimed] == ["k0", "k1", "k2"]
    assert all(e.deliveries == 2 for e in reclaimed)
    for entry in reclaimed:
        await survivor.ack(entry)
    assert await survivor.pending() == 0


async def test_a_poison_entry_goes_to_the_dead_letter_stream_and_the_rest_flow(
    redis_client: Redis,
) -> None:
    stream = await _stream(redis_client, "a")
    await stream.add("poison", "not json", 1.0)
    await stream.add("fine", "{}", 2.0)
    poison, fine = await stream.read(10)
    await stream.dead_letter(poison, "call center answered 422 five times")
    await stream.ack(fine)
    assert await stream.pending() == 0
    dead = cast(list[Any], await redis_client.xrange(DEAD))
    assert len(dead) == 1
    fields = {k.decode(): v.decode() for k, v in dead[0][1].items()}
    assert fields["key"] == "poison"
    assert "422" in fields["reason"]
