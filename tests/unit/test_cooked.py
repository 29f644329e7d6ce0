"""A bulletin as Discourse cooks it reads right on a page that runs no script and loads
nothing remote: emoji and dates as text, links to the community site (issue 19).

tests/data/discourse/cooked_community.html holds a first post as Discourse cooks it:
mentions and group mentions, hashtags, emoji (local, CDN, custom, skin tone, only-emoji),
local dates, a quote with its avatar, an upload's lightbox, fragment, javascript: and
mailto links (shapes from discourse/discourse spec/lib/pretty_text_spec.rb and
plugins/discourse-local-dates/spec/integration/local_dates_spec.rb).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cache import emoji
from cache.cooked import plain
from cache.sanitize import sanitize, topic_url
from cache.text import html_to_text

SITE = "https://community.example.net"
PAGE = topic_url(SITE, "wifi-drops-every-evening", 101)
COOKED = (Path(__file__).parent.parent / "data" / "discourse" / "cooked_community.html").read_text(
    encoding="utf-8"
)
REL = 'rel="noopener noreferrer nofollow ugc"'


@pytest.fixture(scope="module")
def page() -> str:
    return sanitize(COOKED, page_url=PAGE)


@pytest.mark.parametrize(
    "expected",
    [
        f'<a href="{SITE}/u/joe" {REL}>@joe</a>',  # a mention
        f'<a href="{SITE}/g/support" {REL}>@support</a>',  # a group mention
        f'<a href="{SITE}/c/outages/12" {REL}><span></span><span>#outages</span></a>',
        f'<a href="{SITE}/tag/wifi" {REL}><span></span><span>#wifi</span></a>',
        f'<a href="{SITE}/t/router-lights-explained/88" {REL}>the lights topic</a>',
        f'<a href="https://support.example.com/kb/wifi-channels" {REL}>the maker\'s page</a>',
        f'<a href="mailto:help@example.net" {REL}>help@example.net</a>',
        # the lightbox: one link to the original upload, its meta line dropped
        f'<a href="{SITE}/uploads/default/original/2X/3/3f1c.png" title="wireless-settings" '
        f"{REL}>[image: wireless-settings]</a>",
        "Planned work: 5 Dec 2026, 05:32 CET, back by 5 Dec 2026, 09:00 CET",
        "\U0001f64f",  # :pray:
        "\U0001f44d\U0001f3fc",  # :+1:t3:, its skin tone kept
        ":partyparrot:",  # a site's custom emoji: its name
        "<p>\U0001f389</p>",  # an emoji alone in its paragraph
        "Jump to step 2, see",  # a fragment-only link: text
        "never this; write",  # a javascript: link: text
        "<span>@nobody</span>",  # a mention of no account stays text
    ],
)
def test_the_cooked_sample_comes_out_readable_with_links_to_the_community(
    page: str, expected: str
) -> None:
    assert expected in page


@pytest.mark.parametrize(
    "absent",
    ["<img", "avatar", "/user_avatar/", "2026-12-05T04:32:00Z", "142 KB", 'href="/',
     'href="#', "javascript:", "<a rel", "<a title", "emoji", "data-", "class="],
)  # fmt: skip
def test_the_cooked_sample_keeps_nothing_that_needs_discourse(page: str, absent: str) -> None:
    assert absent not in page


def test_every_link_in_the_sample_has_an_address() -> None:
    page = sanitize(COOKED, page_url=PAGE)
    assert page.count("<a ") == page.count("<a href=") == 8
    # without a community site configured, the site's own links are text
    alone = sanitize(COOKED)
    assert alone.count("<a ") == alone.count("<a href=") == 2  # the maker's page, mailto
    assert "@joe" in alone


def test_search_and_excerpts_see_dates_and_emoji_as_words() -> None:
    text = html_to_text(sanitize(COOKED, page_url=PAGE))
    assert "5 Dec 2026, 05:32 CET" in text
    assert "#outages" in text


@pytest.mark.parametrize(
    ("alt", "title", "expected"),
    [
        (":smile:", ":smile:", "\U0001f604"),
        (":man:t2:", None, "\U0001f468\U0001f3fb"),
        (":point_up:t4:", None, "\u261d\U0001f3fd"),  # no VS16 before a skin tone
        (":heart:", None, "\u2764\ufe0f"),
        (":t1_unknown_name:", None, ":t1_unknown_name:"),
        ("", ":wave:", "\U0001f44b"),
        ("a very long alt " * 10, None, ("a very long alt " * 10)[:64].rstrip()),
        (None, None, ""),
    ],
)
def test_an_emoji_is_its_character_else_its_name(
    alt: str | None, title: str | None, expected: str
) -> None:
    assert emoji.as_text(alt, title).rstrip() == expected


def test_images_outside_links_become_links_and_avatars_go() -> None:
    assert plain('<p><img src="/u.png" alt="modem lights"></p>') == (
        '<p><a href="/u.png">[image: modem lights]</a></p>'
    )
    assert plain('<img src="x.png">') == '<a href="x.png">[image]</a>'
    assert plain('<img alt="no source">') == "[image: no source]"
    assert plain('<img class="avatar" src="/user_avatar/a.png">') == ""
    assert plain('<img src="&quot;&gt;&lt;script&gt;" alt="&lt;b&gt;">') == (
        '<a href="&quot;&gt;&lt;script&gt;">[image: &lt;b&gt;]</a>'
    )
