"""Overload: past capacity the front door sheds self-help work in stages (issue 14).

- Each stage, forced from the config, answers every customer request of the mix with the
  right page and no 5xx: /help, search, a bulletin, a vote, /support (never shed) and a
  callback (never shed). From memory_only on, nothing reaches Redis or the community site
  on the request path.
- The stage follows what is measured: the event loop held up (here by the test itself,
  the way an overloaded process holds it) goes up to static and steps back down, one
  stage per cool-down, once the lag is gone; a burst of requests over a tiny capacity
  does the same through the in-flight count. Stages show on /status and in metrics.

Speed is not asserted here (a shared machine makes wall-clock asserts flaky): what each
stage is asserted to do is to answer, with the right page, without the work it sheds.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from markupsafe import escape

from kernel.overload import ORDER, Stage
from sims.community import CommunitySim
from tests.support.faultstack import (
    Answer,
    get,
    metric,
    post_callback,
    post_form,
    proxied_redis,
)
from tests.support.redis import RedisServer
from tests.support.selfhelp_stack import HelpStack, help_stack
from tests.support.stack import wait_for

STATIC_MARK = "We are very busy right now"
LANDING_MARK = "How can we help?"
L1_EXPIRES = 1.1  # s, with max_age_s = 1: reads after it go past L1 (to Redis at stage 0)


@pytest_asyncio.fixture
async def community() -> AsyncIterator[CommunitySim]:
    async with CommunitySim(topics=40) as sim:
        yield sim


def redis_lookups(stack: HelpStack) -> float:
    return sum(
        metric(stack.app, "switchboard_cache_lookups_total", tier="redis", result=r)
        for r in ("hit", "miss", "error")
    )


async def status_of(session: aiohttp.ClientSession, stack: HelpStack) -> dict[str, object]:
    overload = json.loads((await get(session, f"{stack.ops_url}/api/v1/status")).text)["overload"]
    assert isinstance(overload, dict)
    return overload


@pytest.mark.parametrize("stage", ORDER)
async def test_every_stage_answers_each_customer_request_with_the_right_page(
    tmp_path: Path, community: CommunitySim, stage: Stage
) -> None:
    extra = f'max_age_s = 1\n[overload]\nforce_stage = "{stage}"\nprerender_top = 5\n'
    async with (
        RedisServer(tmp_path / "redis") as redis,
        help_stack(tmp_path, redis=redis, community=community, extra=extra) as stack,
        aiohttp.ClientSession() as session,
    ):
        service = stack.self_help.service
        top, unread = service.top(40)[0], service.top(40)[30]  # pre-rendered / not
        await asyncio.sleep(L1_EXPIRES)
        lookups, fetched = redis_lookups(stack), community.requests_total
        url = stack.url
        landing = await get(session, f"{url}/help")
        search = await get(session, f"{url}/help/search?q=router")
        read = await get(session, f"{url}/help/bulletins/{top.id}")
        other = await get(session, f"{url}/help/bulletins/{unread.id}")
        vote = await post_form(session, f"{url}/help/bulletins/{top.id}/vote", {"helpful": "yes"})
        support = await get(session, f"{url}/support/router/setup")
        callback = await post_callback(session, url, f"stage-{stage}")
        listing = await get(session, f"{url}/api/v1/bulletins?sort=trending")
        one = await get(session, f"{url}/api/v1/bulletins/{top.id}")
        answers = [landing, search, read, other, vote, support, callback, listing, one]
        assert all(a.status < 500 for a in answers), [a.status for a in answers]

        static = stage is Stage.STATIC
        assert landing.status == 200
        assert (STATIC_MARK if static else LANDING_MARK) in landing.text
        assert search.status == 200
        assert (STATIC_MARK in search.text) is static
        assert read.status == 200
        assert str(escape(top.title)) in read.text  # rendered, pre-rendered, or on the static page
        assert other.status == 200
        assert (STATIC_MARK in other.text) is stage.at_least(Stage.MEMORY_ONLY)
        assert vote.status == 303
        assert vote.location.endswith("?voted=1") is not stage.at_least(Stage.MEMORY_ONLY)
        assert (support.status, "Setting up your router" in support.text) == (200, True)
        assert callback.status == 202
        assert (listing.status, one.status) == (200, 200)
        # Only what passed the trending gate (issue 19): none in a short test, and never
        # the most read padded in.
        trending = json.loads(listing.text)
        assert (trending["sort"], len(trending["bulletins"])) == ("trending", 0)

        if stage.at_least(Stage.MEMORY_ONLY):  # memory only: nothing else was asked
            assert redis_lookups(stack) == lookups
            assert community.requests_total == fetched
        else:
            assert redis_lookups(stack) > lookups
        runtime = stack.self_help.runtime
        assert runtime.flush_every == (5.0 if stage.at_least(Stage.SHED_BACKGROUND) else 1.0)
        overload = await status_of(session, stack)
        assert (overload["stage"], overload["level"], overload["forced"]) == (
            stage.value, stage.level, True
        )  # fmt: skip
        assert metric(stack.app, "switchboard_overload_stage") == stage.level
        page = await get(session, f"{stack.ops_url}/status")
        assert f">{stage.value.upper()}</span>" in page.text


async def test_background_work_waits_while_shedding(
    tmp_path: Path, community: CommunitySim
) -> None:
    extra = '[overload]\nforce_stage = "shed_background"\n'
    async with (
        RedisServer(tmp_path / "redis") as redis,
        help_stack(tmp_path, redis=redis, community=community, extra=extra) as stack,
    ):
        runtime = stack.self_help.runtime
        calls: list[str] = []

        async def counted(name: str) -> None:
            calls.append(name)

        runtime.refresh_rankings = lambda: counted("rankings")  # type: ignore[method-assign]
        runtime.save_snapshot = lambda: counted("snapshot")  # type: ignore[method-assign]
        await runtime.rankings_turn()
        await runtime.snapshot_turn()
        assert calls == []
        runtime.apply_stage(Stage.NORMAL)
        await runtime.rankings_turn()
        await runtime.snapshot_turn()
        assert calls == ["rankings", "snapshot"]


class Customers:
    """Customers asking for pages in a loop while a test runs; every status kept."""

    def __init__(self, stack: HelpStack, ids: list[int]) -> None:
        self.stack, self.ids = stack, ids
        self.answers: list[Answer] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        paths = ["/help", "/help/search?q=wifi", *(f"/help/bulletins/{i}" for i in self.ids)]
        async with aiohttp.ClientSession() as session:
            for n in range(100_000):  # bounded; stopped by the test long before
                self.answers.append(await get(session, self.stack.url + paths[n % len(paths)]))
                await asyncio.sleep(0.01)

    def __enter__(self) -> Customers:
        self._task = asyncio.create_task(self._run(), name="test-customers")
        return self

    def __exit__(self, *_: object) -> None:
        if self._task is not None:
            self._task.cancel()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def hold_the_loop(seconds: float) -> None:
    """What an overloaded process does to its event loop: nothing else runs meanwhile."""
    time.sleep(seconds)


# Lag levels well above what a busy shared machine does to this process on its own, so
# that only the test moves the stage.
SAMPLED = """[overload]
sample_interval_ms = 20
lag_ms = [150, 200, 250]
up_after_ms = 100
cool_down_ms = 300
"""


async def test_a_held_event_loop_sheds_to_static_then_steps_back_down_one_stage_at_a_time(
    tmp_path: Path, community: CommunitySim
) -> None:
    async with (
        help_stack(tmp_path, redis=None, community=community, extra=SAMPLED) as stack,
        aiohttp.ClientSession() as session,
    ):
        monitor = stack.self_help.runtime.overload
        assert monitor is not None
        ids = [b.id for b in stack.self_help.service.top(3)]
        customers = Customers(stack, ids)
        with customers:
            await asyncio.sleep(0.2)
            for _ in range(4):  # a loop that runs each timer 0.6 s late, for 2.4 s
                hold_the_loop(0.6)
                await asyncio.sleep(0.005)  # the sampler's turn, late
            await wait_for(lambda: monitor.stage is Stage.STATIC, within=2, what="static")
            during = await get(session, f"{stack.url}/help")
            await wait_for(lambda: monitor.stage is Stage.NORMAL, within=10, what="normal")
            await customers.stop()
        assert during.status == 200
        assert STATIC_MARK in during.text
        path = [(t.source, t.target) for t in monitor.recent]
        assert path == [
            (Stage.NORMAL, Stage.STATIC),
            (Stage.STATIC, Stage.MEMORY_ONLY),
            (Stage.MEMORY_ONLY, Stage.SHED_BACKGROUND),
            (Stage.SHED_BACKGROUND, Stage.NORMAL),
        ]
        downs = [t.at for t in monitor.recent][1:]
        assert all(b - a >= 0.3 for a, b in itertools.pairwise(downs))
        for stage in ORDER:
            assert metric(stack.app, "switchboard_overload_transitions_total",
                          stage=stage.value) == 1  # fmt: skip
        overload = await status_of(session, stack)
        assert overload["stage"] == "normal"
        assert [r["to"] for r in overload["recent"]] == [  # type: ignore[attr-defined]
            "normal", "shed_background", "memory_only", "static"
        ]  # fmt: skip
        assert customers.answers
        assert all(a.status == 200 for a in customers.answers)


async def test_a_burst_over_capacity_sheds_and_every_customer_is_answered(
    tmp_path: Path, community: CommunitySim
) -> None:
    # In flight only: no lag this machine could produce calls for any stage.
    capacity = (
        SAMPLED.replace("up_after_ms = 100", "up_after_ms = 0").replace(
            "lag_ms = [150, 200, 250]", "lag_ms = [60000, 60000, 60000]"
        )
        + "capacity = 2\n"
    )
    async with proxied_redis(tmp_path / "redis") as redis:
        extra = "max_age_s = 1\n" + redis.config() + capacity
        async with (
            help_stack(tmp_path, redis=None, community=community, extra=extra) as stack,
            aiohttp.ClientSession() as session,
        ):
            monitor = stack.self_help.runtime.overload
            assert monitor is not None
            ids = [t.id for t in community.seed.topics[:20]]
            await asyncio.sleep(L1_EXPIRES)  # reads go to Redis, which answers in ~80 ms
            await redis.proxy.set_mode("slow", delay_ms=40)
            answers = await asyncio.gather(
                *(get(session, f"{stack.url}/help/bulletins/{i}") for i in ids)
            )
            await wait_for(lambda: monitor.stage is Stage.STATIC, within=2, what="static")
            shed = await get(session, f"{stack.url}/help/search?q=router")
            await redis.proxy.set_mode("pass")
            await wait_for(lambda: monitor.stage is Stage.NORMAL, within=10, what="normal")
            after = await get(session, f"{stack.url}/help/search?q=router")
        assert all(a.status == 200 for a in answers)
        assert (shed.status, STATIC_MARK in shed.text) == (200, True)
        assert (after.status, STATIC_MARK in after.text) == (200, False)
        first = monitor.recent[0]
        assert (first.source, first.target) == (Stage.NORMAL, Stage.STATIC)
        assert "in flight" in first.reason
