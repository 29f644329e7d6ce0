"""Self-help pages and JSON API: `/help...` and `/api/v1/...`.

Server-rendered (Jinja2, autoescape on), no JavaScript. Rendered pages are cached as
bytes with their ETag, keyed by what they show (the bulletin and when it was stored,
the outage banner), so a cached page costs a dictionary lookup, a hit count and a
write. `Cache-Control` carries `stale-while-revalidate` and `stale-if-error` and
`If-None-Match` gets a 304, so a CDN in front can absorb a spike as well.

A failing dependency never becomes a 5xx page: the service falls back tier by tier,
and anything unexpected here ends on a plain "help is limited" page (200, no-store).

Under load the pages do less, by stage (failover/overload.py, cache/prerender.py): from
memory_only on, a bulletin page is one rendered before (or the static page), and a vote
goes back to that page; in the static stage the landing, search and authors pages are
the static page. Requests that may wait on Redis or the community site (the slower path
of a bulletin page) count themselves in `in_flight`, one of the two signals the stage is
decided from; nothing that waits on the client (a vote's form body) counts, so slow
clients cannot shed everyone else's pages.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import quote

import jinja2
from aiohttp import hdrs, web
from cachetools import TTLCache
from multidict import CIMultiDict, istr

from cache.conditional import etag_of, not_modified
from cache.freshness import Freshness, age, cache_control
from cache.model import Bulletin
from cache.prerender import STATIC_CACHE_CONTROL, ShedPages, bulletin_page
from cache.ranking import leaderboard
from cache.rendered import Outage, OutageInfo, Page, outage_key
from cache.runtime import SelfHelpRuntime
from cache.service import NotInCatalog, SelfHelpService
from failover.limits.limiter import Limiter
from failover.logs import REQUEST_ID, REQUEST_ID_HEADER, accept_request_id
from failover.overload import Stage
from failover.overload_monitor import InFlight
from failover.security_headers import PAGE_HEADERS
from monitoring.http import FRONT_DOOR, Wrap

log = logging.getLogger("switchboard.selfhelp")

TEMPLATES: Final = Path(__file__).parent / "templates"
PAGE_CACHE_SIZE: Final = 4096
LIST_TTL: Final = 5.0  # seconds a rendered landing or list page is reused
LIST_SIZE: Final = 10


__all__ = ["ROUTE", "SELF_HELP", "Outage", "OutageInfo", "Page", "SelfHelp", "add_routes"]


@dataclass(frozen=True, slots=True)
class FreshPage:
    """A bulletin page that may be sent as is until `fresh_until`: the hot path. Its
    headers are built once, with case-insensitive keys made once (`istr`), so that each
    answer copies them instead of building them again."""

    id: int
    page: Page
    stored_at: float
    fresh_until: float
    author: str
    outage: Outage
    headers: CIMultiDict[str]  # a 200's; a 304 leaves out Content-Type (RFC 9110 15.4.5)
    not_modified_headers: CIMultiDict[str]


REQUEST_ID_KEY: Final = istr(REQUEST_ID_HEADER)  # aiohttp.hdrs has the standard ones


@dataclass(slots=True, kw_only=True)
class SelfHelp:
    """What the handlers need; built once by the app."""

    runtime: SelfHelpRuntime
    outage: OutageInfo
    # Whom a request counts against (failover/limits/identity), and the per-client
    # limits (issue 14): views and votes count once per client per bulletin per window.
    client_of: Callable[[web.Request], str]
    limiter: Limiter
    on_helped: Callable[[], None] = lambda: None  # a "yes, this helped" during an outage
    # (route, destination, status, seconds): request metrics, counted inline on the
    # bulletin page (monitoring.metrics.Metrics.observe_request).
    observe: Callable[[str, str, int, float], None] = lambda *_: None
    # The same for a 200 of the bulletin page from the hot path, resolved once
    # (monitoring.metrics.Metrics.timer).
    observe_hot: Callable[[float], None] = lambda _: None
    callbacks_enabled: bool = False
    env: jinja2.Environment = field(
        default_factory=lambda: jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
    )
    pages: TTLCache[tuple[Any, ...], Page] = field(
        default_factory=lambda: TTLCache(maxsize=PAGE_CACHE_SIZE, ttl=3600)
    )
    lists: TTLCache[tuple[Any, ...], Page] = field(
        default_factory=lambda: TTLCache(maxsize=256, ttl=LIST_TTL)
    )
    fresh: dict[str, FreshPage] = field(default_factory=dict)  # by the id as in the path
    shed: ShedPages = field(default_factory=ShedPages)  # pages for the shedding stages
    in_flight: InFlight = field(default_factory=InFlight)  # the overload monitor's
    stage: Stage = Stage.NORMAL  # set by the overload monitor (set_stage)
    memory_only: bool = False  # stage >= memory_only, read on the hot path

    @property
    def service(self) -> SelfHelpService:
        return self.runtime.service

    def now(self) -> float:
        return self.runtime.clock()

    def set_stage(self, stage: Stage) -> None:
        self.stage = stage
        self.memory_only = stage.at_least(Stage.MEMORY_ONLY)

    @property
    def cache_control(self) -> str:
        return cache_control(self.service.policy)

    def render(self, template: str, **context: Any) -> Page:
        outage = self.outage()
        body = (
            self.env.get_template(template)
            .render(outage=outage, callbacks=self.callbacks_enabled, **context)
            .encode()
        )
        return Page(body, etag_of(body))


SELF_HELP: Final[web.AppKey[SelfHelp]] = web.AppKey("self_help")


_outage_key = outage_key


def _answer(
    request: web.Request, page: Page, *, cache: str, age_s: int | None = None, status: int = 200
) -> web.Response:
    headers = {"ETag": page.etag, "Cache-Control": cache}
    if age_s is not None:
        headers["Age"] = str(age_s)
    if status == 200 and not_modified(request.headers.get("If-None-Match"), page.etag):
        return web.Response(status=304, headers=headers)
    return web.Response(
        body=page.body, status=status, headers=headers, content_type="text/html", charset="utf-8"
    )


def _continue_to(request: web.Request) -> str | None:
    """Only a link back into /support/ on this site: never an open redirect."""
    path = request.query.get("continue")
    if not path or not path.startswith("/support/") or "//" in path or "\\" in path:
        return None
    return quote(path, safe="/-_.~") + "?sb_continue=1"


def _static(request: web.Request, sh: SelfHelp) -> web.Response:
    return _answer(request, sh.shed.static_page(sh), cache=STATIC_CACHE_CONTROL)


async def landing(request: web.Request) -> web.StreamResponse:
    sh = request.app[SELF_HELP]
    if sh.stage is Stage.STATIC:
        return _static(request, sh)
    continue_to = _continue_to(request)
    key = ("landing", _outage_key(sh.outage()), continue_to)
    page = sh.lists.get(key)
    if page is None:
        page = sh.render(
            "help.html",
            trending=sh.service.trending(LIST_SIZE),
            top=sh.service.top(LIST_SIZE),
            hits=sh.service.hit_counts,
            query="",
            continue_to=continue_to,
            stale_age=None,
        )
        sh.lists[key] = page
    return _answer(request, page, cache="no-cache")


async def search(request: web.Request) -> web.StreamResponse:
    sh = request.app[SELF_HELP]
    query = request.query.get("q", "").strip()[:200]
    if not query:
        raise web.HTTPSeeOther("/help")
    if sh.stage is Stage.STATIC:
        return _static(request, sh)
    continue_to = _continue_to(request)
    key = ("search", query.lower(), _outage_key(sh.outage()), continue_to)
    page = sh.lists.get(key)
    if page is None:
        result = sh.service.search(query)
        page = sh.render(
            "search.html",
            query=query,
            results=result.hits,
            corrected=result.corrected_query,
            continue_to=continue_to,
            stale_age=None,
        )
        sh.lists[key] = page
    return _answer(request, page, cache="no-cache")


def _bulletin_id(request: web.Request) -> int:
    try:
        value = int(request.match_info["id"])
    except ValueError:
        raise web.HTTPNotFound(text="No such bulletin: the id must be a number.") from None
    if not 0 < value < 2**31:
        raise web.HTTPNotFound(text="No such bulletin.")
    return value


ROUTE: Final = "help_bulletin"


async def bulletin(request: web.Request) -> web.StreamResponse:
    """The hot path: a fresh page rendered before is sent as it is. Timed, counted and
    guarded inline (what `observed` and `_safe` do for the other pages), so that a
    cached page costs one coroutine."""
    started = time.monotonic()
    sh = request.app[SELF_HELP]
    request_id = accept_request_id(request.headers.get(REQUEST_ID_HEADER))
    response: web.StreamResponse
    try:
        # Keyed by the id as the path writes it ("400", not "0400": that one takes the
        # slower path, which parses it).
        hot = sh.fresh.get(request.match_info["id"])
        if hot is not None and not request.query_string:
            now = sh.runtime.clock()
            # Shedding load, a page rendered before is sent whatever its age or banner.
            if (now < hot.fresh_until and hot.outage is sh.outage()) or sh.memory_only:
                return _hot(request, sh, hot, now=now, request_id=request_id, started=started)
        bulletin_id = _bulletin_id(request)
        token = REQUEST_ID.set(request_id)  # for the log lines of the slower path
        sh.in_flight.enter()
        try:
            if sh.memory_only:
                response = _bulletin_shed(request, sh, bulletin_id)
            else:
                response = await _bulletin_slow(request, sh, bulletin_id)
        finally:
            sh.in_flight.leave()
            REQUEST_ID.reset(token)
    except web.HTTPException as exc:
        exc.headers[REQUEST_ID_HEADER] = request_id
        sh.observe(ROUTE, FRONT_DOOR, exc.status, time.monotonic() - started)
        raise
    except asyncio.CancelledError:
        sh.observe(ROUTE, FRONT_DOOR, 499, time.monotonic() - started)
        raise
    except Exception:
        response = _limited(request)
    response.headers[REQUEST_ID_HEADER] = request_id
    sh.observe(ROUTE, FRONT_DOOR, response.status, time.monotonic() - started)
    return response


def _hot(
    request: web.Request, sh: SelfHelp, hot: FreshPage, *, now: float, request_id: str,
    started: float,
) -> web.Response:  # fmt: skip
    """The page rendered before, or a 304: a dictionary lookup, a count and a write."""
    views = sh.service.views
    views.hot += 1
    views.note(hot.id, sh.client_of(request))
    inm = request.headers.get(hdrs.IF_NONE_MATCH)
    if inm is not None and not_modified(inm, hot.page.etag):
        response = web.Response(status=304, headers=hot.not_modified_headers)
        observe_hot = False
    else:
        response = web.Response(body=hot.page.body, headers=hot.headers)
        observe_hot = True
    headers = response.headers
    headers[hdrs.AGE] = str(int(now - hot.stored_at))
    headers[REQUEST_ID_KEY] = request_id
    if observe_hot:
        sh.observe_hot(time.monotonic() - started)
    else:
        sh.observe(ROUTE, FRONT_DOOR, 304, time.monotonic() - started)
    return response


def _not_found(request: web.Request, sh: SelfHelp) -> web.Response:
    page = sh.render(
        "unavailable.html",
        title="Bulletin not found",
        message="We could not find that bulletin. Try searching for your topic instead.",
        query="",
        continue_to=None,
        stale_age=None,
    )
    return _answer(request, page, cache="no-store", status=404)


async def _bulletin_slow(
    request: web.Request, sh: SelfHelp, bulletin_id: int
) -> web.StreamResponse:
    try:
        served = await sh.service.bulletin(bulletin_id)
    except NotInCatalog:
        return _not_found(request, sh)
    sh.service.record_view(bulletin_id, sh.client_of(request))
    now_age = age(served.stored_at, sh.runtime.clock())
    voted = request.query.get("voted") == "1"
    page = bulletin_page(sh, served, voted=voted)
    if served.freshness is Freshness.FRESH and not voted:
        _keep_hot(sh, served.bulletin, served.stored_at, page)
    return _answer(request, page, cache=sh.cache_control, age_s=now_age)


def _bulletin_shed(request: web.Request, sh: SelfHelp, bulletin_id: int) -> web.Response:
    """memory_only and static: a page rendered before, else the static page; no
    rendering, no Redis, no community site."""
    page = sh.shed.by_id.get(bulletin_id)
    if page is None:
        return _static(request, sh)
    views = sh.service.views
    views.hot += 1
    views.note(bulletin_id, sh.client_of(request))
    return _answer(request, page, cache=sh.cache_control)


def _keep_hot(sh: SelfHelp, b: Bulletin, stored_at: float, page: Page) -> None:
    if len(sh.fresh) >= PAGE_CACHE_SIZE:
        sh.fresh.clear()  # rare; the next requests take the slow path once each
    cache_control = sh.cache_control
    sh.fresh[str(b.id)] = FreshPage(
        id=b.id,
        page=page,
        stored_at=stored_at,
        fresh_until=stored_at + sh.service.policy.max_age,
        author=b.author,
        outage=sh.outage(),
        headers=_prebuilt(
            {
                hdrs.ETAG: page.etag,
                hdrs.CACHE_CONTROL: cache_control,
                hdrs.CONTENT_TYPE: "text/html; charset=utf-8",
            }
        ),
        not_modified_headers=_prebuilt({hdrs.ETAG: page.etag, hdrs.CACHE_CONTROL: cache_control}),
    )


def _prebuilt(headers: dict[istr, str]) -> CIMultiDict[str]:
    """With the pages' security headers already in (failover/security_headers.py), so
    that the response hook finds them there and adds nothing."""
    out = CIMultiDict(headers)
    out.extend(PAGE_HEADERS)
    return out


def author_rows(service: SelfHelpService, n: int) -> list[dict[str, Any]]:
    written: dict[str, int] = {}
    hits: dict[str, int] = {}
    names: dict[str, str] = {}
    for b in service.known():
        written[b.author] = written.get(b.author, 0) + 1
        hits[b.author] = hits.get(b.author, 0) + service.hit_counts.get(b.id, 0)
        names[b.author] = b.author_name
    return [
        {"author": a, "author_name": names[a], "bulletins": count, "hits": h}
        for a, count, h in leaderboard(written, hits, n)
    ]


async def authors(request: web.Request) -> web.StreamResponse:
    sh = request.app[SELF_HELP]
    if sh.stage is Stage.STATIC:
        return _static(request, sh)
    key = ("authors", _outage_key(sh.outage()))
    page = sh.lists.get(key)
    if page is None:
        page = sh.render(
            "authors.html",
            authors=author_rows(sh.service, 50),
            query="",
            continue_to=None,
            stale_age=None,
        )
        sh.lists[key] = page
    return _answer(request, page, cache="no-cache")


def bulletin_json(b: Bulletin, hits: int) -> dict[str, Any]:
    return {
        "id": b.id,
        "title": b.title,
        "url": f"/help/bulletins/{b.id}",
        "author": b.author,
        "author_name": b.author_name,
        "category": b.category,
        "tags": list(b.tags),
        "excerpt": b.excerpt,
        "created_at": b.created_at.isoformat(),
        "hits": hits,
    }


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def counted(handler: Handler) -> Handler:
    """Counted in flight while it runs (the overload monitor's second signal): for
    handlers that may wait on Redis or the community site, not on the client."""

    async def counting(request: web.Request) -> web.StreamResponse:
        in_flight = request.app[SELF_HELP].in_flight
        in_flight.enter()
        try:
            return await handler(request)
        finally:
            in_flight.leave()

    return counting


def _safe(handler: Handler) -> Handler:
    """A fault of ours must not become a 5xx page for a customer."""

    async def guarded(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException:
            raise
        except Exception:
            return _limited(request)

    return guarded


def _limited(request: web.Request) -> web.Response:
    log.exception("self-help page %s failed", request.path)
    return web.Response(
        text="Help is limited right now. Please try again in a moment: /help\n",
        headers={"Cache-Control": "no-store"},
    )


def add_routes(app: web.Application, wrap: Wrap) -> None:
    """The pages' routes now (the JSON API's are `cache.api.add_routes`); the `SelfHelp`
    itself is set under SELF_HELP at start-up, when its client sessions can be opened."""
    app.router.add_get("/help", wrap("help", _safe(landing)))
    app.router.add_get("/help/search", wrap("help_search", _safe(search)))
    app.router.add_get("/help/bulletins/{id}", bulletin)  # times itself: the hot path
    from cache.votes import vote  # noqa: PLC0415 - cache.votes imports this module

    app.router.add_post("/help/bulletins/{id}/vote", wrap("help_vote", _safe(vote)))
    app.router.add_get("/help/authors", wrap("help_authors", _safe(authors)))
