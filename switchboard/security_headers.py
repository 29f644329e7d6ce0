"""The response hook that puts the front door's headers on its own answers: a
version-free `Server`, and the browser security headers (issue 14, items 8 and 9; the
header sets and why: kernel/security_headers.py).

One `on_response_prepare` hook (aiohttp runs it for every response of the app, streamed
or not, errors and the router's 404/405 included, just before the headers are written):

- `Server: switchboard` on every response, the proxied ones too: aiohttp's default
  names the Python and aiohttp versions, a call center's names its own software, and
  neither is anyone's business outside (nginx hides an upstream's `Server` by default:
  `proxy_hide_header`). Answers aiohttp makes before any app sees the request (a
  request line it cannot parse: 400) take the library's default, so `install` replaces
  that default too (aiohttp #270, #1958, #8870: there is no setting for it).
- the page headers on HTML (and on 304s), `OTHER_HEADERS` on every other answer of ours:
  JSON, redirects, plain-text errors. None on a call center's answer relayed by the
  proxy: that page is the call center's, with the headers it chose.

A handler that builds its headers once (the bulletin hot path in cache/web.py, the
status page) includes them itself; the hook then only sets `Server`. It lives in the
composition root because it joins all three: the proxied mount (failover/), the pages'
headers for this brand (cache/) and the destination a request was answered for
(monitoring/).
"""

from __future__ import annotations

from typing import Final

from aiohttp import web, web_response
from multidict import CIMultiDictProxy

from cache.pages import PAGE_HEADERS
from failover.routing import SELF_HELP
from kernel.security_headers import CONTENT_TYPE_KEY, CSP_KEY, OTHER_HEADERS, SERVER, SERVER_KEY
from monitoring.http import DESTINATION

# The customer pages' headers for this config's brand (a `[branding]`: colours, a logo,
# templates of the operator's), set at start (switchboard/app.py); `PAGE_HEADERS`, the
# built-in brand's, until then.
PAGES: Final[web.AppKey[CIMultiDictProxy[str]]] = web.AppKey("page_headers")


def install(app: web.Application, *, proxied_mount: str) -> None:
    """Add the hook to `app`. Call it once every route is added: the resources under
    `proxied_mount` are looked up here."""
    proxied = frozenset(r for r in app.router.resources() if r.canonical.startswith(proxied_mount))
    if not proxied:
        raise ValueError(f"no route under {proxied_mount!r}: install after the routes")

    async def own_headers(request: web.Request, response: web.StreamResponse) -> None:
        headers = response.headers
        headers[SERVER_KEY] = SERVER
        if CSP_KEY in headers:  # prebuilt (the hot path), or a relayed page's own policy
            return
        # Under the mount, only the redirect to self-help is ours; the rest is relayed.
        if request.match_info.route.resource in proxied and request.get(DESTINATION) != SELF_HELP:
            return
        # The raw header, not `response.content_type`: that property parses it again
        # (0.8 us a call here, half of what the rest of this hook costs).
        ctype = headers.get(CONTENT_TYPE_KEY, "")
        page = response.status == 304 or ctype.startswith("text/html")
        # The main app's key (`app`): `request.app` is the self-help app for its pages.
        headers.extend(app.get(PAGES, PAGE_HEADERS) if page else OTHER_HEADERS)

    app.on_response_prepare.append(own_headers)
    # The default for answers no app sees (see the docstring): a module global that
    # aiohttp/web_response.py `_prepare_headers` reads at each response. Set by name:
    # the module imports it without re-exporting it, so mypy knows no such attribute.
    setattr(web_response, "SERVER_SOFTWARE", SERVER)  # noqa: B010
