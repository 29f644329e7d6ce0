"""Sanitizing customer-written bulletin HTML before it is stored for rendering.

Bulletins are written by customers on the community site; the site's "cooked" HTML is
what any customer could type. It goes through nh3 (the Rust `ammonia` sanitizer) with
an explicit allow-list: the formatting a help article needs, nothing that runs code,
loads frames, submits forms or styles the page. Links may only be http(s), mailto or
relative; every link gets `rel="noopener noreferrer nofollow ugc"` (Google's `ugc` for
user-generated content). Images are kept only as links to their source: loading a
remote image from a support page leaks the customer's visit to whoever wrote the post.
"""

from __future__ import annotations

import re
from typing import Final

import nh3

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
URL_SCHEMES: Final = frozenset({"http", "https", "mailto"})
_IMG = re.compile(r"<img\b[^>]*?\bsrc\s*=\s*(['\"])(.*?)\1[^>]*>", re.IGNORECASE | re.DOTALL)


def _image_as_link(match: re.Match[str]) -> str:
    # Escaping and scheme checks are left to nh3, which sees the <a> like any other.
    return f'<a href="{match.group(2)}">[image]</a>'


def sanitize(html: str) -> str:
    """Safe HTML for a bulletin body."""
    return nh3.clean(
        _IMG.sub(_image_as_link, html),
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(DROPPED_WITH_CONTENT),
        attributes={tag: set(attrs) for tag, attrs in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer nofollow ugc",
        strip_comments=True,
    )
