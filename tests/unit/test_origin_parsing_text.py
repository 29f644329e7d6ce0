"""Discourse HTML to plain text and excerpts: visible words only, never script, bounded."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cache.origin import (
    excerpt_of,
    html_to_text,
)
from sims.community_text import HOSTILE
from tests.support.discourse_samples import sample

# --- HTML to text ----------------------------------------------------------------------------


def test_text_keeps_visible_words_and_unescapes_entities() -> None:
    cooked = '<p>Use <code>192.168.1.1</code> &amp; <a href="https://x.example">this</a>.</p>'
    assert html_to_text(cooked) == "Use 192.168.1.1 & this."


def test_text_separates_blocks_and_list_items() -> None:
    assert html_to_text("<p>One</p><ul><li>two</li><li>three</li></ul>four<br>five") == (
        "One two three four five"
    )


def test_text_drops_the_lightbox_meta_under_an_upload() -> None:
    text = html_to_text(sample("topic.json")["post_stream"]["posts"][0]["cooked"])
    assert "Set the 2.4 GHz channel to 1" in text
    assert "142 KB" not in text
    assert "wireless-settings" not in text


@pytest.mark.parametrize("payload", HOSTILE)
def test_text_of_hostile_html_carries_no_script(payload: str) -> None:
    text = html_to_text(f"<p>Before.</p>{payload}<p>After.</p>")
    assert text.startswith("Before.")
    for marker in ("alert(", "fetch(", "document.", "display:none", "<", "javascript:"):
        assert marker not in text


def test_excerpt_of_short_text_is_the_whole_text() -> None:
    assert excerpt_of("<p>Reboot   the\nrouter.</p>") == "Reboot the router."


def test_excerpt_of_long_text_is_cut_at_a_word_with_an_ellipsis() -> None:
    words = " ".join(f"word{i}" for i in range(200))
    excerpt = excerpt_of(f"<p>{words}</p>", limit=50)
    assert excerpt == "word0 word1 word2 word3 word4 word5 word6 word7…"


@given(st.text(max_size=400))
def test_text_of_any_markup_is_collapsed_and_never_raises(markup: str) -> None:
    text = html_to_text(markup)
    assert text == text.strip()
    assert "  " not in text
    assert "\n" not in text


@given(st.text(alphabet=st.characters(categories=("L", "N")), min_size=1, max_size=40))
def test_script_and_style_content_never_becomes_text(secret: str) -> None:
    markup = f"<p>ok</p><script>{secret}</script><style>{secret}</style><svg>{secret}</svg>"
    assert html_to_text(markup) == "ok"


@given(st.text(max_size=2000), st.integers(min_value=10, max_value=400))
def test_excerpt_never_exceeds_its_limit_plus_the_ellipsis(markup: str, limit: int) -> None:
    assert len(excerpt_of(markup, limit=limit)) <= limit + 1
