"""Faults: the community site answers 200 with something hostile (issue 14).

Malformed JSON, the wrong types, a 50 MB body, JSON nested 100,000 deep, a post whose HTML
is nested 5,000 or 20,000 deep or is 1 MiB long, a lone surrogate in every string, a topic
id of 2**63, a date past year 9999. Each is refused in bounded time and memory, named
in `switchboard_origin_bad_responses_total{reason}` and the log, and the customer gets the
copy we hold. None of them holds the event loop long enough to fail a health probe
(FAST_HEALTH: 100 ms), which would send every customer away from a healthy call center.

Before this was fixed: JSON nested too deep raised RecursionError past every handler (the
customer got "help is limited" instead of the copy, and a cold start never finished), and
the deep or long post took the sanitizer 1.7 s on the event loop per fetch, which failed
the probes and failed customers over (measured: docs/faults.md).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from markupsafe import escape

from failover.health import HealthState
from failover.pool import HealthChange, Pool
from sims.community import CommunitySim
from switchboard.app import POOL
from tests.support.faultstack import get, metric
from tests.support.selfhelp_stack import help_stack
from tests.support.stack import wait_for

# Every answer is stale at once (max-age 0, no stale-while-revalidate): each read of a
# bulletin fetches it from the community site in the foreground, falling back to the copy.
ALWAYS_FETCH = "max_age_s = 0\nstale_while_revalidate_s = 0\n"
HOSTILE = [
    ("garbage", {}, "not_json"),
    ("wrong_types", {}, "shape"),
    ("huge", {"megabytes": 50}, "too_large"),
    ("deep", {"depth": 100_000}, "too_deep"),
    ("nested_html", {"depth": 5_000}, "too_deep"),  # 125 KiB of HTML
    ("nested_html", {"depth": 20_000}, "too_large"),  # 500 KiB: the size cap comes first
    ("big_html", {"kilobytes": 1024}, "too_large"),
    ("lone_surrogate", {}, "not_json"),  # was a 500 on the API, and "help is limited"
    ("huge_id", {}, "shape"),  # past SQLite's integers: the search index failed
    ("far_date", {}, "shape"),  # past year 9999 in UTC: the page could not show its date
]


@pytest_asyncio.fixture
async def community() -> AsyncIterator[CommunitySim]:
    async with CommunitySim(topics=40) as sim:
        yield sim


def probes_all_passed(pool: Pool) -> bool:
    return not any(
        isinstance(e, HealthChange) and e.transition.target is not HealthState.UP
        for e in pool.snapshot().timeline
    )


@pytest.mark.parametrize(("mode", "params", "reason"), HOSTILE)
async def test_a_hostile_answer_is_refused_counted_and_the_copy_served(
    tmp_path: Path, community: CommunitySim, mode: str, params: dict[str, float], reason: str
) -> None:
    topic = community.seed.topics[3]
    async with (
        help_stack(tmp_path, redis=None, community=community, extra=ALWAYS_FETCH) as stack,
        aiohttp.ClientSession() as session,
    ):
        url = f"{stack.url}/help/bulletins/{topic.id}"
        await community.set_mode(mode, **params)
        answers = [await get(session, url) for _ in range(3)]
        for answer in answers:
            assert answer.status == 200
            assert str(escape(topic.title)) in answer.text  # our copy, not "help is limited"
        bad = metric(stack.app, "switchboard_origin_bad_responses_total", reason=reason)
        assert bad >= 1
        assert stack.self_help.service.origin_dep.open  # refusals count against the site
        assert probes_all_passed(stack.app[POOL])
        await community.set_mode("up")


@pytest.mark.parametrize(("mode", "depth"), [("deep", 100_000), ("nested_html", 5_000)])
async def test_a_cold_start_against_a_hostile_site_finishes_and_serves(
    tmp_path: Path, community: CommunitySim, mode: str, depth: int
) -> None:
    await community.set_mode(mode, depth=depth)
    async with (
        help_stack(tmp_path, redis=None, community=community, warm=False) as stack,
        aiohttp.ClientSession() as session,
    ):
        runtime = stack.self_help.runtime
        await wait_for(runtime.started.is_set, within=15, what="the warm-up to finish")
        landing = await get(session, f"{stack.url}/help")
        assert landing.status == 200
        assert "How can we help?" in landing.text
        assert metric(stack.app, "switchboard_origin_bad_responses_total", reason="too_deep") >= 1
        assert probes_all_passed(stack.app[POOL])
        await community.set_mode("up")
