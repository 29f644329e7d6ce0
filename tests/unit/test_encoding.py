"""gzip for pages: made once per rendered page, picked per request (RFC 9110 12.5.3)."""

from __future__ import annotations

import gzip

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cache.encoding import MIN_BYTES, page_of, wants_gzip

HTML = b"<!doctype html><p>" + b"Unplug the router, wait thirty seconds. " * 60 + b"</p>"


def test_a_page_gets_a_gzip_copy_with_its_own_strong_etag() -> None:
    page = page_of(HTML)
    assert page.gzip is not None
    assert gzip.decompress(page.gzip) == HTML
    assert len(page.gzip) < len(HTML) / 4
    assert page.gzip_etag != page.etag
    assert page.gzip_etag.startswith('"')
    assert page.gzip_etag.endswith('-gz"')
    # The same bytes on every replica: the ETag does not depend on when it was made.
    assert page_of(HTML) == page


def test_tiny_bodies_and_pages_with_secrets_are_not_compressed() -> None:
    assert page_of(b"x" * (MIN_BYTES - 1)).gzip is None
    assert page_of(HTML, compress=False).gzip is None
    assert page_of(HTML, compress=False).gzip_etag == ""


@pytest.mark.parametrize(
    ("header", "takes"),
    [
        ("gzip, deflate, br", True),
        ("br;q=1.0, gzip;q=0.8, *;q=0.1", True),
        ("GZIP", True),
        ("x-gzip", True),
        ("*", True),
        ("identity", False),
        ("br", False),
        ("gzip;q=0", False),
        ("gzip;q=0.000", False),
        ("*;q=0.5, gzip;q=0", False),
        ("gzip;q=2", False),
        ("gzip;q=nan", False),
        ("gzip;q=oops", False),
        ("", False),
        (None, False),
        ("deflate, " * 100 + "gzip", False),  # only the first 32 codings are read
    ],
)
def test_accept_encoding_is_read_with_its_q_values(header: str | None, takes: bool) -> None:
    assert wants_gzip(header) is takes


@given(st.text(max_size=300))
def test_any_header_is_answered_without_an_error(header: str) -> None:
    assert wants_gzip(header) in (True, False)
