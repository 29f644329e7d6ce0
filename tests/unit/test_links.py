"""Bulletin links lead to the community site or nowhere: never to the front door's host,
never to a script, and an anchor without an address is text (issue 19)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cache.links import resolve, unwrap_bare_anchors
from cache.sanitize import sanitize, topic_url

SITE = "https://community.example.net"
PAGE = topic_url(SITE, "wifi-drops-every-evening", 101)


@pytest.mark.parametrize(
    ("href", "expected"),
    [
        # Discourse's own site-relative links (spec/lib/pretty_text_spec.rb shapes)
        ("/u/joe", f"{SITE}/u/joe"),  # a mention
        ("/g/support", f"{SITE}/g/support"),  # a group mention
        ("/groups/support", f"{SITE}/groups/support"),  # the same on older sites
        ("/c/outages/12", f"{SITE}/c/outages/12"),  # a category hashtag
        ("/tag/wifi", f"{SITE}/tag/wifi"),  # a tag hashtag
        ("/uploads/default/original/2X/3/3f.png", f"{SITE}/uploads/default/original/2X/3/3f.png"),
        ("/t/other-topic/202/3", f"{SITE}/t/other-topic/202/3"),
        # relative to the topic's page, as a browser on it would resolve them
        ("other/5", f"{SITE}/t/wifi-drops-every-evening/other/5"),
        ("?page=2", f"{PAGE}?page=2"),
        ("  /u/joe\n", f"{SITE}/u/joe"),
        ("/u/jo\te", f"{SITE}/u/joe"),  # browsers drop tabs and newlines anywhere
        # protocol-relative: the community's scheme, the host it names
        ("//cdn.example.net/x.png", "https://cdn.example.net/x.png"),
        # absolute ones stay as they are
        ("https://support.example.com/kb/1", "https://support.example.com/kb/1"),
        ("http://example.org/a#b", "http://example.org/a#b"),
        ("mailto:help@example.net", "mailto:help@example.net"),
        # refused
        ("#heading", None),  # points into Discourse's page, not ours
        ("", None),
        ("   ", None),
        ("javascript:alert(1)", None),
        ("JaVaScRiPt:alert(1)", None),
        ("java\tscript:alert(1)", None),
        ("java\nscript:alert(1)", None),
        ("\x01javascript:alert(1)", None),
        ("data:text/html;base64,PHNjcmlwdD4=", None),
        ("vbscript:msgbox", None),
        ("ftp://files.example.net/x", None),
        ("https://bank.example@evil.example/", None),  # credentials: a phishing trick
        ("/\\evil.example/", None),  # "\" is "/" to browsers: a protocol-relative link
        ("https:///nohost", None),
        ("http://[::1/", None),  # not a URL
        ("http://host.example:99999/", None),  # a port out of range
        ("/" + "a" * 3000, None),
    ],
)
def test_a_link_resolves_against_the_topic_page_and_is_checked_again(
    href: str, expected: str | None
) -> None:
    assert resolve(href, PAGE) == expected


@pytest.mark.parametrize(
    ("slug", "page"),
    [
        ("wifi-drops", f"{SITE}/t/wifi-drops/7"),
        ("", f"{SITE}/t/topic/7"),
        ("../../admin?x=1#y", f"{SITE}/t/..%2F..%2Fadmin%3Fx%3D1%23y/7"),
        ("%D0%B2%D0%B0", f"{SITE}/t/%D0%B2%D0%B0/7"),  # Discourse's encoded slugs stay
    ],
)
def test_the_topic_page_is_built_from_the_site_and_a_quoted_slug(slug: str, page: str) -> None:
    assert topic_url(f"{SITE}/", slug, 7) == page
    assert resolve("x", page) == page.rsplit("/", 1)[0] + "/x"  # relative: on the site


@pytest.mark.parametrize("href", ["/u/joe", "other/5", "?page=2", "//cdn.example.net/x"])
def test_without_a_community_site_only_absolute_links_survive(href: str) -> None:
    assert resolve(href, None) is None
    assert resolve("https://example.org/", None) == "https://example.org/"


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ('<a rel="ugc">text</a>', "text"),
        ('<a href="https://x.test/" rel="u">k</a>', '<a href="https://x.test/" rel="u">k</a>'),
        ('<a title="a>b" rel="ugc"><b>bold</b></a>', "<b>bold</b>"),
        # html5ever keeps an <a> in a table cell inside another <a>: ends match their starts
        (
            '<a href="https://x.example/" rel="u">o<table><tr><td><a rel="u">in</a></td></tr>'
            "</table>after</a>",
            '<a href="https://x.example/" rel="u">o<table><tr><td>in</td></tr></table>after</a>',
        ),
        ("<abbr>no anchors</abbr>", "<abbr>no anchors</abbr>"),
    ],
)  # fmt: skip
def test_an_anchor_without_an_address_becomes_its_text(html: str, expected: str) -> None:
    assert unwrap_bare_anchors(html) == expected


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.anchors: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self.anchors.append(dict(attrs))


def _anchors(html: str) -> list[dict[str, str | None]]:
    parser = _Anchors()
    parser.feed(html)
    parser.close()
    return parser.anchors


def _assert_links_lead_to_allowed_places(html: str) -> None:
    for anchor in _anchors(html):
        href = anchor.get("href")
        assert href, f"an <a> without href: {html!r}"
        parts = urlsplit(href)
        assert parts.scheme in ("http", "https", "mailto"), href
        if parts.scheme != "mailto":
            assert parts.hostname, href
            assert "@" not in parts.netloc, href


_HREFS = st.one_of(
    st.sampled_from(
        ["/u/joe", "#x", "javascript:alert(1)", "//evil.example/", "java&#x09;script:x",
         "&#106;avascript:x", "data:,x", "mailto:a@b", "https://a@b/", "/\\x", "x/../../y", ""]
    ),
    st.text(alphabet=st.sampled_from(list("/\\:#?@.%&;jJavsript \t\n\x00x12")), max_size=30),
)  # fmt: skip


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_HREFS, st.sampled_from(["a", "img", "area"])), max_size=6))
def test_hostile_addresses_never_come_out_as_links_outside_http_https_or_mailto(
    links: list[tuple[str, str]],
) -> None:
    html = "".join(
        f'<{tag} href="{href}" src="{href}">t</{tag}>' if tag != "img" else f'<img src="{href}">'
        for href, tag in links
    )
    for page in (PAGE, None):
        _assert_links_lead_to_allowed_places(sanitize(html, page_url=page))


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("<>/=\"' ahrefimgsc:#jv&;\t")), max_size=150))
def test_any_anchor_soup_leaves_only_anchors_with_allowed_addresses(text: str) -> None:
    _assert_links_lead_to_allowed_places(sanitize(text, page_url=PAGE))


def test_no_link_points_at_the_front_door_even_when_the_cooked_html_names_no_host() -> None:
    cooked = '<p><a class="mention" href="/u/joe">@joe</a> <a href="t/1">t</a></p>'
    for anchor in _anchors(sanitize(cooked, page_url=PAGE)):
        assert (anchor["href"] or "").startswith(f"{SITE}/")
    assert re.fullmatch(r"<p>@joe t</p>", sanitize(cooked))  # no site: text, not dead links
