"""Self-help reads time only from the app's clock: with a fake one, a bulletin's age,
its going stale and its refresh, and the outage banner's duration move when the test
moves the clock, and only then. Real redis-server, community and call-center
simulators, real HTTP on 127.0.0.1."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import aiohttp

from tests.support.clock import FakeClock
from tests.support.selfhelp_stack import HelpStack, help_world
from tests.support.stack import wait_for

TIMEOUT = aiohttp.ClientTimeout(total=10)
MAX_AGE = 60  # [selfhelp] max_age_s, default
STALE_WHILE_REVALIDATE = 300  # [selfhelp] stale_while_revalidate_s, default


async def api_bulletin(http: aiohttp.ClientSession, s: HelpStack, bid: int) -> tuple[Any, int]:
    async with http.get(f"{s.url}/api/v1/bulletins/{bid}", timeout=TIMEOUT) as r:
        assert r.status == 200
        return await r.json(), int(r.headers["Age"])


async def page_age(http: aiohttp.ClientSession, s: HelpStack, bid: int) -> int:
    async with http.get(f"{s.url}/help/bulletins/{bid}", timeout=TIMEOUT) as r:
        assert r.status == 200
        await r.read()
        return int(r.headers["Age"])


async def banner(http: aiohttp.ClientSession, s: HelpStack) -> str:
    async with http.get(f"{s.url}/help", timeout=TIMEOUT) as r:
        assert r.status == 200
        found = re.search(r"\(for ([^)]*)\)", await r.text())
        assert found is not None, "no outage duration on the page"
        return found.group(1)


async def test_a_bulletin_goes_stale_and_is_refreshed_only_as_the_app_clock_moves(
    tmp_path: Path,
) -> None:
    clock = FakeClock()
    async with help_world(tmp_path, clock=clock) as s, aiohttp.ClientSession() as http:
        bid = s.community.seed.topics[0].id
        topic_path = f"/t/{bid}.json"
        doc, age = await api_bulletin(http, s, bid)
        assert (doc["freshness"], age) == ("fresh", 0)
        assert await page_age(http, s, bid) == 0
        await asyncio.sleep(1.2)  # real time passes; the app's does not
        assert await page_age(http, s, bid) == 0  # the hot path, on the same clock
        fetched = s.community.requests_for(topic_path)

        late = MAX_AGE + 30  # past max-age, inside stale-while-revalidate
        clock.advance(late)
        assert await page_age(http, s, bid) == late  # the hot copy is no longer fresh
        await wait_for(
            lambda: s.community.requests_for(topic_path) > fetched,
            within=5, what="the background refresh from the community",
        )  # fmt: skip
        for _ in range(50):  # the refreshed copy lands in memory after the fetch
            doc, age = await api_bulletin(http, s, bid)
            if age == 0:
                break
            await asyncio.sleep(0.1)
        assert (doc["freshness"], age) == ("fresh", 0)

        clock.advance(MAX_AGE + STALE_WHILE_REVALIDATE + 1)  # only stale-if-error now
        await s.community.set_mode("down")
        doc, age = await api_bulletin(http, s, bid)
        assert doc["freshness"] == "stale_if_error"
        assert age == MAX_AGE + STALE_WHILE_REVALIDATE + 1


async def test_the_outage_banner_counts_its_duration_on_the_app_clock(tmp_path: Path) -> None:
    clock = FakeClock()
    async with help_world(tmp_path, clock=clock) as s, aiohttp.ClientSession() as http:
        await s.callcenter.set_mode("down")
        await wait_for(lambda: s.self_help.outage().active, within=5, what="failover")
        assert await banner(http, s) == "1 minute"  # the shortest it says
        await asyncio.sleep(1.2)
        clock.advance(25 * 60)
        assert await banner(http, s) == "25 minutes"
        clock.advance(3 * 3600)
        assert await banner(http, s) == "3 hours"
