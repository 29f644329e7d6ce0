"""Bulletins from a Discourse site read right on the front door, and what the site would
not show an anonymous visitor never reaches a customer (issue 19).

The community simulator serves Discourse's markup (sims/community_markup.py: mentions,
hashtags, emoji, local dates, a fragment link, all site-relative) and a private message, an
unlisted and a deleted topic, as a site read with an API key does.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import aiohttp
import pytest_asyncio

from failover.redisconn import connect
from sims.community import CommunitySim
from sims.community_markup import MARKER
from tests.support.redis import RedisServer
from tests.support.selfhelp_stack import help_stack
from tests.support.stack import wait_for

TIMEOUT = aiohttp.ClientTimeout(total=10, sock_connect=2, sock_read=10)


@pytest_asyncio.fixture
async def community() -> AsyncIterator[CommunitySim]:
    async with CommunitySim() as sim:
        yield sim


async def fetch(s: aiohttp.ClientSession, url: str) -> tuple[int, str]:
    async with s.get(url, allow_redirects=False, timeout=TIMEOUT) as r:
        return r.status, (await r.read()).decode()


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.anchors.append(dict(attrs).get("href"))


def body_of(page: str) -> str:
    """The bulletin's own HTML on its page (cache/templates/bulletin.html)."""
    return page.split('<div class="body">', 1)[1].split("</div>\n</article>", 1)[0]


def written_date(cooked: str) -> str:
    """The local date in `cooked`, in its author's zone, as the page should read it."""
    found = re.search(
        r'data-date="([\d-]+)"[^>]*data-time="([\d:]+)" data-timezone="([^"]+)"', cooked
    )
    assert found, cooked
    day, clock, zone = found.groups()
    moment = datetime.fromisoformat(f"{day}T{clock}").replace(tzinfo=ZoneInfo(zone))
    return f"{moment.day} {moment:%b %Y, %H:%M} {moment.tzname()}"


async def test_a_bulletin_with_discourse_markup_links_to_the_community_with_emoji_and_dates_as_text(
    tmp_path: Path, community: CommunitySim
) -> None:
    marked = [t for t in community.seed.topics if t.discourse_markup][:3]
    async with (
        help_stack(tmp_path, redis=None, community=community) as stack,
        aiohttp.ClientSession() as s,
    ):
        for topic in marked:
            status, page = await fetch(s, f"{stack.url}/help/bulletins/{topic.id}")
            assert status == 200
            cooked = topic.posts[0].cooked
            body = body_of(page)
            links = _Links()
            links.feed(body)
            hrefs = [h for h in links.anchors if h is not None]
            assert len(hrefs) == len(links.anchors)  # no anchor without an address
            helper = re.findall(r'class="mention" href="/u/([^"]+)"', cooked)[-1]
            for expected in (f"/u/{helper}", "/g/support", "/c/", "/tag/"):
                assert any(h.startswith(f"{community.url}{expected}") for h in hrefs), expected
            for href in hrefs:  # the community site, or an absolute address elsewhere
                assert href.startswith(("http://", "https://", "mailto:")), href
                assert not href.startswith(stack.url), href
            assert "\U0001f64f" in body  # :pray:
            assert "<p>\U0001f389</p>" in body  # :tada: alone in its paragraph
            assert written_date(cooked) in body
            assert re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body) is None
            assert "what fixed it" in body  # a fragment-only link: text
            assert 'href="#' not in body
            for gone in ("<img", "class=", "data-", 'href="/'):
                assert gone not in body, gone
            status, raw = await fetch(s, f"{stack.url}/api/v1/bulletins/{topic.id}")
            assert status == 200
            assert written_date(cooked) in json.loads(raw)["body_html"]


async def test_private_unlisted_and_deleted_topics_never_reach_a_customer(
    tmp_path: Path, community: CommunitySim
) -> None:
    hidden = community.seed.not_public
    async with (
        help_stack(tmp_path, redis=None, community=community) as stack,
        aiohttp.ClientSession() as s,
    ):
        known = {b.id for b in stack.self_help.service.known()}
        assert known == {t.id for t in community.seed.topics}
        assert community.requests_for(f"/t/{hidden[0].id}.json") == 0  # left out of the list
        for topic in hidden:  # asked for directly: not found, its body never shown
            for path in (f"/help/bulletins/{topic.id}", f"/api/v1/bulletins/{topic.id}"):
                status, page = await fetch(s, f"{stack.url}{path}")
                assert status == 404, path
                assert "4417-0" not in page  # its body
        for path in ("/help", f"/help/search?q={MARKER}", "/help/search?q=account+address"):
            status, page = await fetch(s, f"{stack.url}{path}")
            assert status == 200
            assert "4417-0" not in page
            for topic in hidden:
                assert f"/help/bulletins/{topic.id}" not in page, path
                assert topic.title.split(" (")[0] not in page, path
        status, raw = await fetch(s, f"{stack.url}/api/v1/search?q={MARKER}")
        assert (status, json.loads(raw)["results"]) == (200, [])


async def test_a_topic_made_private_after_it_was_cached_is_dropped(
    tmp_path: Path, community: CommunitySim, redis_server: RedisServer
) -> None:
    """Discourse moderators can turn a topic into a message; our copies (memory, Redis)
    must not outlive it (stale-if-error would otherwise serve them for a day)."""
    topic = community.seed.topics[3]
    word = topic.title.split()[0]
    redis = connect(redis_server.url)
    try:
        async with (
            help_stack(
                tmp_path, redis=redis_server, community=community, extra="max_age_s = 0\n"
            ) as stack,
            aiohttp.ClientSession() as s,
        ):
            assert await redis.hexists("sb:bulletins", str(topic.id))
            status, _ = await fetch(s, f"{stack.url}/help/bulletins/{topic.id}")
            assert status == 200
            community.make_private(topic.id)

            async def gone() -> bool:
                status, _ = await fetch(s, f"{stack.url}/help/bulletins/{topic.id}")
                return status == 404

            await wait_for(gone, within=10, what="the bulletin made private to be dropped")
            assert topic.id not in {b.id for b in stack.self_help.service.known()}
            assert not await redis.hexists("sb:bulletins", str(topic.id))
            assert not await redis.hexists("sb:bulletins:stored_at", str(topic.id))
            await wait_for(
                lambda: topic.id not in {h.id for h in stack.self_help.service.search(word).hits},
                within=10,
                what="the search index to forget it",
            )
    finally:
        await redis.aclose(close_connection_pool=True)
