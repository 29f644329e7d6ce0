"""The language of a customer page's request and answer (issue 19; the rules are in
cache/negotiate.py, the catalogs in cache/languages.py).

A page differs by language, so every answer says what it was chosen from: `Vary:
Accept-Language, Cookie` (a shared cache keeps one copy per language asked, and a
browser's copy is not reused after a switch) and `Content-Language`. Each language's
page has its own bytes, so its own ETag. A `?lang=` choice is remembered in the
`sb_lang` cookie (a year, /help only, not readable by scripts); an answer that sets it
is `private` (unless it is `no-store` anyway), so no shared cache hands the cookie to someone else.
"""

from __future__ import annotations

from typing import Final

from aiohttp import hdrs, web
from multidict import istr

from cache.negotiate import COOKIE, QUERY, Negotiator

VARY: Final = "Accept-Language, Cookie"
VARY_KEY: Final = istr("Vary")
CONTENT_LANGUAGE_KEY: Final = istr("Content-Language")
COOKIE_MAX_AGE: Final = 365 * 24 * 3600
COOKIE_PATH: Final = "/help"
PRIVATE: Final = "private, no-cache"


def language_of(request: web.Request, negotiator: Negotiator) -> str:
    """`?lang=`, else the cookie, else Accept-Language, else the default."""
    if request.query_string:
        chosen = negotiator.chosen(request.query.get(QUERY))
        if chosen is not None:
            return chosen
    headers = request.headers
    return negotiator.from_headers(headers.get(hdrs.COOKIE), headers.get(hdrs.ACCEPT_LANGUAGE))


def language_headers(lang: str) -> dict[istr, str]:
    return {VARY_KEY: VARY, CONTENT_LANGUAGE_KEY: lang}


def answered_in(
    request: web.Request,
    response: web.StreamResponse,
    lang: str,
    negotiator: Negotiator,
    *,
    vary: str = VARY,
) -> web.StreamResponse:
    """The language headers, and the cookie when the customer chose this language now.
    `vary`: what else picks the answer besides the language, if anything (the encoding)."""
    headers = response.headers
    headers[VARY_KEY] = vary
    headers[CONTENT_LANGUAGE_KEY] = lang
    if request.query_string and negotiator.chosen(request.query.get(QUERY)) == lang:
        response.set_cookie(
            COOKIE,
            lang,
            max_age=COOKIE_MAX_AGE,
            path=COOKIE_PATH,
            httponly=True,
            samesite="Lax",
            secure=request.secure,
        )
        if "no-store" not in headers.get(hdrs.CACHE_CONTROL, ""):
            headers[hdrs.CACHE_CONTROL] = PRIVATE
    return response
