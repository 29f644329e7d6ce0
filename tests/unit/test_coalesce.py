"""Concurrent misses for one key cause one fetch, not a stampede."""

from __future__ import annotations

import asyncio

import pytest

from cache.coalesce import SingleFlight


async def test_hundred_concurrent_misses_make_one_fetch() -> None:
    flight: SingleFlight[str] = SingleFlight("t")
    calls = 0
    gate = asyncio.Event()

    async def fetch() -> str:
        nonlocal calls
        calls += 1
        await gate.wait()
        return "value"

    waiters = [asyncio.create_task(flight.run("k", fetch)) for _ in range(100)]
    await asyncio.sleep(0)
    gate.set()
    assert await asyncio.gather(*waiters) == ["value"] * 100
    assert calls == 1
    assert flight.inflight == 0


async def test_a_failure_reaches_every_waiter_and_the_next_miss_fetches_again() -> None:
    flight: SingleFlight[int] = SingleFlight("t")
    calls = 0

    async def failing() -> int:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        raise LookupError("origin down")

    results = await asyncio.gather(
        *(flight.run("k", failing) for _ in range(5)), return_exceptions=True
    )
    assert all(isinstance(r, LookupError) for r in results)
    assert calls == 1
    with pytest.raises(LookupError):
        await flight.run("k", failing)
    assert calls == 2


async def test_a_cancelled_waiter_does_not_cancel_the_shared_fetch() -> None:
    flight: SingleFlight[str] = SingleFlight("t")
    gate = asyncio.Event()

    async def fetch() -> str:
        await gate.wait()
        return "done"

    impatient = asyncio.create_task(flight.run("k", fetch))
    patient = asyncio.create_task(flight.run("k", fetch))
    await asyncio.sleep(0)
    impatient.cancel()
    gate.set()
    assert await patient == "done"
    with pytest.raises(asyncio.CancelledError):
        await impatient


async def test_different_keys_fetch_separately() -> None:
    flight: SingleFlight[str] = SingleFlight("t")
    seen: list[str] = []

    async def fetch_for(key: str) -> str:
        seen.append(key)
        await asyncio.sleep(0)
        return key

    results = await asyncio.gather(
        flight.run("a", lambda: fetch_for("a")), flight.run("b", lambda: fetch_for("b"))
    )
    assert list(results) == ["a", "b"]
    assert sorted(seen) == ["a", "b"]
