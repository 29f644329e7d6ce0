"""Compressed pages (pure, but for zlib): gzip once when a page is rendered, the
encoding picked per request from `Accept-Encoding` (RFC 9110 section 12.5.3).

A rendered page is cached as bytes (cache/rendered.py `Page`); its gzip copy is made
with it, once, never per request, so a cached page costs the same whichever a client
takes. Each encoding is its own representation with its own strong ETag (the gzip
one ends `-gz"`), so a 304 never confirms bytes the client does not hold, and every
answer that has both says `Vary: Accept-Encoding` for the caches in front.

Not compressed: bodies under MIN_BYTES (gzip's header and a round trip of CPU for a few
bytes saved), and the callback pages, which carry the form token next to what the
customer typed (compression would let a page's length tell a secret: BREACH). gzip
only: no Brotli library is a runtime dependency, and gzip takes a 6 KiB page to about
2 KiB already. `mtime=0` keeps the bytes, and so the ETag, the same on every replica.
"""

from __future__ import annotations

import gzip
from typing import Final

from cache.conditional import etag_of
from cache.rendered import Page

MIN_BYTES: Final = 1024
LEVEL: Final = 6  # zlib's default: within a few % of 9 on HTML, at half the CPU
_KNOWN: dict[str, bool] = {}  # Accept-Encoding values seen: browsers send a handful
_KNOWN_MAX: Final = 256


def page_of(body: bytes, *, compress: bool = True) -> Page:
    """The page with its ETag, and its gzip copy when it is worth one."""
    if not compress or len(body) < MIN_BYTES:
        return Page(body, etag_of(body))
    etag = etag_of(body)
    return Page(body, etag, gzip.compress(body, compresslevel=LEVEL, mtime=0), etag[:-1] + '-gz"')


def wants_gzip(accept_encoding: str | None) -> bool:
    """Whether a client that sent this `Accept-Encoding` takes gzip: named (or `x-gzip`,
    or `*`) with a q-value above 0. Remembered per header value, so the hot path parses
    a browser's header once."""
    if not accept_encoding:
        return False
    known = _KNOWN.get(accept_encoding)
    if known is None:
        known = _parse(accept_encoding)
        if len(_KNOWN) >= _KNOWN_MAX:
            _KNOWN.clear()
        _KNOWN[accept_encoding] = known
    return known


def _parse(header: str) -> bool:
    named: float | None = None
    star: float | None = None
    for item in header.split(",")[:32]:  # bounded: a header is the client's to inflate
        coding, _, params = item.partition(";")
        coding = coding.strip().lower()
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value.strip())
                except ValueError:
                    q = 0.0
                if not 0.0 <= q <= 1.0:  # also NaN
                    q = 0.0
        if coding in ("gzip", "x-gzip"):
            named = q if named is None else max(named, q)
        elif coding == "*":
            star = q
    if named is not None:
        return named > 0
    return star is not None and star > 0
