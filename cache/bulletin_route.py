"""`GET /help/bulletins/<id>`, the hot path: a fresh page rendered before is sent as it
is, from `SelfHelp.fresh_by_lang`; otherwise the service is asked (cache/service.py), and
a fresh copy's page is kept for the next customers until it stops being fresh or the
banner's duration steps on (cache/when.py). Shedding load, a page rendered before or the
static page (cache/prerender.py). Timed, counted and guarded by the app's wrapper
(monitoring/http.py), with `limited` as its fallback and `hot_page` tried first."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from aiohttp import hdrs, web
from multidict import istr

from cache.answers import answer, bulletin_id_of, not_found, static
from cache.conditional import not_modified
from cache.encoding import wants_gzip
from cache.freshness import Freshness, age
from cache.hotpage import fresh_page
from cache.model import Bulletin
from cache.pagelang import language_headers, language_of
from cache.prerender import bulletin_page
from cache.rendered import Page
from cache.service import NotInCatalog
from cache.site import PAGE_CACHE_SIZE, SELF_HELP, SelfHelp
from cache.when import next_step

ROUTE: Final = "help_bulletin"
_EXPECT: Final = istr(hdrs.EXPECT)  # a CIMultiDict takes an istr key faster


def hot_page(request: web.Request) -> web.Response | None:
    """The route's fast answer (what `hot_ahead` did not answer before routing)."""
    if request.query_string:  # ?lang=, ?voted=1: the slower path
        return None
    return _hot(request.app[SELF_HELP], request.match_info["id"], request)


def hot_ahead(app: web.Application, mount: str) -> Callable[[web.BaseRequest], web.Response | None]:
    """The hot path before routing, for the server (`Observed.ahead`): a `GET` whose
    target is exactly `<mount>/bulletins/<id>` as a hot page is keyed (no query, no
    escapes, no trailing slash) and with no `Expect`, answered from `app` (the self-help
    app, mounted at `mount`) once it has its `SelfHelp`. Anything else, None: the
    router."""
    prefix = mount + "/bulletins/"
    cut = len(prefix)

    def ahead(request: web.BaseRequest) -> web.Response | None:
        raw = request.raw_path  # the target as sent, query included: no key has a "?"
        if request.method != hdrs.METH_GET or not raw.startswith(prefix):
            return None
        if _EXPECT in request.headers:  # the router's expect handler: 100 Continue or 417
            return None
        sh = app.get(SELF_HELP)
        return None if sh is None else _hot(sh, raw[cut:], request)

    return ahead


def _hot(sh: SelfHelp, key: str, request: web.BaseRequest) -> web.Response | None:
    """A fresh page rendered before, sent as it is (or a 304); None: the slower path.
    One function on purpose: it runs on every cached page, where a call more is
    measurable. `key`: the id as the path writes it ("400", not "0400": that one takes
    the slower path, which parses it)."""
    headers = request.headers
    lang = sh.negotiator.from_headers(headers.get(hdrs.COOKIE), headers.get(hdrs.ACCEPT_LANGUAGE))
    hot = sh.fresh_by_lang[lang].get(key)
    if hot is None:
        return None
    now = sh.runtime.clock.epoch()
    # Shedding load, a page rendered before is sent whatever its age or banner.
    if not ((now < hot.fresh_until and hot.outage is sh.outage()) or sh.memory_only):
        return None
    sh.service.record_hot_view(hot.id, sh.client_of(request))
    gz = hot.gz
    if gz is not None and wants_gzip(headers.get(hdrs.ACCEPT_ENCODING)):
        body, etag, ok, same = gz.body, gz.etag, gz.headers, gz.not_modified_headers
    else:
        body, etag, ok, same = hot.page.body, hot.page.etag, hot.headers, hot.not_modified_headers
    inm = headers.get(hdrs.IF_NONE_MATCH)
    if inm is not None and not_modified(inm, etag):
        response = web.Response(status=304, headers=same)
    else:
        response = web.Response(body=body, headers=ok)
    response.headers[hdrs.AGE] = str(int(now - hot.stored_at))
    return response


async def bulletin(request: web.Request) -> web.StreamResponse:
    """The slower path: what `hot_page` did not answer (registered `counted`, so that it
    counts in flight while it may wait on Redis or the community site)."""
    sh = request.app[SELF_HELP]
    lang = _language(request, sh)
    bulletin_id = bulletin_id_of(request, sh)
    if sh.memory_only:
        return _bulletin_shed(request, sh, bulletin_id, lang)
    return await _bulletin_slow(request, sh, bulletin_id, lang)


def _language(request: web.Request, sh: SelfHelp) -> str:
    if request.query_string:  # ?lang= may choose
        return language_of(request, sh.negotiator)
    headers = request.headers
    return sh.negotiator.from_headers(headers.get(hdrs.COOKIE), headers.get(hdrs.ACCEPT_LANGUAGE))


async def _bulletin_slow(
    request: web.Request, sh: SelfHelp, bulletin_id: int, lang: str
) -> web.StreamResponse:
    try:
        served = await sh.service.bulletin(bulletin_id)
    except NotInCatalog:
        return not_found(request, sh, lang=lang)
    sh.service.record_view(bulletin_id, sh.client_of(request))
    now_age = age(served.stored_at, sh.runtime.clock.epoch())
    voted = request.query.get("voted") == "1"
    page = bulletin_page(sh, served, voted=voted, lang=lang)
    if served.freshness is Freshness.FRESH and not voted:
        _keep_hot(sh, served.bulletin, served.stored_at, page, lang)
    return answer(request, page, cache=sh.cache_control, age_s=now_age, lang=lang)


def _bulletin_shed(request: web.Request, sh: SelfHelp, bulletin_id: int, lang: str) -> web.Response:
    """memory_only and static: a page rendered before, else the static page; no
    rendering, no Redis, no community site."""
    page = sh.shed.shed_page(bulletin_id, lang)
    if page is None:
        return static(request, sh, lang)
    sh.service.record_hot_view(bulletin_id, sh.client_of(request))
    return answer(request, page, cache=sh.cache_control, lang=lang)


def _keep_hot(sh: SelfHelp, b: Bulletin, stored_at: float, page: Page, lang: str) -> None:
    fresh = sh.fresh_by_lang[lang]
    if len(fresh) >= PAGE_CACHE_SIZE:
        fresh.clear()  # rare; the next requests take the slow path once each
    outage = sh.outage()
    # Until the banner's duration steps on (cache/when.py), or the copy gets old.
    banner_until = next_step(outage.since, sh.now()) if outage.active else float("inf")
    fresh[str(b.id)] = fresh_page(
        b, page, stored_at=stored_at,
        fresh_until=min(stored_at + sh.service.policy.max_age, banner_until),
        cache_control=sh.cache_control, outage=outage, page_headers=sh.page_headers,
        extra=language_headers(lang),
    )  # fmt: skip
