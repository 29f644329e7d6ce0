"""Self-help pages and JSON API: `/help...` and `/api/v1/...`.

Server-rendered (Jinja2, autoescape on), no JavaScript. Rendered pages are cached as
bytes with their ETag, keyed by what they show (the bulletin and when it was stored,
the outage banner), so a cached page costs a dictionary lookup, a hit count and a
write. `Cache-Control` carries `stale-while-revalidate` and `stale-if-error` and
`If-None-Match` gets a 304, so a CDN in front can absorb a spike as well.

Each page is in the customer's language (issue 19; cache/pagelang.py, docs/pages.md):
cached pages are keyed by it too, and the hot path asks for it once per request, from
the cookie or a memo of Accept-Language headers.

A failing dependency never becomes a 5xx page: the service falls back tier by tier,
and anything unexpected here ends on a plain "help is limited" page (200, no-store).

Under load the pages do less, by stage (kernel/overload.py, cache/prerender.py): from
memory_only on, a bulletin page is one rendered before (or the static page), and a vote
goes back to that page; in the static stage the landing, search and authors pages are
the static page. Requests that may wait on Redis or the community site (the slower path
of a bulletin page) count themselves in `in_flight`, one of the two signals the stage is
decided from; nothing that waits on the client (a vote's form body) counts, so slow
clients cannot shed everyone else's pages.

Here: the landing, search and authors pages, and the self-help app that serves them
(`new_app`: its own router and its own key, `SELF_HELP`; the main app mounts it at
`PREFIX`, switchboard/selfhelp_mount.py). The pages' state (and the banner) is
cache/site.py's, what they answer with cache/answers.py's, the bulletin page
(the hot path) cache/bulletin_route.py's, votes cache/votes.py's.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import urlencode

from aiohttp import web

from cache.answers import answer, continue_to_of, counted, limited, missing_page, static
from cache.bulletin_route import ROUTE, bulletin, hot_page
from cache.model import Bulletin
from cache.pagelang import language_of
from cache.pages import LOGO_ROUTE, TEMPLATES, logo
from cache.ranking import leaderboard
from cache.rendered import Outage, OutageInfo, Page
from cache.service import SelfHelpService
from cache.site import SELF_HELP, SELF_HELP_APP, SelfHelp, self_help_of, via_handle
from cache.votes import vote
from kernel.overload import Stage
from monitoring.http import Observed

LIST_SIZE: Final = 10
PREFIX: Final = "/help"  # where the main app mounts the self-help app
# The name of the route for any other address under PREFIX (`unknown`): the mount tries
# it last, once no route knows the path (switchboard/selfhelp_mount.py).
UNKNOWN: Final = "help_unknown"

__all__ = [
    "PREFIX",
    "ROUTE",
    "SELF_HELP",
    "SELF_HELP_APP",
    "TEMPLATES",
    "UNKNOWN",
    "Outage",
    "OutageInfo",
    "Page",
    "SelfHelp",
    "new_app",
    "self_help_of",
    "via_handle",
]


async def landing(request: web.Request) -> web.StreamResponse:
    sh = request.app[SELF_HELP]
    lang = language_of(request, sh.negotiator)
    if sh.stage is Stage.STATIC:
        return static(request, sh, lang)
    continue_to = continue_to_of(request)
    key = ("landing", sh.banner_key(), continue_to, lang)
    page = sh.lists.get(key)
    if page is None:
        here = ""
        if continue_to is not None:
            here = "/help?" + urlencode({"continue": request.query["continue"]})
        page = sh.render(
            "help.html",
            lang=lang,
            here=here,
            trending=sh.service.trending(LIST_SIZE),
            top=sh.service.top(LIST_SIZE),
            hits=sh.service.hit_counts,
            query="",
            continue_to=continue_to,
            stale_age=None,
        )
        sh.lists[key] = page
    return answer(request, page, cache="no-cache", lang=lang)


async def search(request: web.Request) -> web.StreamResponse:
    sh = request.app[SELF_HELP]
    query = request.query.get("q", "").strip()[:200]
    if not query:
        raise web.HTTPSeeOther("/help")
    lang = language_of(request, sh.negotiator)
    if sh.stage is Stage.STATIC:
        return static(request, sh, lang)
    continue_to = continue_to_of(request)
    key = ("search", query.lower(), sh.banner_key(), continue_to, lang)
    page = sh.lists.get(key)
    if page is None:
        result = sh.service.search(query)
        asked = {"q": query}
        if continue_to is not None:
            asked["continue"] = request.query["continue"]
        page = sh.render(
            "search.html",
            lang=lang,
            here="/help/search?" + urlencode(asked),
            query=query,
            results=result.hits,
            corrected=result.corrected_query,
            continue_to=continue_to,
            stale_age=None,
        )
        sh.lists[key] = page
    return answer(request, page, cache="no-cache", lang=lang)


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
    lang = language_of(request, sh.negotiator)
    if sh.stage is Stage.STATIC:
        return static(request, sh, lang)
    key = ("authors", sh.banner_key(), lang)
    page = sh.lists.get(key)
    if page is None:
        page = sh.render(
            "authors.html",
            lang=lang,
            authors=author_rows(sh.service, 50),
            query="",
            continue_to=None,
            stale_age=None,
        )
        sh.lists[key] = page
    return answer(request, page, cache="no-cache", lang=lang)


async def unknown(request: web.Request) -> web.StreamResponse:
    """Any other GET under PREFIX: `/help/` is `/help` (308, the query kept); the rest is
    the not-found page, branded and in the customer's language, as an unknown bulletin's
    (not aiohttp's bare English "404: Not Found")."""
    if not request.match_info["path"]:
        location = PREFIX + ("?" + request.query_string if request.query_string else "")
        raise web.HTTPPermanentRedirect(location)
    return missing_page(request, request.app[SELF_HELP])


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


def new_app(wrap: Observed) -> web.Application:
    """The self-help app: the pages' routes, below `PREFIX` (the JSON API's are the main
    app's, `cache.api.add_routes`). Its `SelfHelp` is set under its own `SELF_HELP` at
    start-up, when the client sessions and Redis it reads through are open
    (switchboard/app.py). A page that fails ends on the "help is limited" page
    (`limited`), not a 5xx."""
    app = web.Application()
    add = app.router.add_get
    add("", wrap("help", landing, limited))  # PREFIX itself: /help
    add("/search", wrap("help_search", search, limited))
    bulletins = wrap(ROUTE, counted(bulletin), limited, series_now=True, fast=hot_page)
    add("/bulletins/{id}", bulletins)
    app.router.add_post("/bulletins/{id}/vote", wrap("help_vote", vote, limited))
    add("/authors", wrap("help_authors", authors, limited))
    add(LOGO_ROUTE.removeprefix(PREFIX), wrap("help_logo", logo))
    # Last: any other GET (and HEAD) under PREFIX; the mount tries it only for a path no
    # route knows, so a known path's 405 stays a 405 (switchboard/selfhelp_mount.py).
    add("/{path:.*}", wrap("help_unknown", unknown, limited), name=UNKNOWN)
    return app
