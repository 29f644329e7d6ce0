"""Metric values after scripted scenarios, read from a fresh registry through /metrics:
what an SRE's dashboard and alerts would see. Real servers on 127.0.0.1."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families

from sims.community import CommunitySim
from tests.support.redis import RedisServer
from tests.support.selfhelp_stack import help_stack
from tests.support.stack import running_stack, wait_for

Series = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def scrape(url: str) -> Series:
    async with aiohttp.ClientSession() as s, s.get(f"{url}/metrics") as resp:
        assert resp.status == 200
        text = await resp.text()
    return {
        (x.name, frozenset(x.labels.items())): x.value
        for f in text_string_to_metric_families(text)
        for x in f.samples
    }


def value(series: Series, name: str, **labels: str) -> float:
    return series.get((name, frozenset(labels.items())), 0.0)


async def test_a_call_center_going_down_shows_in_every_metric_an_sre_reads(
    tmp_path: Path,
) -> None:
    async with running_stack(tmp_path, names=("primary",)) as stack:
        before = await scrape(stack.ops_url)
        assert value(before, "switchboard_backend_up", backend="primary") == 1
        assert value(before, "switchboard_failover_active") == 0
        assert value(before, "switchboard_failover_seconds_total") == 0

        await stack.centers["primary"].sim.set_mode("down")
        await wait_for(lambda: stack.pool.snapshot().router.current == "self-help", within=5,
                       what="failover")  # fmt: skip
        async with (
            aiohttp.ClientSession() as s,
            s.get(f"{stack.url}/support/billing", allow_redirects=False) as resp,
        ):
            assert resp.status == 303
        after = await scrape(stack.ops_url)

    assert value(after, "switchboard_backend_up", backend="primary") == 0
    assert value(after, "switchboard_backend_availability", backend="primary",
                 availability="down") == 1  # fmt: skip
    assert value(after, "switchboard_backend_health_state", backend="primary", state="down") == 1
    assert value(after, "switchboard_health_transitions_total", backend="primary",
                 state="down") == 1  # fmt: skip
    assert value(after, "switchboard_failover_active") == 1
    assert value(after, "switchboard_failover_transitions_total", destination="self-help") == 1
    assert value(after, "switchboard_failover_seconds_total") > 0
    assert value(after, "switchboard_selfhelp_redirects_total", cause="down") == 1
    assert value(after, "switchboard_requests_total", route="support", destination="self-help",
                 code="303") == 1  # fmt: skip
    assert value(after, "switchboard_request_duration_seconds_count", route="support",
                 destination="self-help") == 1  # fmt: skip
    assert value(after, "switchboard_probes_total", backend="primary", result="fail") >= 2


@pytest_asyncio.fixture
async def community() -> AsyncIterator[CommunitySim]:
    async with CommunitySim() as sim:
        yield sim


async def test_cache_misses_then_hits_are_counted_by_tier(
    tmp_path: Path, community: CommunitySim, redis_server: RedisServer
) -> None:
    # max-age 1 s: once the warm-up's copies expire from L1, the next read misses L1
    # and finds the bulletin in Redis; the read after that is an L1 hit.
    async with (
        help_stack(tmp_path, redis=redis_server, community=community, extra="max_age_s = 1\n")
        as stack,
        aiohttp.ClientSession() as s,
    ):  # fmt: skip
        some = community.seed.topics[0].id
        await wait_for(lambda: True, within=1.2, what="")
        await wait_for(lambda: not stack.self_help.service.l1_has(some), within=5,
                       what="the warm copy to expire from L1")  # fmt: skip
        before = await scrape(stack.ops_url)
        for _ in range(2):
            async with s.get(f"{stack.url}/help/bulletins/{some}") as resp:
                assert resp.status == 200

        async def counted() -> bool:
            after = await scrape(stack.ops_url)
            hits = value(after, "switchboard_cache_lookups_total", tier="l1", result="hit")
            return hits > value(before, "switchboard_cache_lookups_total", tier="l1",
                                result="hit")  # fmt: skip

        await wait_for(counted, within=3, what="the L1 hit counted (views fold twice a second)")
        after = await scrape(stack.ops_url)

    def delta(tier: str, result: str) -> float:
        return value(after, "switchboard_cache_lookups_total", tier=tier, result=result) - value(
            before, "switchboard_cache_lookups_total", tier=tier, result=result
        )

    assert delta("l1", "miss") == 1
    assert delta("redis", "hit") == 1
    assert delta("l1", "hit") >= 1
    assert delta("origin", "error") == 0
