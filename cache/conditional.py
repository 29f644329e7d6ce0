"""HTTP validators for cached pages (pure): ETag and If-None-Match.

An ETag is a digest of the exact bytes served (strong validator). If-None-Match uses
the weak comparison function (RFC 9110 section 13.1.2): `W/"x"` matches `"x"`, and
`*` matches any current representation. A match answers 304 Not Modified, so a CDN
or browser in front revalidates for the price of a header.
"""

from __future__ import annotations

import hashlib


def etag_of(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


def _opaque(tag: str) -> str:
    tag = tag.strip()
    return tag[2:] if tag.startswith("W/") else tag


def not_modified(if_none_match: str | None, etag: str) -> bool:
    """True when the client's copy is current (answer 304)."""
    if not if_none_match:
        return False
    if if_none_match.strip() == "*":
        return True
    mine = _opaque(etag)
    return any(_opaque(candidate) == mine for candidate in if_none_match.split(","))
