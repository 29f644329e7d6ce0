"""Sanitizing customer-written bulletin HTML before it is stored for rendering.

Bulletins are written by customers on the community site; the site's "cooked" HTML is
what any customer could type. Three passes:

1. ``cache.cooked.plain``: Discourse's own markup made plain (emoji and local dates as text,
   images as links to their source: loading a remote image from a support page leaks the
   customer's visit to whoever wrote the post).
2. nh3 (the Rust `ammonia` sanitizer) with an explicit allow-list: the formatting a help
   article needs, nothing that runs code, loads frames, submits forms or styles the page.
   Every link address is resolved against the bulletin's page on the community site
   (``cache.links.resolve``: site-relative ``/u/joe`` leads to the community, not to the
   front door's host) and must then be http(s) or mailto; every link gets
   `rel="noopener noreferrer nofollow ugc"` (Google's `ugc` for user-generated content).
3. ``cache.links.unwrap_bare_anchors``: an anchor whose address was refused becomes its text
   (no ``<a>`` without ``href``: issue 19's Lighthouse SEO finding).
"""

from __future__ import annotations

from typing import Final
from urllib.parse import quote

import nh3

from cache.cooked import DateFormat, english_date, plain
from cache.links import LINK_SCHEMES, resolve, unwrap_bare_anchors

ALLOWED_TAGS: Final = frozenset(
    {
        "p", "br", "hr", "h2", "h3", "h4", "h5", "h6", "strong", "b", "em", "i", "u",
        "s", "del", "ins", "mark", "small", "sub", "sup", "blockquote", "code", "pre",
        "kbd", "samp", "ul", "ol", "li", "dl", "dt", "dd", "a", "table", "thead",
        "tbody", "tfoot", "tr", "th", "td", "caption", "details", "summary", "span",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES: Final = {
    "a": {"href", "title"},
    "th": {"colspan", "rowspan", "scope"},
    "td": {"colspan", "rowspan"},
    "ol": {"start"},
}
# Dropped with everything inside them, not just unwrapped.
DROPPED_WITH_CONTENT: Final = frozenset(
    {"script", "style", "iframe", "object", "embed", "noscript", "template", "svg", "math"}
)
URL_SCHEMES: Final = LINK_SCHEMES
LINK_REL: Final = "noopener noreferrer nofollow ugc"


def topic_url(site: str, slug: str, topic_id: int) -> str:
    """A topic's page on the community site (Discourse's ``/t/{slug}/{id}``): what its
    relative links are relative to. The slug is the origin's: quoted, so that no "?", "#"
    or "/.." in it moves the page."""
    return f"{site.rstrip('/')}/t/{quote(slug, safe='-_~%') or 'topic'}/{int(topic_id)}"


def sanitize(
    html: str, *, page_url: str | None = None, format_date: DateFormat = english_date
) -> str:
    """Safe HTML for a bulletin body whose page on the community site is `page_url` (see
    `topic_url`); without one, links that are not absolute are dropped to their text.
    `format_date` writes Discourse's local dates (``cache.localdates``; English by default)."""

    def addresses(tag: str, attribute: str, value: str) -> str | None:
        # ammonia has refused schemes outside `url_schemes` before this is called; relative
        # addresses reach here and are resolved, and the result is checked again.
        return resolve(value, page_url) if attribute == "href" else value

    cleaned = nh3.clean(
        plain(html, format_date),
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        attribute_filter=addresses,
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
    )
    return unwrap_bare_anchors(cleaned)
