"""Integration tests for the community (Discourse API) simulator: its API and seeded content."""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from sims.community import PER_PAGE, CommunitySim, build_seed
from sims.community_markup import MARKER

TIMEOUT = aiohttp.ClientTimeout(total=2.0, sock_connect=1.0, sock_read=1.0)


@pytest_asyncio.fixture
async def community() -> AsyncIterator[CommunitySim]:
    async with CommunitySim() as sim:
        yield sim


@pytest_asyncio.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector, timeout=TIMEOUT) as session:
        yield session


async def get_json(client: aiohttp.ClientSession, url: str) -> tuple[int, Any]:
    async with client.get(url) as resp:
        return resp.status, await resp.json()


async def walk_latest(client: aiohttp.ClientSession, url: str) -> list[dict[str, Any]]:
    """Every /latest.json page, following the page numbers while more_topics_url is there."""
    pages = []
    for page in range(100):
        status, body = await get_json(client, f"{url}/latest.json?page={page}")
        assert status == 200
        pages.append(body)
        if "more_topics_url" not in body["topic_list"]:
            return pages
    raise AssertionError("more_topics_url never went away")


# --- the API ---------------------------------------------------------------------------------


async def test_latest_pages_walk_to_300_topics_by_over_40_authors_last_bumped_first(
    community: CommunitySim, client: aiohttp.ClientSession
) -> None:
    pages = await walk_latest(client, community.url)
    topics = [t for page in pages for t in page["topic_list"]["topics"]]
    assert len(pages) == 11  # 300 public topics and 3 that are not (sims.community_markup)
    assert all(len(p["topic_list"]["topics"]) == PER_PAGE for p in pages[:-1])
    assert len({t["id"] for t in topics}) == len(topics) == 303
    hidden = {t.id for t in community.seed.not_public}
    assert [t["id"] for t in topics if t["id"] not in hidden] == [
        t.id for t in community.seed.topics
    ]
    bumped = [t["bumped_at"] for t in topics]
    assert bumped == sorted(bumped, reverse=True)
    posters = {p["user_id"] for t in topics for p in t["posters"] if "Original" in p["description"]}
    assert len(posters) >= 40
    for page in pages:  # every poster of a page is in that page's users
        user_ids = {u["id"] for u in page["users"]}
        assert {
            p["user_id"] for t in page["topic_list"]["topics"] for p in t["posters"]
        } <= user_ids


async def test_latest_pages_have_discourse_fields(
    community: CommunitySim, client: aiohttp.ClientSession
) -> None:
    _, body = await get_json(client, f"{community.url}/latest.json")
    topic_list = body["topic_list"]
    assert topic_list["per_page"] == 30
    assert topic_list["more_topics_url"] == "/latest?no_definitions=true&page=1"
    assert set(body["users"][0]) == {"id", "username", "name", "avatar_template"}
    topic = topic_list["topics"][0]
    for key in ("fancy_title", "posts_count", "highest_post_number", "archetype", "pinned"):
        assert key in topic
    assert topic["posters"][0]["description"].startswith("Original Poster")


async def test_page_past_the_end_is_empty_and_a_bad_page_is_rejected(
    community: CommunitySim, client: aiohttp.ClientSession
) -> None:
    status, body = await get_json(client, f"{community.url}/latest.json?page=11")
    assert (status, body["topic_list"]["topics"]) == (200, [])
    assert "more_topics_url" not in body["topic_list"]
    status, body = await get_json(client, f"{community.url}/latest.json?page=-1")
    assert (status, body["error_type"]) == (400, "invalid_parameters")


async def test_topic_by_id_or_slug_has_cooked_html_and_its_author(
    community: CommunitySim, client: aiohttp.ClientSession
) -> None:
    seeded = community.seed.topics[0]
    _, by_id = await get_json(client, f"{community.url}/t/{seeded.id}.json")
    _, by_slug = await get_json(client, f"{community.url}/t/{seeded.slug}/{seeded.id}.json")
    assert by_id == by_slug
    first = by_id["post_stream"]["posts"][0]
    assert first["post_number"] == 1
    assert first["cooked"].startswith("<p>")
    assert "<ol>" in first["cooked"]
    assert first["username"] == by_id["details"]["created_by"]["username"] == seeded.author.username
    assert (by_id["id"], by_id["title"], by_id["slug"]) == (seeded.id, seeded.title, seeded.slug)
    assert by_id["category_id"] == seeded.category_id
    assert by_id["tags"] == list(seeded.tags)


async def test_a_message_an_unlisted_a_deleted_and_a_staff_topic_are_listed_and_served(
    community: CommunitySim, client: aiohttp.ClientSession
) -> None:
    """As a site read with an API key answers them: the front door must leave them out."""
    _, last_page = await get_json(client, f"{community.url}/latest.json?page=10")
    listed = {t["id"]: t for t in last_page["topic_list"]["topics"]}
    message, unlisted, deleted, staff = community.seed.not_public
    assert listed[message.id]["archetype"] == "private_message"
    assert listed[unlisted.id]["visible"] is False
    assert deleted.id not in listed  # Discourse lists no deleted topic
    assert listed[staff.id]["category_id"] == staff.category_id
    _, doc = await get_json(client, f"{community.url}/categories.json")
    restricted = {c["id"] for c in doc["category_list"]["categories"] if c["read_restricted"]}
    assert restricted == {staff.category_id}
    _, doc = await get_json(client, f"{community.url}/t/{message.id}.json")
    assert (doc["archetype"], doc["category_id"]) == ("private_message", None)
    assert [u["username"] for u in doc["details"]["allowed_users"]] == [message.author.username]
    _, doc = await get_json(client, f"{community.url}/t/{unlisted.id}.json")
    assert doc["visible"] is False
    _, doc = await get_json(client, f"{community.url}/t/{deleted.id}.json")
    assert doc["deleted_at"] is not None
    assert all(MARKER in t.title for t in community.seed.not_public)
    assert not any(MARKER in t.title + t.posts[0].cooked for t in community.seed.topics)


async def test_some_bulletins_carry_discourse_markup_with_site_relative_links(
    community: CommunitySim, client: aiohttp.ClientSession
) -> None:
    marked = [t for t in community.seed.topics if t.discourse_markup]
    assert 40 <= len(marked) <= 60
    _, doc = await get_json(client, f"{community.url}/t/{marked[0].id}.json")
    cooked = doc["post_stream"]["posts"][0]["cooked"]
    for part in ('class="mention" href="/u/', 'href="/g/support"', 'class="hashtag-cooked"',
                 'href="/tag/', 'class="emoji"', 'class="emoji only-emoji"', 'href="#',
                 'class="discourse-local-date" data-date="'):  # fmt: skip
        assert part in cooked


@pytest.mark.parametrize("path", ["/t/999999.json", "/t/some-slug/999999.json", "/t/abc.json"])
async def test_unknown_topic_is_a_discourse_json_404(
    community: CommunitySim, client: aiohttp.ClientSession, path: str
) -> None:
    status, body = await get_json(client, f"{community.url}{path}")
    assert status == 404
    assert body == {
        "errors": ["The requested URL or resource could not be found."],
        "error_type": "not_found",
    }


async def test_categories_list_every_category_with_its_topic_count(
    community: CommunitySim, client: aiohttp.ClientSession
) -> None:
    _, body = await get_json(client, f"{community.url}/categories.json")
    categories = body["category_list"]["categories"]
    assert {c["name"] for c in categories} >= {"Internet & Wi-Fi", "Billing & Account", "Email"}
    assert sum(c["topic_count"] for c in categories) == 300
    assert all({"id", "name", "slug", "color", "description_text"} <= set(c) for c in categories)


async def test_requests_are_counted_per_path(
    community: CommunitySim, client: aiohttp.ClientSession
) -> None:
    topic_id = community.seed.topics[5].id
    for _ in range(3):
        await get_json(client, f"{community.url}/t/{topic_id}.json")
    await get_json(client, f"{community.url}/latest.json?page=2")
    assert community.requests_for(f"/t/{topic_id}.json") == 3
    assert community.requests_by_path["/latest.json"] == 1
    assert community.requests_total == 4
    community.reset_counters()
    assert community.requests_total == 0


# --- the content -----------------------------------------------------------------------------


def test_seed_is_deterministic_and_a_different_seed_is_different_content() -> None:
    assert [t.title for t in build_seed().topics] == [t.title for t in build_seed().topics]
    assert [t.title for t in build_seed(seed=7).topics] != [t.title for t in build_seed().topics]


def test_seed_has_varied_bulletins_skewed_authors_and_some_hostile_html() -> None:
    seed = build_seed(300)
    topics = seed.topics
    per_author = Counter(t.author.username for t in topics)
    assert len(per_author) >= 40
    top3 = sum(n for _, n in per_author.most_common(3))
    assert top3 >= 60  # a few prolific regulars ...
    assert sum(1 for n in per_author.values() if n <= 2) >= 15  # ... and a long tail
    assert len({t.title for t in topics}) >= 280
    assert len({t.category_id for t in topics}) >= 10
    hostile = [t for t in topics if t.hostile]
    assert 5 <= len(hostile) <= 30
    markers = ("<script", "onerror=", "javascript:", "onmouseover=", "<iframe", "<form", "<style")
    assert all(any(m in t.posts[0].cooked.lower() for m in markers) for t in hostile)
    assert sum(t.has_image for t in topics) >= 10
    assert sum("<code>" in t.posts[0].cooked for t in topics) >= 50
    assert sum("<pre>" in t.posts[0].cooked for t in topics) >= 20
    assert sum('rel="noopener nofollow ugc"' in t.posts[0].cooked for t in topics) >= 50
