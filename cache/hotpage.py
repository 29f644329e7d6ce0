"""The bulletin page's hot path, as values: a page rendered before with its answers'
headers built once (cache/web.py sends them as they are), and its gzip copy's."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import hdrs
from multidict import CIMultiDict, CIMultiDictProxy, istr

from cache.model import Bulletin
from cache.rendered import Outage, Page


@dataclass(frozen=True, slots=True)
class FreshPage:
    """A bulletin page that may be sent as is until `fresh_until`: the hot path. Its
    headers are built once, with case-insensitive keys made once (`istr`), so that each
    answer copies them instead of building them again."""

    id: int
    page: Page
    stored_at: float
    fresh_until: float
    author: str
    outage: Outage
    headers: CIMultiDict[str]  # a 200's; a 304 leaves out Content-Type (RFC 9110 15.4.5)
    not_modified_headers: CIMultiDict[str]
    gz: Encoded | None = None  # the gzip copy (cache/encoding.py), when the page has one


@dataclass(frozen=True, slots=True)
class Encoded:
    """A hot page's gzip copy with its own ETag and prebuilt headers."""

    body: bytes
    etag: str
    headers: CIMultiDict[str]
    not_modified_headers: CIMultiDict[str]


def fresh_page(
    b: Bulletin, page: Page, *, stored_at: float, fresh_until: float, cache_control: str,
    outage: Outage, page_headers: CIMultiDictProxy[str], extra: dict[istr, str],
) -> FreshPage:  # fmt: skip
    """The page and its headers, made once: with the pages' security headers already in
    (kernel/security_headers.py), so that the response hook finds them and adds nothing.
    `extra`: the language's headers (cache/pagelang.py); a page with a gzip copy also
    varies on Accept-Encoding."""
    same = {hdrs.ETAG: page.etag, hdrs.CACHE_CONTROL: cache_control, **extra}
    if page.gzip is not None:
        vary = same.get(istr(hdrs.VARY))
        same[istr(hdrs.VARY)] = f"{vary}, Accept-Encoding" if vary else "Accept-Encoding"
    gz_same = {**same, hdrs.ETAG: page.gzip_etag}
    html = {hdrs.CONTENT_TYPE: "text/html; charset=utf-8"}
    gz = {hdrs.CONTENT_ENCODING: "gzip"}
    return FreshPage(
        id=b.id,
        page=page,
        stored_at=stored_at,
        fresh_until=fresh_until,
        author=b.author,
        outage=outage,
        headers=_prebuilt(page_headers, {**same, **html}),
        not_modified_headers=_prebuilt(page_headers, same),
        gz=None
        if page.gzip is None
        else Encoded(
            body=page.gzip,
            etag=page.gzip_etag,
            headers=_prebuilt(page_headers, {**gz_same, **html, **gz}),
            not_modified_headers=_prebuilt(page_headers, gz_same),
        ),
    )


def _prebuilt(page_headers: CIMultiDictProxy[str], headers: dict[istr, str]) -> CIMultiDict[str]:
    """With the pages' security headers already in (kernel/security_headers.py), so
    that the response hook finds them there and adds nothing."""
    out = CIMultiDict(headers)
    out.extend(page_headers)
    return out
