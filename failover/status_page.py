"""`/status`: the page over the facts `failover.status.gather` collects (the same dict
/api/v1/status sends, through the same viewer), with its own style's hash in the CSP.
Never a 5xx for what it reports on: a failure (in gathering, rendering or encoding the
page) shows `FALLBACK_PAGE`, which retries.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Final

import jinja2
from aiohttp import web

from failover.status import NO_STORE, gather
from failover.statusview import viewer
from kernel.security_headers import page_csp, page_headers

log = logging.getLogger("switchboard.status")

REFRESH_SECONDS: Final = 5
STATUS_PAGE_HEADERS: Final = page_headers(page_csp("failover", "status.html"))
PAGE_HEADERS: Final = {**NO_STORE, **STATUS_PAGE_HEADERS}  # its own style's hash in the CSP
TEMPLATES: Final = Path(__file__).parent / "templates"


def _parse(iso: str | None) -> datetime | None:
    try:
        return datetime.fromisoformat(iso) if iso else None
    except ValueError:
        return None


def when(iso: str | None) -> str:
    moment = _parse(iso)
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def ago(iso: str | None, now_iso: str) -> str:
    """How long ago `iso` was, as "4 min 3 s ago" (or "in 8 s" for a moment to come)."""
    moment, now = _parse(iso), _parse(now_iso)
    if moment is None or now is None:
        return ""
    seconds = (now - moment).total_seconds()
    return f"in {duration(-seconds)}" if seconds < -0.5 else f"{duration(seconds)} ago"


def duration(seconds: float) -> str:
    s = int(seconds)
    for unit, size, sub, sub_size in (("d", 86400, "h", 3600), ("h", 3600, "min", 60),
                                      ("min", 60, "s", 1)):  # fmt: skip
        if s >= size:
            rest = (s % size) // sub_size
            return f"{s // size} {unit} {rest} {sub}" if rest else f"{s // size} {unit}"
    return f"{s} s"


# A tone per state, for colour; the page always prints the state's name beside it.
TONES: Final = {
    "serving": "ok", "up": "ok", "degraded": "warn", "emergency": "info", "drained": "info",
    "closed": "info", "ejected": "bad", "down": "bad", "unknown": "muted",
}  # fmt: skip
_ENV: Final = jinja2.Environment(
    loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
    undefined=jinja2.StrictUndefined,
)  # fmt: skip
_ENV.filters |= {"when": when, "duration": duration}
_ENV.globals |= {"ago": ago, "refresh": REFRESH_SECONDS, "tones": TONES}

FALLBACK_PAGE: Final = (
    '<!doctype html><html lang="en"><head><meta charset="utf-8">'
    '<meta name="viewport" content="width=device-width, initial-scale=1">'
    f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">'
    "<title>Status unknown · Switchboard</title></head><body><main>"
    "<h1>Switchboard status: unknown</h1><p>The status could not be gathered; see the "
    "front door's log. This page retries by itself.</p></main></body></html>"
)


async def status_page(request: web.Request) -> web.Response:
    if isinstance(view := viewer(request), web.Response):
        return view
    try:
        text = _ENV.get_template("status.html").render(s=view(await gather(request.app)))
        body = text.encode("utf-8")  # in here too: text that is not text (a lone surrogate)
    except Exception:  # never a 5xx for what we report on
        log.exception("status: page failed")
        body = FALLBACK_PAGE.encode("utf-8")
    return web.Response(body=body, content_type="text/html", charset="utf-8", headers=PAGE_HEADERS)
