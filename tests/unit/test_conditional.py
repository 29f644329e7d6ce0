"""ETag and If-None-Match (RFC 9110 13.1.2: weak comparison)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from cache.conditional import etag_of, not_modified


def test_etag_is_a_quoted_digest_that_changes_with_the_bytes() -> None:
    a, b = etag_of(b"page one"), etag_of(b"page two")
    assert a.startswith('"')
    assert a.endswith('"')
    assert a != b
    assert etag_of(b"page one") == a


def test_if_none_match_matches_exact_weak_listed_and_star() -> None:
    tag = etag_of(b"x")
    assert not_modified(tag, tag)
    assert not_modified(f"W/{tag}", tag)
    assert not_modified(f'"other", {tag}', tag)
    assert not_modified("*", tag)


def test_if_none_match_misses_when_absent_or_different() -> None:
    tag = etag_of(b"x")
    assert not not_modified(None, tag)
    assert not not_modified("", tag)
    assert not not_modified('"nope"', tag)


@given(st.binary(), st.binary())
def test_different_bytes_never_validate_each_other(one: bytes, two: bytes) -> None:
    if one != two:
        assert not not_modified(etag_of(one), etag_of(two))
