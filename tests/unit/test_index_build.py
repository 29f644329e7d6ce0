"""The self-help search index is built off the event loop (no network, no Redis)."""

from __future__ import annotations

import asyncio

import pytest

from cache.freshness import FreshnessPolicy
from cache.hits import HitBuffer
from cache.runtime import SelfHelpRuntime
from cache.service import SelfHelpService
from sims.bulletins import generate
from tests.support.clock import FakeClock


def service_knowing(n: int) -> SelfHelpService:
    service = SelfHelpService(
        origin=None, store=None, policy=FreshnessPolicy(),
        count_lookup=lambda tier, result, amount=1: None, hits=HitBuffer(), clock=FakeClock(),
    )  # fmt: skip
    service.load(generate(n), FakeClock().epoch(), "snapshot")
    return service


async def test_the_loop_keeps_running_while_the_index_is_built_and_then_searches_it() -> None:
    service = service_knowing(1500)
    ticks = 0
    building = True

    async def ticker() -> None:  # stands in for customers and probes
        nonlocal ticks
        while building:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    before = ticks
    await service.rebuild_index()
    building = False
    await task
    # Built on the loop, the rebuild would leave no room for a single tick.
    assert ticks - before > 10
    assert len(service.index) == 1500
    # Built in a worker thread, searched from the loop's: the connection allows it.
    assert service.search("router").hits


async def test_a_failed_index_build_is_tried_again_at_the_next_refresh() -> None:
    service = service_knowing(20)
    runtime = SelfHelpRuntime(service, store=None, snapshot=None, flusher=None, clock=FakeClock())
    builds = 0
    real = service.rebuild_index

    async def fails_once() -> None:
        nonlocal builds
        builds += 1
        if builds == 1:
            raise OverflowError("Python int too large to convert to SQLite INTEGER")
        await real()

    service.rebuild_index = fails_once  # type: ignore[method-assign]
    with pytest.raises(OverflowError):
        await runtime.refresh_rankings()
    await runtime.refresh_rankings()  # the catalog has not changed since: still unindexed
    assert builds == 2
    assert service.search("router").hits
    await runtime.refresh_rankings()  # indexed now: nothing to do
    assert builds == 2
