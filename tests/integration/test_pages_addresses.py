"""Addresses under /help that are not pages, over real HTTP: the front door in-process
on 127.0.0.1 with the community simulator (and a real redis-server for the callback
form). `/help/` is `/help`; any other unknown address is the branded not-found page in
the customer's language, not aiohttp's bare English 404; the ticket page's address,
`/help/callbacks`, reloaded or reopened leads to the form, not to a bare 405
(docs/pages.md)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest_asyncio

from sims.community import CommunitySim
from switchboard.callbacks_web import TOKEN_FIELD
from tests.integration.test_pages_languages import HTML_TAG, TIMEOUT, fetch, h1
from tests.support.callback_form import CALLBACKS, Rendered
from tests.support.redis import RedisServer
from tests.support.selfhelp_stack import HelpStack, help_stack
from tests.support.stack import FAST_HEALTH, running_stack


@pytest_asyncio.fixture
async def stack(tmp_path: Path) -> AsyncIterator[HelpStack]:
    async with (
        CommunitySim() as community,
        help_stack(tmp_path, redis=None, community=community) as s,
    ):
        yield s


async def test_any_other_address_under_help_is_the_not_found_page_in_the_customers_language(
    stack: HelpStack,
) -> None:
    """Not aiohttp's bare English "404: Not Found": the site's own page, as for a missing
    bulletin; `/help/` is `/help`."""
    async with aiohttp.ClientSession() as s:
        status, headers, _ = await fetch(s, f"{stack.url}/help/")
        assert (status, headers["Location"]) == (308, "/help")
        status, headers, _ = await fetch(s, f"{stack.url}/help/?lang=fr")
        assert (status, headers["Location"]) == (308, "/help?lang=fr")
        for path, lang, title in [
            ("/help/foo", "de", "Seite nicht gefunden"),
            ("/help/callbacks/new/", "fr", "Page introuvable"),
            ("/help/bulletins/1/more", "es", "Página no encontrada"),
            ("/help/search/", "en", "Page not found"),
        ]:
            status, headers, page = await fetch(s, stack.url + path, Accept_Language=lang)
            assert (status, h1(page)) == (404, title), path
            assert headers["Content-Language"] == lang, path
            assert headers["Cache-Control"] == "no-store", path
            tag = HTML_TAG.search(page)
            assert tag is not None
            assert tag.groups() == (lang, "ltr"), path
            # The site's page: its title, stylesheet, footer and language switcher.
            assert f"<title>{title} · " in page, path
            assert "<style>" in page, path
            assert '<footer class="note"><a href="/help">' in page, path
            assert 'href="?lang=' in page, path
        async with s.head(f"{stack.url}/help/foo", headers={"Accept-Language": "de"}) as r:
            assert (r.status, r.headers["Content-Language"]) == (404, "de")
        # A path a route knows with other methods stays a 405, and another method on an
        # unknown path a 404.
        async with s.get(f"{stack.url}/help/bulletins/1/vote") as r:
            assert (r.status, r.headers["Allow"]) == (405, "POST")
        async with s.post(f"{stack.url}/help/foo") as r:
            assert r.status == 404


async def test_the_ticket_pages_address_reopened_leads_to_the_form_in_the_customers_language(
    tmp_path: Path, redis: RedisServer
) -> None:
    """The ticket page (and a refused form) is at /help/callbacks, the address of the
    post: reloaded, bookmarked or reopened, it is a GET there, which leads to the form
    (the ticket is not stored to be shown again), not to aiohttp's bare 405."""
    extra = FAST_HEALTH + f'[redis]\nurl = "{redis.url}"\n' + CALLBACKS
    jar = aiohttp.CookieJar(unsafe=True)
    async with (
        running_stack(tmp_path, extra=extra) as stack,
        aiohttp.ClientSession(cookie_jar=jar, timeout=TIMEOUT) as s,
    ):
        async with s.get(f"{stack.url}/help/callbacks/new?lang=de") as r:
            token = Rendered(await r.text()).values[TOKEN_FIELD]
        fields = {"name": "Ada", "phone": "+14155552671", "topic": "Router", TOKEN_FIELD: token}
        async with s.post(f"{stack.url}/help/callbacks", data=fields) as r:
            assert r.status == 202
        async with s.get(f"{stack.url}/help/callbacks", allow_redirects=False) as r:
            assert (r.status, r.headers["Location"]) == (303, "/help/callbacks/new")
        async with s.get(f"{stack.url}/help/callbacks") as r:  # followed: the cookie's German
            assert (r.status, r.url.path) == (200, "/help/callbacks/new")
            assert r.headers["Content-Language"] == "de"
            page = await r.text()
        assert h1(page) == "Bitten Sie uns um einen Rückruf"
        assert '<form class="callback"' in page
        for asked, location in [("fr", "/help/callbacks/new?lang=fr"),
                                ("xx", "/help/callbacks/new")]:  # fmt: skip
            async with s.get(
                f"{stack.url}/help/callbacks?lang={asked}", allow_redirects=False
            ) as r:
                assert (r.status, r.headers["Location"]) == (303, location)
        async with (
            aiohttp.ClientSession(timeout=TIMEOUT) as fresh,  # no cookie: ?lang= says
            fresh.get(f"{stack.url}/help/callbacks?lang=es") as r,
        ):
            assert (r.status, r.headers["Content-Language"]) == (200, "es")
            assert h1(await r.text()) == "Pídanos que le llamemos"
