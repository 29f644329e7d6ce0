"""Every customer page template in every shipped language (issue 19): it renders (no
undefined name), says its language on <html>, and has no English left in a translated
page: any text or label that reads the same in English and in another language, other
than what the data put there (titles, names, the query), is a string the catalog missed.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html.parser import HTMLParser
from types import SimpleNamespace
from typing import Any

import jinja2
import pytest

from cache.languages import DEFAULT, Languages
from cache.model import Bulletin
from cache.pages import Brand, FooterLink
from cache.rendered import Outage
from cache.web import TEMPLATES
from failover.callbacks.request import LIMITS

LANGUAGES = Languages.load(jinja2.FileSystemLoader(TEMPLATES))
OTHERS = [lang for lang in LANGUAGES if lang != DEFAULT]
SINCE = datetime(2026, 12, 5, 5, 32, tzinfo=UTC)
BULLETIN = Bulletin(
    id=7, title="Router blinks orange", slug="router-blinks", author="ada",
    author_name="Ada Lovelace", category="Internet", tags=("router",),
    excerpt="Hold reset ten seconds", body_html="<p>Hold reset ten seconds.</p>",
    created_at=SINCE, updated_at=SINCE,
)  # fmt: skip
DATA = {  # what the data puts on a page: the same in every language
    BULLETIN.title, BULLETIN.author_name, BULLETIN.category, BULLETIN.excerpt,
    "zyxel", "zyxel modem", "cb_abcdefghijklmnop", "+14155552671", "after 18:00",
    "Acme", "Engineers are on site",  # the operator's words, as typed
}  # fmt: skip
BRAND = Brand(  # [branding]: the company's name and the footer's links, built-in labels
    name="Acme", links=tuple(FooterLink(kind=k, url="/x") for k in ("status", "privacy", "contact"))
)
SAME = {"Support", "No", "UTC"}  # translations that read as the English (de, es)
COMMON: dict[str, Any] = {
    "outage": Outage(active=True, since=SINCE, message="Engineers are on site."),
    "brand": BRAND,
    "outage_for": 25 * 60,
    "callbacks": True,
    "here": "",
    "query": "",
    "continue_to": None,
    "stale_age": None,
}
PAGES: dict[str, dict[str, Any]] = {
    "help.html": {
        "trending": [BULLETIN], "top": [BULLETIN], "hits": {7: 3},
        "continue_to": "/support/x?sb_continue=1",
    },
    "search.html": {
        "query": "zyxel",
        "corrected": "zyxel modem",
        "results": [SimpleNamespace(id=7, title=BULLETIN.title, snippet=(("zyxel", True),))],
    },
    "search.html#none": {"query": "zyxel", "corrected": None, "results": []},
    "bulletin.html": {
        "bulletin": BULLETIN, "body": BULLETIN.body_html, "related": [BULLETIN], "views": 2,
        "voted": True, "stale_age": 400,
    },
    "authors.html": {
        "authors": [{"author": "ada", "author_name": "Ada Lovelace", "bulletins": 2, "hits": 1}]
    },
    "static.html": {"bulletins": [BULLETIN]},
    "static.html#none": {"bulletins": []},
    "unavailable.html": {"title": "Router blinks orange", "message": "Hold reset ten seconds."},
    "callback_form.html": {
        "form_token": "t", "values": {"phone": "+14155552671"}, "limits": LIMITS,
        "region": "US", "errors": {"phone": BULLETIN.excerpt, "contact": BULLETIN.title},
        "problem": {"title": "Router blinks orange", "text": "Hold reset ten seconds."},
    },
    "callback_accepted.html": {
        "ticket": "cb_abcdefghijklmnop", "contact": "+14155552671",
        "preferred_time": "after 18:00",
    },
}  # fmt: skip


class Shown(HTMLParser):
    """The text a customer reads or hears: text nodes and the labels of controls."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.lang: str | None = None
        self.texts: set[str] = set()
        self._skip = 0
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang")
        if tag in ("style", "script"):
            self._skip += 1
        for name in ("placeholder", "aria-label", "title", "alt"):
            if a.get(name):
                self.texts.add(str(a[name]))

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        text = " ".join(data.split()).strip(" ·.,:;()“”")
        if not self._skip and any(c.isalpha() for c in text):
            self.texts.add(text)


def render(lang: str, page: str) -> str:
    name = page.partition("#")[0]
    return LANGUAGES[lang].env.get_template(name).render(**(COMMON | PAGES[page]))


@pytest.mark.parametrize("page", sorted(PAGES))
@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_every_page_renders_in_every_language(lang: str, page: str) -> None:
    shown = Shown(render(lang, page))
    assert shown.lang == lang


@pytest.mark.parametrize("page", sorted(PAGES))
@pytest.mark.parametrize("lang", OTHERS)
def test_no_english_is_left_on_a_translated_page(lang: str, page: str) -> None:
    english = Shown(render(DEFAULT, page)).texts
    translated = Shown(render(lang, page)).texts
    names = {language.name for language in LANGUAGES.values()}  # the switcher's
    left = {
        text
        for text in english & translated
        if text not in SAME | names and not any(d in text for d in DATA)
    }
    assert not left, f"{page} in {lang}: not translated: {sorted(left)}"


@pytest.mark.parametrize("lang", list(LANGUAGES))
def test_the_static_page_has_no_search_and_promises_no_answers_it_does_not_have(
    lang: str,
) -> None:
    """In the static stage a search answers the static page itself: no search box. With
    no answers to show, neither the outage banner nor the page says they are below; the
    callback button stays."""
    gettext = LANGUAGES[lang].gettext
    below = [
        gettext("The answers customers wrote for each other are below."),
        gettext("This is a simpler help page: the answers customers read most are below, in full."),
    ]
    full, empty = render(lang, "static.html"), render(lang, "static.html#none")
    for page in (full, empty):
        assert 'role="search"' not in page
        assert 'action="/help/search"' not in page
    assert all(promise in full for promise in below)  # there are answers below: said so
    assert not [promise for promise in below if promise in empty]
    assert '<a class="button cta" href="/help/callbacks/new">' in empty
    assert empty.count("<h1>") == 1  # a heading still, not "Most-read answers"
    assert f"<h1>{gettext('Most-read answers')}</h1>" not in empty
    assert 'role="search"' in render(lang, "help.html")  # the other pages keep it


def test_the_callback_form_leaves_checking_to_the_server() -> None:
    """The browser's own check refuses what the server takes (an email address with "ö"
    in it) with its own popup; the server checks every field and says why beside it."""
    page = render(DEFAULT, "callback_form.html")
    form = re.search(r'<form class="callback"[^>]*>', page)
    assert form is not None
    assert " novalidate" in form.group(0)
    assert 'type="email"' in page  # the keyboard with "@"
