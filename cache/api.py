"""The self-help JSON API: `/api/v1/bulletins`, `/api/v1/bulletins/<id>`,
`/api/v1/search?q=`, `/api/v1/authors/top`. Same data, same fallbacks as the pages.

Mounted on the main app, beside its `/api/v1/status` and `/api/v1/openapi.json` (these
routes have no prefix of their own to mount a sub-app at), so the handlers reach the
`SelfHelp` through the main app's handle on the self-help app (cache/site.py
`via_handle`; docs/architecture.md "Composition")."""

from __future__ import annotations

from aiohttp import web

from cache.answers import bulletin_id_of, counted
from cache.freshness import age, cache_control
from cache.service import NotInCatalog, NotInMemory
from cache.site import via_handle
from cache.web import LIST_SIZE, author_rows, bulletin_json
from kernel.problem import problem
from monitoring.http import Handler, Wrap

MAX_LIMIT = 100


class BadQueryError(ValueError):
    """A query parameter the API cannot take: a 400 problem document with this text."""


def _problems(handler: Handler) -> Handler:
    async def answered(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request)
        except BadQueryError as bad:
            return problem(400, str(bad))
        except web.HTTPNotFound as missing:  # a bulletin id that cannot exist
            return problem(404, missing.text or "not found")

    answered.__name__ = handler.__name__
    return answered


def _limit(request: web.Request) -> int:
    raw = request.query.get("limit", str(LIST_SIZE))
    try:
        value = int(raw)
    except ValueError:
        raise BadQueryError(f"limit must be a whole number, got {raw[:40]!r}") from None
    if not 1 <= value <= MAX_LIMIT:
        raise BadQueryError(f"limit must be between 1 and {MAX_LIMIT}, got {value}")
    return value


async def bulletins(request: web.Request) -> web.Response:
    sh = via_handle(request)
    sort = request.query.get("sort", "hits")
    if sort not in ("hits", "trending"):
        raise BadQueryError(f"sort must be 'hits' or 'trending', got {sort[:40]!r}")
    n = _limit(request)
    items = sh.service.top(n) if sort == "hits" else sh.service.trending(n)
    hits = sh.service.hit_counts
    return web.json_response(
        {"sort": sort, "bulletins": [bulletin_json(b, hits.get(b.id, 0)) for b in items]},
        headers={"Cache-Control": "public, max-age=5"},
    )


async def one_bulletin(request: web.Request) -> web.Response:
    sh = via_handle(request)
    bulletin_id = bulletin_id_of(request, sh)
    try:
        served = await sh.service.bulletin(bulletin_id)
    except NotInMemory:  # shedding load: only memory is searched
        return web.json_response(
            {"error": f"bulletin {bulletin_id} is not available right now; try again later"},
            status=404,
            headers={"Retry-After": "30", "Cache-Control": "no-store"},
        )
    except NotInCatalog:
        return problem(404, f"no bulletin {bulletin_id}")
    sh.service.record_view(bulletin_id, sh.client_of(request))
    doc = bulletin_json(served.bulletin, sh.service.hit_counts.get(bulletin_id, 0))
    doc["body_html"] = served.bulletin.body_html
    doc["freshness"] = served.freshness.value
    return web.json_response(
        doc,
        headers={
            "Cache-Control": cache_control(sh.service.policy),
            "Age": str(age(served.stored_at, sh.runtime.clock.epoch())),
        },
    )


async def search(request: web.Request) -> web.Response:
    sh = via_handle(request)
    query = request.query.get("q", "").strip()
    if not query:
        raise BadQueryError("q is required: the words to search for")
    result = sh.service.search(query[:200], limit=_limit(request))
    return web.json_response(
        {
            "query": query[:200],
            "corrected_query": result.corrected_query,
            "results": [
                {
                    "id": hit.id,
                    "title": hit.title,
                    "url": f"/help/bulletins/{hit.id}",
                    "score": round(hit.score, 4),
                    "snippet": "".join(text for text, _ in hit.snippet),
                }
                for hit in result.hits
            ],
        }
    )


async def authors_top(request: web.Request) -> web.Response:
    sh = via_handle(request)
    return web.json_response({"authors": author_rows(sh.service, _limit(request))})


def add_routes(app: web.Application, wrap: Wrap) -> None:
    app.router.add_get("/api/v1/bulletins", wrap("api_bulletins", _problems(bulletins)))
    app.router.add_get(
        "/api/v1/bulletins/{id}", wrap("api_bulletin", counted(_problems(one_bulletin), via_handle))
    )
    app.router.add_get("/api/v1/search", wrap("api_search", _problems(search)))
    app.router.add_get("/api/v1/authors/top", wrap("api_authors", _problems(authors_top)))
