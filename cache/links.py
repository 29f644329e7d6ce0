"""Links of bulletin HTML: where each one may point, and no anchor left without an address.

Discourse cooks the links it makes itself as site-relative paths: mentions
``<a class="mention" href="/u/joe">``, group mentions ``/g/support`` (``/groups/...`` on older
sites), hashtags ``<a class="hashtag-cooked" href="/c/staff/42">`` and ``/tag/ruby``, uploads
``/uploads/default/original/...`` (see discourse/discourse spec/lib/pretty_text_spec.rb and
lib/pretty_text.rb). Served from the front door, such a path would lead to the front door's
own host, where nothing answers it. `resolve` makes every address absolute against the
bulletin's page on the community site, exactly as a browser on that page would (RFC 3986
section 5 via ``urllib.parse.urljoin``), then checks the result again: only http and https
to a named host (plus ``mailto:``), no credentials in it, no control characters. What fails,
and fragment-only links (``#heading`` points into Discourse's page, not ours), resolve to
None: the anchor loses its address.

An anchor without an address is not a link (Lighthouse SEO, "Links are not crawlable",
issue 19): `unwrap_bare_anchors` turns every ``<a>`` that ended up without ``href`` into its
text. It reads the sanitizer's output, whose grammar html5ever fixes: attribute values are
double-quoted with ``"`` escaped, text never holds a raw ``<``; so a tokenizer regex is exact
there (and only there: never use it on raw HTML).
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import urljoin, urlsplit

# What a resolved link may use; anything else is dropped.
LINK_SCHEMES: Final = frozenset({"http", "https", "mailto"})
MAX_URL_CHARS: Final = 2_048  # longer is not a help link (and bloats every page it is on)
# WHATWG URL: browsers drop ASCII tab and newlines anywhere in a URL, so "java\tscript:"
# is "javascript:" to them; they are removed before anything is judged.
_INVISIBLE: Final = str.maketrans("", "", "\t\n\r")
_CONTROL: Final = re.compile(r"[\x00-\x1f\x7f\\]")  # and "\" (a "/" to browsers in http)
# The sanitizer's output: an <a> start tag with html5ever-quoted attributes, or its end tag.
_ANCHOR_TAG: Final = re.compile(r'<a((?: [^\s"\'>/=]+="[^"]*")*)>|</a>')
_HREF: Final = re.compile(r' href="')


def resolve(href: str, page_url: str | None) -> str | None:
    """`href` as an absolute http(s) or mailto address, resolved against `page_url` (the
    bulletin's page on the community site); None when it is not allowed or leads nowhere.

    Without `page_url` (no community site configured) only absolute addresses survive."""
    raw = href.translate(_INVISIBLE).strip(" \x0c")
    if not raw or raw.startswith("#") or len(raw) > MAX_URL_CHARS or _CONTROL.search(raw):
        return None
    try:
        scheme = urlsplit(raw).scheme.lower()
        if scheme == "mailto":
            return raw
        if not scheme:
            if page_url is None:
                return None
            raw = urljoin(page_url, raw)
        parts = urlsplit(raw)
        _ = parts.port  # raises ValueError on a port that is not a number in range
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    # Credentials in a link are a phishing trick ("https://bank.example@evil.example").
    return None if "@" in parts.netloc else raw


def unwrap_bare_anchors(clean_html: str) -> str:
    """`clean_html` (the sanitizer's output) with every ``<a>`` lacking ``href`` replaced by
    its content. Anchors may nest there (html5ever keeps an ``<a>`` inside a table cell inside
    another ``<a>``), so end tags are matched to their start tags with a stack."""
    if "<a" not in clean_html:
        return clean_html
    out: list[str] = []
    kept: list[bool] = []
    last = 0
    for match in _ANCHOR_TAG.finditer(clean_html):
        out.append(clean_html[last : match.start()])
        last = match.end()
        if match.group(0) == "</a>":
            if kept.pop() if kept else False:
                out.append("</a>")
            continue
        keep = _HREF.search(match.group(1) or "") is not None
        kept.append(keep)
        if keep:
            out.append(match.group(0))
    out.append(clean_html[last:])
    return "".join(out)
