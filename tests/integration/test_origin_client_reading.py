"""The Discourse origin client reading the community simulator over real loopback HTTP:
latest pages, topics as bulletins, categories. Holds the fixtures and helpers shared with
test_origin_client_failures.py and test_origin_client_fake_origin.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace

import aiohttp
import pytest
import pytest_asyncio

from cache.origin import DiscourseClient
from sims.community import CommunitySim

# Where a timeout is not what a test is about: room for a slow machine.
TIMEOUT = aiohttp.ClientTimeout(total=5.0, sock_connect=2.0, sock_read=5.0)


@pytest_asyncio.fixture
async def community() -> AsyncIterator[CommunitySim]:
    async with CommunitySim() as sim:
        yield sim


class Tries:
    """Counts the requests the client starts (a refused connection never reaches a server)."""

    def __init__(self) -> None:
        self.urls: list[str] = []
        self.trace = aiohttp.TraceConfig()
        self.trace.on_request_start.append(self._started)

    async def _started(
        self,
        session: aiohttp.ClientSession,
        context: SimpleNamespace,
        params: aiohttp.TraceRequestStartParams,
    ) -> None:
        self.urls.append(params.url.path)


@pytest.fixture
def tries() -> Tries:
    return Tries()


@pytest_asyncio.fixture
async def session(tries: Tries) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(trace_configs=[tries.trace]) as session:
        yield session


def client_for(
    session: aiohttp.ClientSession,
    url: str,
    *,
    attempts: int = 2,
    timeout: aiohttp.ClientTimeout = TIMEOUT,
) -> DiscourseClient:
    return DiscourseClient(session, url, timeout=timeout, attempts=attempts)


async def test_walking_latest_pages_finds_every_topic_once_in_bump_order(
    community: CommunitySim, session: aiohttp.ClientSession
) -> None:
    ids = await client_for(session, community.url).all_topic_ids()
    staff = community.seed.not_public[-1]  # a regular topic as listed; refused when fetched
    assert ids == [t.id for t in community.seed.topics] + [staff.id]  # no message, unlisted
    assert len(ids) >= 300
    assert community.requests_for("/latest.json") == 11  # the non-public ones fill an 11th


async def test_latest_pages_name_over_40_original_posters(
    community: CommunitySim, session: aiohttp.ClientSession
) -> None:
    client = client_for(session, community.url)
    authors: set[str] = set()
    page, more = 0, True
    while more:
        listing = await client.latest(page)
        authors.update(t.author for t in listing.topics)
        page, more = page + 1, listing.more
    assert page == 11
    assert "" not in authors
    assert len(authors) >= 40


async def test_latest_summary_matches_the_site(
    community: CommunitySim, session: aiohttp.ClientSession
) -> None:
    listing = await client_for(session, community.url).latest(0)
    assert listing.more
    assert len(listing.topics) == 30
    summary, seeded = listing.topics[0], community.seed.topics[0]
    assert (summary.id, summary.title, summary.slug) == (seeded.id, seeded.title, seeded.slug)
    assert summary.author == seeded.author.username
    assert summary.bumped_at == seeded.bumped_at
    assert summary.tags == seeded.tags
    assert summary.category_id == seeded.category_id
    assert (summary.views, summary.like_count) == (seeded.views, seeded.like_count)
    assert summary.excerpt is not None
    assert summary.excerpt.startswith(seeded.excerpt[:40])


async def test_topic_becomes_a_bulletin_with_cooked_html_author_and_category_name(
    community: CommunitySim, session: aiohttp.ClientSession
) -> None:
    seeded = community.seed.topics[3]
    bulletin = await client_for(session, community.url).topic(seeded.id)
    category = next(c.name for c in community.seed.categories if c.id == seeded.category_id)
    assert (bulletin.id, bulletin.title, bulletin.slug) == (seeded.id, seeded.title, seeded.slug)
    assert bulletin.body_html == seeded.posts[0].cooked
    assert bulletin.author == seeded.author.username
    assert bulletin.author_name == (seeded.author.name or seeded.author.username)
    assert bulletin.category == category
    assert bulletin.tags == seeded.tags
    assert bulletin.created_at == seeded.created_at
    assert bulletin.updated_at == seeded.posts[0].updated_at
    assert (bulletin.origin_views, bulletin.like_count) == (seeded.views, seeded.like_count)
    assert 0 < len(bulletin.excerpt) <= 281
    assert "<" not in bulletin.excerpt


async def test_member_without_a_name_is_shown_by_username(
    community: CommunitySim, session: aiohttp.ClientSession
) -> None:
    seeded = next(t for t in community.seed.topics if not t.author.name)
    bulletin = await client_for(session, community.url).topic(seeded.id)
    assert bulletin.author_name == bulletin.author == seeded.author.username


async def test_hostile_body_is_passed_on_as_received_and_its_excerpt_is_plain(
    community: CommunitySim, session: aiohttp.ClientSession
) -> None:
    # cache/model.py: body_html is the origin's HTML as received; sanitizing is done later.
    client = client_for(session, community.url)
    for seeded in [t for t in community.seed.topics if t.hostile][:5]:
        bulletin = await client.topic(seeded.id)
        assert bulletin.body_html == seeded.posts[0].cooked
        assert "<" not in bulletin.excerpt
        assert "alert(" not in bulletin.excerpt


async def test_categories_are_loaded_once_however_many_topics_are_read(
    community: CommunitySim, session: aiohttp.ClientSession
) -> None:
    client = client_for(session, community.url)
    ids = [t.id for t in community.seed.topics[:8]]
    bulletins = await asyncio.gather(*(client.topic(i) for i in ids))
    assert [b.id for b in bulletins] == ids
    assert await client.categories() == {c.id: c.name for c in community.seed.categories}
    assert community.requests_for("/categories.json") == 1


async def test_base_url_may_end_with_a_slash(
    community: CommunitySim, session: aiohttp.ClientSession
) -> None:
    listing = await client_for(session, f"{community.url}/").latest()
    assert len(listing.topics) == 30
