"""Bulletin search queries: prefix while typing, typo correction, hostile input, properties.

Run as a script for timings: `.venv/bin/python -m tests.unit.test_search_queries`.
"""

from __future__ import annotations

import random
import re
import statistics
import sys
import time
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cache.model import Bulletin
from cache.search import (
    MAX_CORRECTIONS,
    MAX_LIMIT,
    MAX_TERMS,
    SearchIndex,
    SearchResult,
)
from sims.bulletins import bulletin, generated_hits
from tests.support import search_corpus
from tests.support.search_corpus import (
    BILLING,
    FIRMWARE_GUIDE,
    HANDFUL,
    HOSTILE,
    SEEDED,
    SEEDED_IDS,
    SYNTHETIC,
    SYNTHETIC_IDS,
    WIFI_DROPPING,
    ids,
    texts,
)

# The shared index fixtures (tests/support/search_corpus.py), bound here so pytest finds them.
small = search_corpus.small
community = search_corpus.community
seeded_index = search_corpus.seeded_index


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
