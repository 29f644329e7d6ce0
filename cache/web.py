"""Self-help pages (first slice): the plain landing and search pages customers are sent
to when the call centers fail. The cached, ranked, searchable community layer of
issue 3 replaces the bodies of these pages; the routes and the redirect contract stay.

The outage banner comes from the front door through `OutageInfo`, a plain callable,
so this package does not import the front door.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Final
from urllib.parse import quote

from aiohttp import web

from monitoring.http import Wrap


@dataclass(frozen=True, slots=True, kw_only=True)
class Outage:
    active: bool
    since: datetime | None = None
    reason: str = ""


OutageInfo = Callable[[], Outage]
OUTAGE_INFO: Final[web.AppKey[OutageInfo]] = web.AppKey("outage_info")

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;margin:0 auto;max-width:40rem;padding:1rem}}
.banner{{background:#fff3cd;border:1px solid #e0c36c;padding:.75rem;border-radius:.5rem}}
input,button{{font-size:1rem;min-height:44px;padding:.5rem;box-sizing:border-box}}
input{{width:70%}}</style>
</head><body>
{banner}
<h1>{title}</h1>
<form action="/help/search" method="get" role="search">
<input name="q" value="{query}" aria-label="Search help"> <button>Search</button>
</form>
{body}
</body></html>
"""


def _banner(outage: Outage) -> str:
    if not outage.active:
        return ""
    since = f" since {outage.since:%H:%M} UTC" if outage.since else ""
    return (
        '<p class="banner" role="status">Our call centers are unavailable'
        f"{html.escape(since)}. Our help articles are open below.</p>"
    )


def _safe_continue(path: str | None) -> str | None:
    """Only a link back into /support/ on this site: never an open redirect."""
    if not path or not path.startswith("/support/") or "//" in path or "\\" in path:
        return None
    return quote(path, safe="/") + "?sb_continue=1"


def _render(request: web.Request, *, title: str, query: str, body: str) -> web.Response:
    outage = request.app[OUTAGE_INFO]()
    page = _PAGE.format(
        title=html.escape(title), query=html.escape(query), banner=_banner(outage), body=body
    )
    return web.Response(text=page, content_type="text/html", headers={"Cache-Control": "no-cache"})


def _continue_block(request: web.Request) -> str:
    target = _safe_continue(request.query.get("continue"))
    if target is None:
        return ""
    return (
        "<p>Our call center is busy right now; the answer may be below. "
        f'<a href="{html.escape(target)}">Continue to the call center</a></p>'
    )


async def landing(request: web.Request) -> web.Response:
    body = _continue_block(request) + "<p>Search our help articles above.</p>"
    return _render(request, title="Help", query="", body=body)


async def search(request: web.Request) -> web.Response:
    query = request.query.get("q", "")[:200]
    body = _continue_block(request) + (
        f"<p>Help with <strong>{html.escape(query)}</strong>: our help library is being "
        "set up; please check back shortly.</p>"
    )
    return _render(request, title="Search help", query=query, body=body)


def add_routes(app: web.Application, outage_info: OutageInfo, wrap: Wrap) -> None:
    app[OUTAGE_INFO] = outage_info
    app.router.add_get("/help", wrap("help", landing))
    app.router.add_get("/help/search", wrap("help_search", search))
