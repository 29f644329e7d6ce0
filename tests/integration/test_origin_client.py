"""The Discourse origin client against the community simulator (and a tiny fake origin for
shapes the simulator never sends), over real loopback HTTP."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from cache.origin import (
    DiscourseClient,
    OriginBadResponse,
    OriginNotFound,
    OriginUnavailable,
)
from sims.community import CommunitySim

# Where a timeout is not what a test is about: room for a slow machine.
TIMEOUT = aiohttp.ClientTimeout(total=5.0, sock_connect=2.0, sock_read=5.0)
TIGHT_TOTAL = 0.4
TIGHT = aiohttp.ClientTimeout(total=TIGHT_TOTAL, sock_connect=0.2, sock_read=0.2)
# Two bounded tries plus one jittered backoff (at most 0.1 s), with slack for a busy
# machine; an origin that answers slower than this bound (SLOW_MS) tells a bounded
# try from an unbounded one.
TWO_TRIES_BOUND = 2 * TIGHT_TOTAL + 0.1 + 1.5
SLOW_MS = 3000
SAMPLES = Path(__file__).resolve().parents[1] / "data" / "discourse"


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


async def wait_for_requests(sim: CommunitySim, path: str, count: int) -> None:
    for _ in range(100):
        if sim.requests_for(path) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the simulator never received {count} request(s) for {path}")


# --- reading the site ------------------------------------------------------------------------


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


# --- failures --------------------------------------------------------------------------------


async def test_unknown_topic_is_not_found_without_a_retry(
    community: CommunitySim, session: aiohttp.ClientSession
) -> None:
    with pytest.raises(OriginNotFound):
        await client_for(session, community.url, attempts=3).topic(999_999)
    assert community.requests_for("/t/999999.json") == 1


async def test_a_topic_no_anonymous_visitor_sees_is_not_found_without_a_retry(
    community: CommunitySim, session: aiohttp.ClientSession
) -> None:
    """A private message, an unlisted, a deleted and a staff-only topic, answered 200 as to
    an API key (sims.community_markup), are "not found" to the self-help layer (issue 19)."""
    client = client_for(session, community.url, attempts=3)
    why = r"archetype 'private_message'|unlisted|deleted|category 15 is read-restricted"
    for topic in community.seed.not_public:
        with pytest.raises(OriginNotFound, match=why):
            await client.topic(topic.id)
        assert community.requests_for(f"/t/{topic.id}.json") == 1


async def test_down_origin_is_unavailable_after_exactly_attempts_tries(
    community: CommunitySim, session: aiohttp.ClientSession, tries: Tries
) -> None:
    await community.set_mode("down")
    started = time.monotonic()
    with pytest.raises(OriginUnavailable) as caught:
        await client_for(session, community.url, attempts=3).latest()
    assert tries.urls == ["/latest.json"] * 3
    assert caught.value.status is None  # a local failure, not the origin's answer
    assert time.monotonic() - started < 2.0  # refused at once; backoff waits at most 0.1+0.2 s


async def test_slow_origin_beyond_the_timeout_is_unavailable_within_the_bound(
    community: CommunitySim, session: aiohttp.ClientSession
) -> None:
    await community.set_mode("slow", delay_ms=SLOW_MS)
    started = time.monotonic()
    with pytest.raises(OriginUnavailable) as caught:
        await client_for(session, community.url, timeout=TIGHT).latest()
    elapsed = time.monotonic() - started
    assert caught.value.status is None
    assert community.requests_for("/latest.json") == 2
    assert 0.4 <= elapsed < TWO_TRIES_BOUND


async def test_hanging_origin_is_unavailable_within_the_bound(
    community: CommunitySim, session: aiohttp.ClientSession
) -> None:
    await community.set_mode("hang")
    seeded = community.seed.topics[0]
    started = time.monotonic()
    with pytest.raises(OriginUnavailable):
        await client_for(session, community.url, timeout=TIGHT).topic(seeded.id)
    assert time.monotonic() - started < TWO_TRIES_BOUND
    assert community.requests_for(f"/t/{seeded.id}.json") == 2


@pytest.mark.parametrize("status", [503, 500, 429])
async def test_a_one_off_failure_is_retried_and_the_second_attempt_succeeds(
    community: CommunitySim, session: aiohttp.ClientSession, status: int
) -> None:
    seeded = community.seed.topics[0]
    await community.set_mode("error", status=status, count=1)
    bulletin = await client_for(session, community.url).topic(seeded.id)
    assert bulletin.id == seeded.id
    assert community.requests_for(f"/t/{seeded.id}.json") == 2


async def test_a_lasting_503_is_unavailable_with_the_status_after_attempts_tries(
    community: CommunitySim, session: aiohttp.ClientSession
) -> None:
    await community.set_mode("error", status=503)
    with pytest.raises(OriginUnavailable) as caught:
        await client_for(session, community.url, attempts=3).latest(2)
    assert caught.value.status == 503
    assert community.requests_for("/latest.json") == 3


async def test_another_client_error_is_a_bad_response_without_a_retry(
    community: CommunitySim, session: aiohttp.ClientSession
) -> None:
    await community.set_mode("error", status=403)
    with pytest.raises(OriginBadResponse, match="unexpected HTTP 403"):
        await client_for(session, community.url, attempts=3).latest()
    assert community.requests_for("/latest.json") == 1


async def test_a_cancelled_fetch_is_not_retried(
    community: CommunitySim, session: aiohttp.ClientSession
) -> None:
    await community.set_mode("hang")
    seeded = community.seed.topics[0]
    fetch = asyncio.create_task(client_for(session, community.url, attempts=3).topic(seeded.id))
    await wait_for_requests(community, f"/t/{seeded.id}.json", 1)
    fetch.cancel()
    with pytest.raises(asyncio.CancelledError):
        await fetch
    await asyncio.sleep(0.2)  # longer than any backoff: a retry would have arrived by now
    assert community.requests_for(f"/t/{seeded.id}.json") == 1


async def test_timeouts_must_bound_the_socket_reads_and_connects(
    session: aiohttp.ClientSession,
) -> None:
    with pytest.raises(ValueError, match="sock_connect and sock_read"):
        DiscourseClient(session, "http://127.0.0.1:9", timeout=aiohttp.ClientTimeout(total=1))
    with pytest.raises(ValueError, match="attempts"):
        DiscourseClient(session, "http://127.0.0.1:9", timeout=TIMEOUT, attempts=0)


# --- shapes the simulator never sends: a fake origin -----------------------------------------


class FakeOrigin:
    """Answers fixed bodies by path (404 JSON otherwise) and counts what it was asked."""

    def __init__(self) -> None:
        self.answers: dict[str, tuple[int, str, str]] = {}
        self.requests: Counter[str] = Counter()
        self.url = ""
        self._runner: web.AppRunner | None = None

    def answer(self, path: str, body: object, *, status: int = 200) -> None:
        if isinstance(body, str):
            self.answers[path] = (status, body, "text/html")
        else:
            self.answers[path] = (status, json.dumps(body), "application/json")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site.port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests[request.path] += 1
        missing = (404, '{"errors": ["not found"], "error_type": "not_found"}', "application/json")
        status, text, content_type = self.answers.get(request.path, missing)
        return web.Response(text=text, status=status, content_type=content_type)


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeOrigin]:
    origin = FakeOrigin()
    await origin.start()
    try:
        yield origin
    finally:
        await origin.stop()


def sample(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SAMPLES / name).read_text(encoding="utf-8"))
    return loaded


async def test_an_html_page_instead_of_json_is_a_bad_response_without_a_retry(
    fake: FakeOrigin, session: aiohttp.ClientSession
) -> None:
    fake.answer("/latest.json", "<html><body>Maintenance</body></html>")
    with pytest.raises(OriginBadResponse, match=r"GET /latest\.json: body is not JSON"):
        await client_for(session, fake.url, attempts=3).latest()
    assert fake.requests["/latest.json"] == 1


async def test_json_of_the_wrong_shape_is_a_bad_response_naming_the_field(
    fake: FakeOrigin, session: aiohttp.ClientSession
) -> None:
    fake.answer("/latest.json", {"topic_list": {"topics": [{"title": "no id"}]}})
    with pytest.raises(OriginBadResponse, match=r"missing field topic_list\.topics\[0\]\.id"):
        await client_for(session, fake.url, attempts=3).latest()
    assert fake.requests["/latest.json"] == 1


async def test_recorded_samples_read_over_http_become_a_bulletin(
    fake: FakeOrigin, session: aiohttp.ClientSession
) -> None:
    fake.answer("/t/4127.json", sample("topic.json"))
    fake.answer("/categories.json", sample("categories.json"))
    bulletin = await client_for(session, fake.url).topic(4127)
    assert (bulletin.author, bulletin.category) == ("routerwhisperer", "Internet & Wi-Fi")


async def test_a_category_newer_than_the_cached_map_reloads_it_once(
    fake: FakeOrigin, session: aiohttp.ClientSession
) -> None:
    flat = sample("categories.json")
    for category in flat["category_list"]["categories"]:
        category.pop("subcategory_list", None)
    fake.answer("/categories.json", flat)
    client = client_for(session, fake.url)
    assert 15 not in await client.categories()
    topic = sample("topic.json")
    topic["category_id"] = 15
    fake.answer("/t/4127.json", topic)
    fake.answer("/categories.json", sample("categories.json"))  # the site gained category 15
    assert (await client.topic(4127)).category == "Mesh & Extenders"
    topic["category_id"] = 99  # a category we may never see: one reload, then Uncategorized
    fake.answer("/t/4127.json", topic)
    assert (await client.topic(4127)).category == "Uncategorized"
    assert (await client.topic(4127)).category == "Uncategorized"
    assert fake.requests["/categories.json"] == 3
