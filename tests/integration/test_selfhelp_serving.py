"""The self-help layer serving pages against a real community simulator and a real
redis-server: warm start, the hot path, sanitized HTML, the support redirect, one origin
fetch for a stampede, the JSON API. Holds the fixture and helpers shared with
test_selfhelp_outages.py."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest_asyncio
from multidict import CIMultiDict
from prometheus_client.parser import text_string_to_metric_families

from sims.community import CommunitySim
from tests.support.redis import RedisServer
from tests.support.selfhelp_stack import help_stack
from tests.support.stack import wait_for

TIMEOUT = aiohttp.ClientTimeout(total=10, sock_connect=2, sock_read=10)


@pytest_asyncio.fixture
async def community() -> AsyncIterator[CommunitySim]:
    async with CommunitySim() as sim:
        yield sim


async def fetch(
    s: aiohttp.ClientSession, url: str, **kw: object
) -> tuple[int, CIMultiDict[str], bytes]:
    async with s.get(url, allow_redirects=False, timeout=TIMEOUT, **kw) as r:  # type: ignore[arg-type]
        return r.status, CIMultiDict(r.headers), await r.read()


async def test_warm_start_loads_the_whole_community_and_serves_pages(
    tmp_path: Path, community: CommunitySim, redis_server: RedisServer
) -> None:
    async with help_stack(tmp_path, redis=redis_server, community=community) as stack:
        known = stack.self_help.service.known()
        assert len(known) == len(community.seed.topics) >= 300
        async with aiohttp.ClientSession() as s:
            status, _, page = await fetch(s, f"{stack.url}/help")
            assert status == 200
            assert page.count(b'href="/help/bulletins/') >= 10
            some = community.seed.topics[0]
            status, headers, page = await fetch(s, f"{stack.url}/help/bulletins/{some.id}")
            assert status == 200
            assert some.title.encode() in page.replace(b"&#39;", b"'").replace(b"&amp;", b"&")
            assert "stale-while-revalidate=" in headers["Cache-Control"]
            assert "stale-if-error=" in headers["Cache-Control"]
            status, _, _ = await fetch(
                s,
                f"{stack.url}/help/bulletins/{some.id}",
                headers={"If-None-Match": headers["ETag"]},
            )
            assert status == 304


def _sample(metrics: bytes, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(metrics.decode()):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


async def test_a_cached_page_from_the_hot_path_answers_as_the_first_one_did(
    tmp_path: Path, community: CommunitySim
) -> None:
    """The first GET renders the page; later ones are sent from the hot path (the page
    kept with its headers built once). Same bytes and headers, its own Age and request
    id, a 304 without Content-Type, and every answer counted in the request metrics."""
    some = community.seed.topics[1]
    url = f"/help/bulletins/{some.id}"
    async with (
        help_stack(tmp_path, redis=None, community=community) as stack,
        aiohttp.ClientSession() as s,
    ):
        first = await fetch(s, f"{stack.url}{url}")
        assert str(some.id) in stack.self_help.fresh  # kept for the hot path
        hot = await fetch(s, f"{stack.url}{url}", headers={"X-Request-ID": "trace-42"})
        again = await fetch(s, f"{stack.url}{url}")
        padded = await fetch(s, f"{stack.url}/help/bulletins/0{some.id}")  # slow path
        etag = first[1]["ETag"]
        revalidated = await fetch(s, f"{stack.url}{url}", headers={"If-None-Match": etag})
        _, _, metrics = await fetch(s, f"{stack.ops_url}/metrics")
    for status, headers, body in (first, hot, again, padded):
        assert (status, body) == (200, first[2])
        for name in ("ETag", "Cache-Control", "Content-Type"):
            assert headers[name] == first[1][name], name
        assert int(headers["Age"]) >= 0
    assert hot[1]["X-Request-ID"] == "trace-42"  # the client's, honoured
    ids = {first[1]["X-Request-ID"], again[1]["X-Request-ID"], padded[1]["X-Request-ID"]}
    assert len(ids) == 3  # made afresh for each answer
    status, headers, body = revalidated
    assert (status, body) == (304, b"")
    assert headers["ETag"] == etag
    assert "Content-Type" not in headers  # RFC 9110 15.4.5: no representation metadata
    assert headers["X-Request-ID"]
    route = {"route": "help_bulletin", "destination": "front-door"}
    assert _sample(metrics, "switchboard_requests_total", code="200", **route) == 4
    assert _sample(metrics, "switchboard_requests_total", code="304", **route) == 1
    assert _sample(metrics, "switchboard_request_duration_seconds_count", **route) == 5


async def test_hostile_bulletin_html_is_served_sanitized(
    tmp_path: Path, community: CommunitySim
) -> None:
    hostile = next(t for t in community.seed.topics if t.hostile)
    async with help_stack(tmp_path, redis=None, community=community) as stack:
        async with aiohttp.ClientSession() as s:
            status, _, page = await fetch(s, f"{stack.url}/help/bulletins/{hostile.id}")
        assert status == 200
        body = page.lower()
        assert b"<script" not in body.split(b"</head>")[1]
        assert b"onerror" not in body
        assert b"javascript:" not in body


async def test_support_redirect_lands_on_search_results_for_the_topic(
    tmp_path: Path, community: CommunitySim
) -> None:
    async with help_stack(tmp_path, redis=None, community=community) as stack:
        await stack.callcenter.set_mode("down")
        async with aiohttp.ClientSession() as s:
            status, headers, _ = await fetch(s, f"{stack.url}/support/router/wifi-dropping")
            assert status == 303
            status, _, page = await fetch(s, f"{stack.url}{headers['Location']}")
        assert status == 200
        assert page.count(b'href="/help/bulletins/') >= 3
        assert b"wifi" in page.lower() or b"wi-fi" in page.lower()


async def test_hundred_concurrent_misses_cause_one_origin_fetch(
    tmp_path: Path, community: CommunitySim
) -> None:
    async with help_stack(tmp_path, redis=None, community=community, warm=False) as stack:
        topic = community.seed.topics[-1]
        path = f"/t/{topic.id}.json"
        await wait_for(stack.self_help.runtime.started.is_set, within=20, what="warm")
        # Forget it, as if it had never been fetched, then stampede.
        stack.self_help.service.forget(topic.id)
        before = community.requests_for(path)
        async with aiohttp.ClientSession() as s:
            results = await asyncio.gather(
                *(fetch(s, f"{stack.url}/help/bulletins/{topic.id}") for _ in range(100))
            )
        assert {status for status, _, _ in results} == {200}
        assert community.requests_for(path) - before == 1


async def test_json_api_lists_searches_and_ranks_authors(
    tmp_path: Path, community: CommunitySim
) -> None:
    async with (
        help_stack(tmp_path, redis=None, community=community) as stack,
        aiohttp.ClientSession() as s,
    ):
        status, _, raw = await fetch(s, f"{stack.url}/api/v1/bulletins?sort=hits&limit=5")
        assert status == 200
        assert len(json.loads(raw)["bulletins"]) == 5
        status, _, raw = await fetch(s, f"{stack.url}/api/v1/authors/top")
        assert status == 200
        assert len(json.loads(raw)["authors"]) >= 10
        status, _, raw = await fetch(s, f"{stack.url}/api/v1/bulletins?sort=nope")
        assert status == 400
        assert b"sort must be" in raw
        status, _, _ = await fetch(s, f"{stack.url}/api/v1/bulletins/999999")
        assert status == 404
