"""Bulletin HTML is customer-written: nothing in it may run, frame, submit or restyle."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cache.sanitize import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, URL_SCHEMES, sanitize

CORPUS = [
    line
    for line in (Path(__file__).parent.parent / "data" / "xss_corpus.txt")
    .read_text(encoding="utf-8")
    .splitlines()
    if line.strip()
]
# What must never survive, in any letter case.
FORBIDDEN = re.compile(
    r"<\s*(script|iframe|frame|object|embed|form|input|button|style|link|meta|base|svg|math"
    r"|img|body)\b|\bon[a-z]+\s*=|javascript:|vbscript:|data:|\bstyle\s*=|\bsrcdoc\b"
    r"|\bclass\s*=|\bid\s*=",
    re.IGNORECASE,
)


@pytest.mark.parametrize("payload", CORPUS)
def test_xss_corpus_entry_leaves_nothing_active(payload: str) -> None:
    cleaned = sanitize(payload)
    assert not FORBIDDEN.search(cleaned), cleaned


def test_help_article_formatting_survives() -> None:
    html = (
        "<h2>Fix</h2><p>Open <strong>Settings</strong> then <em>Wi-Fi</em>:</p>"
        "<ol><li>Channel <code>6</code></li><li>Save</li></ol>"
        '<p>See <a href="https://example.com/guide">the guide</a>.</p>'
    )
    cleaned = sanitize(html)
    for kept in ("<h2>Fix</h2>", "<strong>Settings</strong>", "<ol>", "<code>6</code>"):
        assert kept in cleaned
    assert 'href="https://example.com/guide"' in cleaned


def test_links_are_marked_user_generated_and_cannot_reach_the_opener() -> None:
    cleaned = sanitize('<a href="https://example.com/">x</a>')
    assert 'rel="noopener noreferrer nofollow ugc"' in cleaned


def test_images_become_links_so_reading_a_bulletin_loads_nothing_remote() -> None:
    cleaned = sanitize('<p><img src="https://cdn.example/router.png" alt="router"></p>')
    assert "<img" not in cleaned
    assert 'href="https://cdn.example/router.png"' in cleaned


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


def _only_allowed_markup(html: str) -> None:
    parser = _Elements()
    parser.feed(html)
    for tag, attrs in parser.found:
        assert tag in ALLOWED_TAGS, tag
        allowed = ALLOWED_ATTRIBUTES.get(tag, set()) | {"rel"}
        for name, value in attrs:
            assert name in allowed, (tag, name)
            if name == "href" and value and ":" in value.split("/", 1)[0]:
                assert value.split(":", 1)[0].lower() in URL_SCHEMES, value


@given(st.text(alphabet=st.sampled_from(list("<>/=\"' :ajvscriptonerrohimg")), max_size=120))
def test_any_markup_soup_comes_out_with_only_allowed_tags_and_attributes(text: str) -> None:
    _only_allowed_markup(sanitize(text))


@pytest.mark.parametrize("payload", CORPUS)
def test_xss_corpus_entry_comes_out_with_only_allowed_markup(payload: str) -> None:
    _only_allowed_markup(sanitize(payload))
