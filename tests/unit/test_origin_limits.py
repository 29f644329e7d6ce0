"""Bounds on what the community site may send (issue 14): bulletin HTML too long or
nested too deep is refused before anything parses it as HTML; excerpts read a bounded
head of the body."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cache.discourse import (
    MAX_COOKED_CHARS,
    MAX_NESTING,
    MAX_TITLE_CHARS,
    ShapeError,
    TooDeepError,
    TooLargeError,
    nesting,
    parse_topic,
)
from cache.text import EXCERPT_SCAN, excerpt_of

TOPIC: dict[str, Any] = json.loads(
    (Path(__file__).parents[1] / "data" / "discourse" / "topic.json").read_text()
)


def topic_with(cooked: str | None = None, title: str | None = None) -> dict[str, Any]:
    doc = copy.deepcopy(TOPIC)
    if cooked is not None:
        doc["post_stream"]["posts"][0]["cooked"] = cooked
    if title is not None:
        doc["title"] = title
    return doc


@pytest.mark.parametrize(
    ("html", "depth"),
    [
        ("", 0),
        ("plain text", 0),
        ("<p>a</p><p>b</p>", 1),
        ("<ul><li><b>x</b></li></ul>", 3),
        ("<p>a<br>b<img src=x><hr/></p>", 1),  # void and self-closed hold nothing
        ("<blockquote>" * 7 + "</blockquote>" * 7, 7),
        ("<div><div><div>", 3),  # left open: counted as holding what follows
        ("</p></p><b>x</b>", 1),  # stray end tags do not go below zero
    ],
)
def test_nesting_counts_elements_inside_elements(html: str, depth: int) -> None:
    assert nesting(html) == depth


def test_nesting_stops_counting_past_the_limit() -> None:
    assert nesting("<i>" * 100_000, limit=10) == 11


@given(st.integers(min_value=0, max_value=300))
def test_nesting_of_n_nested_quotes_is_n(n: int) -> None:
    assert nesting("<blockquote>" * n + "x" + "</blockquote>" * n, limit=1000) == n


def test_the_sample_topic_parses_within_the_limits() -> None:
    assert parse_topic(topic_with(), {}).title == TOPIC["title"]


def test_a_post_nested_past_the_limit_is_refused_as_too_deep() -> None:
    deep = "<blockquote>" * (MAX_NESTING + 1) + "x" + "</blockquote>" * (MAX_NESTING + 1)
    with pytest.raises(TooDeepError, match=r"posts\[0\]\.cooked: elements nested over 100") as e:
        parse_topic(topic_with(cooked=deep), {})
    assert e.value.reason == "too_deep"
    ok = "<blockquote>" * MAX_NESTING + "x" + "</blockquote>" * MAX_NESTING
    assert parse_topic(topic_with(cooked=ok), {}).body_html == ok


def test_a_post_longer_than_the_limit_is_refused_as_too_large() -> None:
    with pytest.raises(TooLargeError, match="characters, over 131072") as e:
        parse_topic(topic_with(cooked="<p>" + "x" * MAX_COOKED_CHARS + "</p>"), {})
    assert e.value.reason == "too_large"
    assert isinstance(e.value, ShapeError)


def test_a_title_longer_than_the_limit_is_refused() -> None:
    with pytest.raises(TooLargeError, match=r"topic\.title"):
        parse_topic(topic_with(title="x" * (MAX_TITLE_CHARS + 1)), {})


def test_an_excerpt_reads_only_the_head_of_a_long_body() -> None:
    head = "<p>" + "word " * 100 + "</p>"
    body = head + "<p>" + "tail " * (EXCERPT_SCAN // 5) + "</p>"
    assert excerpt_of(body) == excerpt_of(head + "<p>more</p>")
    cut = "<p>" + "a" * (EXCERPT_SCAN + 10)  # no tag ends inside the scanned head
    assert excerpt_of(cut).startswith("a" * 100)
    inside = "<p>" + "a " * (EXCERPT_SCAN // 2 - 4) + '<a href="https://example.com/x">b</a>'
    assert "<" not in excerpt_of(inside)
    assert "href" not in excerpt_of(inside)
