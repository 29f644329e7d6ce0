"""Bulletin search (SQLite FTS5, in-process): building the index, relevance, popularity."""

from __future__ import annotations

import re
import sqlite3

import pytest

from cache import search as search_module
from cache.search import (
    ALPHA,
    MAX_LIMIT,
    SearchIndex,
    SearchResult,
    SearchUnavailableError,
    html_to_text,
)
from sims.bulletins import bulletin
from tests.support import search_corpus
from tests.support.search_corpus import (
    BILLING,
    CAFE,
    FIRMWARE_GUIDE,
    HANDFUL,
    HOSTILE,
    HOSTILE_HTML,
    MODEM_LONG,
    MODEM_SHORT,
    NEEDLE,
    REMOTE,
    SEEDED,
    WIFI_DROPPING,
    ids,
    texts,
)

# The shared index fixtures (tests/support/search_corpus.py), bound here so pytest finds them.
small = search_corpus.small
community = search_corpus.community
seeded_index = search_corpus.seeded_index


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
