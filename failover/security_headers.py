"""Response headers of the front door's own answers: a version-free `Server`, and the
browser security headers (issue 14, items 8 and 9).

One `on_response_prepare` hook (aiohttp runs it for every response of the app, streamed
or not, errors and the router's 404/405 included, just before the headers are written):

- `Server: switchboard` on every response, the proxied ones too: aiohttp's default
  names the Python and aiohttp versions, a call center's names its own software, and
  neither is anyone's business outside (nginx hides an upstream's `Server` by default:
  `proxy_hide_header`). Answers aiohttp makes before any app sees the request (a
  request line it cannot parse: 400) take the library's default, so `install` replaces
  that default too (aiohttp #270, #1958, #8870: there is no setting for it).
- `PAGE_HEADERS` on HTML (and on 304s, which refresh a cached page's headers, RFC 9111
  section 4.3.4), `OTHER_HEADERS` on every other answer of ours: JSON, redirects,
  plain-text errors. None on a call center's answer relayed by the proxy: that page is
  the call center's, with the headers it chose.

The pages run no JavaScript and load nothing but themselves, so the policy denies
everything (`default-src 'none'`) and allows back only the one inline `<style>` element
of their layout, by hash (CSP3 section 8.2 "hash-source"): customer pages all extend
cache/templates/base.html, the status page has its own. Forms post to this site only;
no site may frame a page (clickjacking of the callback form); `base-uri 'none'` stops
an injected `<base>` from re-pointing relative links. `img-src data:` is for the empty
`data:,` favicon every page names so that browsers do not ask for /favicon.ico;
bulletins show no images (cache/sanitize.py turns them into links). A handler that
builds its headers once (the bulletin hot path in cache/web.py, the status page)
includes them itself; the hook then only sets `Server`.

Referrer-Policy `same-origin`: within the site the full referrer stays useful; to any
other site nothing, not even our origin. Bulletin links are customer-written
(they also carry rel=noreferrer), and our URLs hold what a customer typed
(`/help/search?q=...`, a callback topic). Cross-Origin-Opener-Policy on pages: a site
that opened one (window.open) keeps no handle on it. Not sent, on purpose: HSTS (the
TLS terminator's to send: the front door speaks plain HTTP behind it), and
Permissions-Policy and Cross-Origin-Resource-Policy, which add bytes to every answer
for nothing here: no script may run to ask for a feature, and nosniff already keeps
our HTML and JSON out of other sites' processes (Fetch's opaque-response blocking).
"""

from __future__ import annotations

import base64
import hashlib
import re
from importlib import resources
from typing import Final

from aiohttp import hdrs, web, web_response
from multidict import CIMultiDict, CIMultiDictProxy, istr

from failover.routing import SELF_HELP
from monitoring.http import DESTINATION

SERVER: Final = "switchboard"
SERVER_KEY: Final = istr(hdrs.SERVER)
CSP_KEY: Final = istr("Content-Security-Policy")
CONTENT_TYPE_KEY: Final = istr(hdrs.CONTENT_TYPE)

_STYLE = re.compile(r"<style>(.*?)</style>", re.DOTALL)


def style_hashes(text: str) -> tuple[str, ...]:
    """CSP hash-sources ('sha256-<base64>') of every <style> element in `text`, as
    written: the templates put no template code inside them, so what the browser hashes
    is exactly this text."""
    return tuple(
        f"'sha256-{base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()}'"
        for css in _STYLE.findall(text)
    )


def page_csp(package: str, template: str) -> str:
    """The policy of the pages `template` lays out (in `package`/templates)."""
    text = resources.files(package).joinpath("templates", template).read_text(encoding="utf-8")
    return "; ".join(
        (
            "default-src 'none'",
            "style-src " + " ".join(style_hashes(text)),
            "img-src data:",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        )
    )


# JSON and plain text: nothing to load, nothing to frame (OWASP REST Security Cheat
# Sheet, "Security headers").
OTHER_CSP: Final = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
_COMMON: Final = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",  # for browsers without CSP frame-ancestors
    "Referrer-Policy": "same-origin",
}


def _frozen(values: dict[str, str]) -> CIMultiDictProxy[str]:
    # istr keys made once: copying them into a response costs no case folding.
    return CIMultiDictProxy(CIMultiDict((istr(k), v) for k, v in values.items()))


def page_headers(csp: str) -> CIMultiDictProxy[str]:
    # COOP: a page that opened ours (window.open) keeps no handle on it.
    return _frozen(
        {"Content-Security-Policy": csp, **_COMMON, "Cross-Origin-Opener-Policy": "same-origin"}
    )


# Every customer page extends cache/templates/base.html; the status page has its own.
PAGE_HEADERS: Final = page_headers(page_csp("cache", "base.html"))
STATUS_PAGE_HEADERS: Final = page_headers(page_csp("failover", "status.html"))
OTHER_HEADERS: Final = _frozen({"Content-Security-Policy": OTHER_CSP, **_COMMON})


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
        headers.extend(PAGE_HEADERS if page else OTHER_HEADERS)

    app.on_response_prepare.append(own_headers)
    # The default for answers no app sees (see the docstring): a module global that
    # aiohttp/web_response.py `_prepare_headers` reads at each response. Set by name:
    # the module imports it without re-exporting it, so mypy knows no such attribute.
    setattr(web_response, "SERVER_SOFTWARE", SERVER)  # noqa: B010
