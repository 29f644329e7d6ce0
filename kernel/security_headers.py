"""Browser security headers of the front door's own answers (issue 14, items 8 and 9):
the header sets and how a page's policy is computed. Pure: the response hook that adds
them is switchboard/security_headers.py; the customer pages' set for the built-in brand
is `cache.pages.PAGE_HEADERS`, the status page's `failover.status_page.STATUS_PAGE_HEADERS`.

`page_headers(...)` on HTML (and on 304s, which refresh a cached page's headers, RFC 9111
section 4.3.4), `OTHER_HEADERS` on every other answer of ours: JSON, redirects,
plain-text errors.

The pages run no JavaScript and load nothing but themselves, so the policy denies
everything (`default-src 'none'`) and allows back only the one inline `<style>` element
of their layout, by hash (CSP3 section 8.2 "hash-source"): customer pages all extend
cache/templates/base.html (its two stylesheet variants as rendered for this config's
brand), the status page has its own. Forms post to this site only;
no site may frame a page (clickjacking of the callback form); `base-uri 'none'` stops
an injected `<base>` from re-pointing relative links. `img-src data:` is for the empty
`data:,` favicon every page names so that browsers do not ask for /favicon.ico (and for
the brand's logo: 'self' or its URL's origin);
bulletins show no images (cache/sanitize.py turns them into links). `connect-src 'self'`
opens nothing a page can use (no script may run, and the sanitizer keeps no `ping`):
it lets tools that read /robots.txt from inside the page, as Lighthouse does, read it
(denied, Lighthouse fails its SEO audit "robots.txt is not valid").

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
from collections.abc import Iterable
from importlib import resources
from typing import Final

from aiohttp import hdrs
from multidict import CIMultiDict, CIMultiDictProxy, istr

SERVER: Final = "switchboard"
SERVER_KEY: Final = istr(hdrs.SERVER)
CSP_KEY: Final = istr("Content-Security-Policy")
CONTENT_TYPE_KEY: Final = istr(hdrs.CONTENT_TYPE)

_STYLE = re.compile(r"<style>(.*?)</style>", re.DOTALL)


def style_hashes(text: str) -> tuple[str, ...]:
    """CSP hash-sources ('sha256-<base64>') of every <style> element in `text`, as
    written (for a template with no template code inside its <style>: the status page)."""
    return tuple(_hash(css) for css in _STYLE.findall(text))


def _hash(css: str) -> str:
    return f"'sha256-{base64.b64encode(hashlib.sha256(css.encode()).digest()).decode()}'"


def csp(styles: Iterable[str], *, img: Iterable[str] = ()) -> str:
    """The policy of pages whose <style> elements hold exactly `styles` (as rendered:
    what the browser hashes), whose images come from `img` (and data:) only."""
    return "; ".join(
        (
            "default-src 'none'",
            "style-src " + " ".join(_hash(css) for css in styles),
            " ".join(("img-src data:", *img)),
            "connect-src 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        )
    )


def page_csp(package: str, template: str) -> str:
    """The policy of the pages `template` lays out (in `package`/templates)."""
    text = resources.files(package).joinpath("templates", template).read_text(encoding="utf-8")
    return csp(_STYLE.findall(text))


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


def page_headers(policy: str) -> CIMultiDictProxy[str]:
    # COOP: a page that opened ours (window.open) keeps no handle on it.
    return _frozen(
        {"Content-Security-Policy": policy, **_COMMON, "Cross-Origin-Opener-Policy": "same-origin"}
    )


OTHER_HEADERS: Final = _frozen({"Content-Security-Policy": OTHER_CSP, **_COMMON})
