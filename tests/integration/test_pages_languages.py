"""Customer pages in the customer's language over real HTTP (issue 19): the front door
in-process on 127.0.0.1 with the community simulator (and a real redis-server for the
callback form). English stays the default; the other languages are asked for with
Accept-Language, chosen with ?lang= (then kept by the cookie), and cached apart."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from http.cookies import SimpleCookie
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from multidict import CIMultiDict

from failover.routing import SELF_HELP
from sims.community import CommunitySim
from switchboard.app import POOL
from switchboard.callbacks_web import TOKEN_FIELD
from tests.support.callback_form import CALLBACKS, Rendered
from tests.support.redis import RedisServer
from tests.support.selfhelp_stack import HelpStack, help_stack
from tests.support.stack import FAST_HEALTH, running_stack, wait_for

TIMEOUT = aiohttp.ClientTimeout(total=10, sock_connect=2, sock_read=10)
HOME_H1 = {
    "en": "How can we help?",
    "fr": "Comment pouvons-nous vous aider\u00a0?",
    "es": "¿En qué podemos ayudarle?",
    "de": "Wie können wir helfen?",
}
HTML_TAG = re.compile(r'<html lang="(\w+)" dir="(\w+)">')


@pytest_asyncio.fixture
async def community() -> AsyncIterator[CommunitySim]:
    async with CommunitySim() as sim:
        yield sim


@pytest_asyncio.fixture
async def stack(tmp_path: Path, community: CommunitySim) -> AsyncIterator[HelpStack]:
    async with help_stack(tmp_path, redis=None, community=community) as s:
        yield s


async def fetch(
    s: aiohttp.ClientSession, url: str, **headers: str
) -> tuple[int, CIMultiDict[str], str]:
    hdrs = {k.replace("_", "-"): v for k, v in headers.items()}
    async with s.get(url, allow_redirects=False, timeout=TIMEOUT, headers=hdrs) as r:
        return r.status, CIMultiDict(r.headers), await r.text()


def h1(page: str) -> str:
    found = re.search(r"<h1>(.*?)</h1>", page, re.S)
    assert found is not None, page[:300]
    return found.group(1)


@pytest.mark.parametrize("lang", ["en", "fr", "es", "de"])
async def test_each_language_is_served_from_accept_language_with_lang_dir_and_headers(
    lang: str, stack: HelpStack
) -> None:
    async with aiohttp.ClientSession() as s:
        status, headers, page = await fetch(
            s, f"{stack.url}/help", Accept_Language=f"{lang}-XX;q=0.9, ja;q=0.8"
        )
        assert status == 200
        assert HTML_TAG.search(page) is not None
        assert HTML_TAG.search(page).groups() == (lang, "ltr")  # type: ignore[union-attr]
        assert h1(page) == HOME_H1[lang]
        assert headers["Content-Language"] == lang
        # and gzip or not (issue 19, cache/encoding.py)
        assert headers["Vary"] == "Accept-Language, Cookie, Accept-Encoding"
        assert "Set-Cookie" not in headers  # only a choice (?lang=) is remembered
        # The switcher: every other language, named in itself, as a plain link.
        for other, name in (("en", "English"), ("fr", "Français"), ("de", "Deutsch")):
            link = f'<a href="?lang={other}" lang="{other}">{name}</a>'
            assert (link in page) is (other != lang), other


async def test_english_is_the_default_for_no_or_unknown_languages(stack: HelpStack) -> None:
    async with aiohttp.ClientSession() as s:
        for asked in (
            {},
            {"Accept_Language": "ja, zh;q=0.9"},
            {"Accept_Language": "x-," * 2600 + "fr"},
        ):
            _, headers, page = await fetch(s, f"{stack.url}/help", **asked)
            assert h1(page) == HOME_H1["en"]
            assert headers["Content-Language"] == "en"
        for hostile in ("?lang=%3Cscript%3E", "?lang=" + "fr" * 2000, "?lang=fr%00", "?lang="):
            status, headers, page = await fetch(
                s, f"{stack.url}/help{hostile}", Cookie='sb_lang="><x'
            )
            assert (status, h1(page), headers["Content-Language"]) == (200, HOME_H1["en"], "en")
            assert "Set-Cookie" not in headers
            assert "<x" not in page


async def test_choosing_a_language_sets_the_cookie_and_later_pages_keep_it(
    stack: HelpStack, community: CommunitySim
) -> None:
    bulletin = community.seed.topics[2]
    url = f"{stack.url}/help/bulletins/{bulletin.id}"
    jar = aiohttp.CookieJar(unsafe=True)  # keeps cookies for an IP address, as browsers do
    async with aiohttp.ClientSession(cookie_jar=jar) as s:
        _, de_headers, de_page = await fetch(s, url, Accept_Language="de")
        assert 'lang="de"' in de_page[:80]

        status, headers, page = await fetch(s, f"{url}?lang=fr", Accept_Language="de")
        assert status == 200
        assert page.startswith('<!doctype html>\n<html lang="fr" dir="ltr">')
        assert "Cela vous a-t-il aidé\u00a0?" in page
        cookie: SimpleCookie = SimpleCookie()
        cookie.load(headers["Set-Cookie"])
        assert cookie["sb_lang"].value == "fr"
        assert cookie["sb_lang"]["path"] == "/help"
        assert cookie["sb_lang"]["httponly"] is True
        assert cookie["sb_lang"]["samesite"] == "Lax"
        assert int(cookie["sb_lang"]["max-age"]) > 30 * 86400
        assert headers["Cache-Control"] == "private, no-cache"  # a shared cache keeps no cookie

        # The next pages keep French whatever Accept-Language says; the bulletin page
        # comes from the French hot path, with its own ETag.
        for _ in range(2):
            status, headers, page = await fetch(s, url, Accept_Language="de")
            assert (status, headers["Content-Language"]) == (200, "fr")
            assert "Cela vous a-t-il aidé\u00a0?" in page
        assert str(bulletin.id) in stack.self_help.fresh_by_lang["fr"]
        assert headers["ETag"] != de_headers["ETag"]
        assert "public" in headers["Cache-Control"]
        status, headers, _ = await fetch(s, url, If_None_Match=headers["ETag"])
        assert status == 304
        status, _, _ = await fetch(s, url, If_None_Match=de_headers["ETag"])
        assert status == 200  # the German page's validator is not the French page's
        _, _, home = await fetch(s, f"{stack.url}/help")
        assert h1(home) == HOME_H1["fr"]


async def test_the_search_switcher_keeps_the_query(stack: HelpStack) -> None:
    async with aiohttp.ClientSession() as s:
        _, _, page = await fetch(
            s, f"{stack.url}/help/search?q=wifi+%26+router", Accept_Language="es"
        )
    assert h1(page) == "Ayuda sobre «wifi &amp; router»"
    assert 'href="/help/search?q=wifi+%26+router&amp;lang=de"' in page


async def test_a_missing_bulletin_says_so_in_the_customers_language(stack: HelpStack) -> None:
    async with aiohttp.ClientSession() as s:
        status, headers, page = await fetch(
            s, f"{stack.url}/help/bulletins/999999", Accept_Language="de"
        )
        assert (status, h1(page)) == (404, "Beitrag nicht gefunden")
        status, headers, text = await fetch(
            s, f"{stack.url}/help/bulletins/abc", Cookie="sb_lang=es"
        )
        assert status == 404
        assert "identificador debe ser un número" in text
        assert headers["Content-Language"] == "es"


async def test_the_outage_banner_gives_date_zone_and_duration_in_each_language(
    stack: HelpStack,
) -> None:
    await stack.callcenter.set_mode("down")
    await wait_for(
        lambda: stack.app[POOL].snapshot().router.current == SELF_HELP,
        within=5,
        what="routing to self-help",
    )
    expected = {
        "en": r"Our call centers are unavailable since \d\d:\d\d UTC on \w{3} \d+, \d{4} "
        r"\(for 1 minute\)\.",
        "fr": r"Nos centres d'appels sont indisponibles depuis le \d+ \S+ \d{4} à \d\d:\d\d UTC "
        r"\(depuis 1 minute\)\.",
        "es": r"Nuestros centros de atención no están disponibles desde el \d+ \w+ \d{4} a las "
        r"\d\d:\d\d UTC \(desde hace 1 minuto\)\.",
        "de": r"Unsere Callcenter sind seit \d\d\.\d\d\.\d{4}, \d\d:\d\d UTC nicht erreichbar "
        r"\(Dauer: 1 Minute\)\.",
    }
    async with aiohttp.ClientSession() as s:
        for lang, pattern in expected.items():
            _, _, page = await fetch(s, f"{stack.url}/help?lang={lang}")
            banner = re.search(r'<p class="banner" role="status"><strong>(.*?)</strong>', page)
            assert banner is not None, page[:2000]
            assert re.fullmatch(pattern, banner.group(1)), banner.group(1)


async def test_the_callback_form_and_its_errors_in_the_customers_language(
    tmp_path: Path, redis: RedisServer
) -> None:
    extra = FAST_HEALTH + f'[redis]\nurl = "{redis.url}"\n' + CALLBACKS
    jar = aiohttp.CookieJar(unsafe=True)
    async with (
        running_stack(tmp_path, extra=extra) as stack,
        aiohttp.ClientSession(cookie_jar=jar, timeout=TIMEOUT) as s,
    ):
        async with s.get(f"{stack.url}/help/callbacks/new?lang=de") as r:
            page = await r.text()
            assert r.headers["Cache-Control"] == "no-store"  # still: a form token is inside
            assert r.headers["Content-Language"] == "de"
        assert h1(page) == "Bitten Sie uns um einen Rückruf"
        assert 'href="/help/callbacks/new?lang=fr"' in page
        token = Rendered(page).values[TOKEN_FIELD]
        fields = {"name": "Ada", "phone": "12345", "topic": "Router", TOKEN_FIELD: token}
        async with s.post(f"{stack.url}/help/callbacks", data=fields) as r:
            assert r.status == 422
            refused = Rendered(await r.text())
        assert refused.errors["phone"].startswith("keine gültige Telefonnummer für die Region US")
        (summary,) = refused.alerts  # the error summary (issue 19), in German
        assert summary.startswith("Bitte prüfen Sie diese Felder Telefonnummer: keine gültige")
        assert summary.endswith("Noch wurde nichts gesendet; Ihre Eingaben bleiben erhalten.")
        # JSON clients get English whatever the cookie says.
        async with s.post(
            f"{stack.url}/help/callbacks", json={"name": "Ada", "topic": "x", "phone": "12345"}
        ) as r:
            assert r.status == 422
            assert (await r.json())["fields"]["phone"].startswith("not a valid phone number")
        async with s.post(
            f"{stack.url}/help/callbacks", data=fields | {"phone": "+14155552671"}
        ) as r:
            assert r.status == 202
            accepted = await r.text()
        assert h1(accepted) == "Wir rufen Sie zurück"
        assert 'Ihre Vorgangsnummer ist <strong class="ticket">cb_' in accepted


async def test_the_form_over_the_limit_says_how_long_to_wait_in_the_customers_words(
    tmp_path: Path, redis: RedisServer
) -> None:
    extra = (
        FAST_HEALTH
        + f'[redis]\nurl = "{redis.url}"\n'
        + CALLBACKS
        + "[limits]\ncallbacks_burst = 1\n"
    )
    jar = aiohttp.CookieJar(unsafe=True)
    async with (
        running_stack(tmp_path, extra=extra) as stack,
        aiohttp.ClientSession(cookie_jar=jar, timeout=TIMEOUT) as s,
    ):
        answers = []
        for i in range(2):
            async with s.get(f"{stack.url}/help/callbacks/new?lang=es") as r:
                token = Rendered(await r.text()).values[TOKEN_FIELD]
            form = {"name": f"Ada {i}", "phone": "+14155552671", "topic": "x", TOKEN_FIELD: token}
            async with s.post(f"{stack.url}/help/callbacks", data=form) as r:
                answers.append((r.status, Rendered(await r.text())))
        assert answers[0][0] == 202
        status, page = answers[1]
        assert status == 429
        assert page.values["name"] == "Ada 1"
        (alert,) = page.alerts
        assert alert.startswith(
            "Lo sentimos: demasiadas solicitudes de llamada desde su red. No se ha enviado "
            "nada y lo que ha escrito se conserva abajo. Vuelva a intentarlo dentro de "
        ), alert
        assert re.search(r"dentro de \d+\s(segundos|minutos?|horas?)\.$", alert), alert
