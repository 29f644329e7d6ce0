"""What every self-help page answers with: the page with its caching, language and
compression headers (or a 304), the static page, a 404, and the page of last resort."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Final
from urllib.parse import quote

from aiohttp import hdrs, web

from cache.conditional import not_modified
from cache.encoding import wants_gzip
from cache.jsonshape import MAX_ID
from cache.languages import N_
from cache.pagelang import VARY, answered_in, language_headers, language_of
from cache.prerender import STATIC_CACHE_CONTROL
from cache.rendered import Page
from cache.site import SELF_HELP, HelperOf, SelfHelp, on_pages

log = logging.getLogger("switchboard.selfhelp")

VARY_GZ: Final = VARY + ", Accept-Encoding"  # a page with a gzip copy (cache/encoding.py)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def answer(
    request: web.Request,
    page: Page,
    *,
    cache: str,
    lang: str,
    age_s: int | None = None,
    status: int = 200,
) -> web.Response:
    body, etag = page.body, page.etag
    headers = {"Cache-Control": cache}
    # With a gzip copy, two representations: Vary (VARY_GZ, below) says what picks one.
    if page.gzip is not None and wants_gzip(request.headers.get(hdrs.ACCEPT_ENCODING)):
        body, etag = page.gzip, page.gzip_etag
        headers["Content-Encoding"] = "gzip"
    headers["ETag"] = etag
    if age_s is not None:
        headers["Age"] = str(age_s)
    response: web.Response
    if status == 200 and not_modified(request.headers.get("If-None-Match"), etag):
        headers.pop("Content-Encoding", None)
        response = web.Response(status=304, headers=headers)
    else:
        response = web.Response(
            body=body, status=status, headers=headers, content_type="text/html",
            charset="utf-8",
        )  # fmt: skip
    vary = VARY if page.gzip is None else VARY_GZ
    answered_in(request, response, lang, request.app[SELF_HELP].negotiator, vary=vary)
    return response


def continue_to_of(request: web.Request) -> str | None:
    """Only a link back into /support/ on this site: never an open redirect."""
    path = request.query.get("continue")
    if not path or not path.startswith("/support/") or "//" in path or "\\" in path:
        return None
    return quote(path, safe="/-_.~") + "?sb_continue=1"


def static(request: web.Request, sh: SelfHelp, lang: str) -> web.Response:
    return answer(request, sh.shed.static_page(sh, lang), cache=STATIC_CACHE_CONTROL, lang=lang)


def bulletin_id_of(request: web.Request, sh: SelfHelp) -> int:
    try:
        value = int(request.match_info["id"])
    except ValueError:
        raise _no_such(request, sh, N_("No such bulletin: the id must be a number.")) from None
    if not 0 < value <= MAX_ID:
        raise _no_such(request, sh, N_("No such bulletin."))
    return value


def _no_such(request: web.Request, sh: SelfHelp, reason: str) -> web.HTTPNotFound:
    lang = language_of(request, sh.negotiator)
    return web.HTTPNotFound(text=sh.languages[lang].gettext(reason), headers=language_headers(lang))


def not_found(
    request: web.Request, sh: SelfHelp, *, here: str = "", lang: str | None = None
) -> web.Response:
    language = sh.language(request) if lang is None else sh.languages[lang]
    page = sh.render(
        "unavailable.html",
        lang=language.code,
        here=here,
        title=language.gettext(N_("Bulletin not found")),
        message=language.gettext(
            N_("We could not find that bulletin. Try searching for your topic instead.")
        ),
        query="",
        continue_to=None,
        stale_age=None,
    )
    return answer(request, page, cache="no-store", status=404, lang=language.code)


PAGE_NOT_FOUND: Final = (
    N_("Page not found"),
    N_("We could not find that page. Try searching for your topic instead."),
)


def missing_page(request: web.Request, sh: SelfHelp) -> web.Response:
    """Any other address under /help (cache/web.py `unknown`): the not-found page,
    branded and in the customer's language. It is the same for every such address (its
    switcher links to `?lang=` on the address itself), so it is rendered once per
    language and banner and kept, as the list pages are: a stream of made-up addresses
    costs a lookup each, not a render."""
    language = sh.language(request)
    key = ("missing", sh.banner_key(), language.code)
    page = sh.lists.get(key)
    if page is None:
        title, message = PAGE_NOT_FOUND
        page = sh.render(
            "unavailable.html",
            lang=language.code,
            here="",
            title=language.gettext(title),
            message=language.gettext(message),
            query="",
            continue_to=None,
            stale_age=None,
        )
        sh.lists[key] = page
    return answer(request, page, cache="no-store", status=404, lang=language.code)


def counted(handler: Handler, of: HelperOf = on_pages) -> Handler:
    """Counted in flight while it runs (the overload monitor's second signal): for
    handlers that may wait on Redis or the community site, not on the client. `of`: how
    the handler finds the `SelfHelp` (cache/site.py)."""

    async def counting(request: web.Request) -> web.StreamResponse:
        in_flight = of(request).in_flight
        in_flight.enter()
        try:
            return await handler(request)
        finally:
            in_flight.leave()

    return counting


LIMITED: Final = N_("Help is limited right now. Please try again in a moment: /help")


def limited(request: web.Request) -> web.Response:
    log.exception("self-help page %s failed", request.path)
    text = LIMITED
    try:  # in the customer's language if that still works: this is the page of last resort
        text = request.app[SELF_HELP].language(request).gettext(LIMITED)
    except Exception:
        log.exception("self-help: no language for the limited page")
    return web.Response(text=text + "\n", headers={"Cache-Control": "no-store"})
