"""Which language a page is in: ?lang=, the cookie, Accept-Language, the default
(cache/negotiate.py, issue 19). Accept-Language is hostile input."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cache.negotiate import (
    MAX_HEADER,
    MEMO_SIZE,
    Negotiator,
    cookie_language,
    parse_accept_language,
)

AVAILABLE = ("en", "fr", "es", "de")
OFFERED = frozenset(AVAILABLE)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("fr", "fr"),
        ("fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7", "fr"),  # a French Chrome
        ("de-DE", "de"),  # primary subtag
        ("es_ES", "es"),  # underscores, as some clients send them
        ("FR-ca", "fr"),  # case-insensitive
        ("en-US,en;q=0.9", "en"),
        ("it,de;q=0.5", "de"),  # the first we have
        ("de;q=0.5,fr;q=0.8", "fr"),  # by weight, not order
        ("fr;q=0.8,de;q=0.8", "fr"),  # equal weights: the first
        ("fr;q=0,de;q=0.1", "de"),  # q=0: "not this one"
        ("fr;q=0", None),
        ("*", "en"),  # anything: the default
        ("ja,*;q=0.5", "en"),
        ("it, pt-BR", None),
        ("", None),
        ("fr;q=2,de", "de"),  # a weight over 1 does not parse: that range is skipped
        ("fr;q=abc,es", "es"),
        ("fr;q=0.12345,es", "es"),  # more than three decimals
        ("fr;q=-1,es", "es"),
        ("fr;q=\u0660.\u0665,es", "es"),  # digits, but not ASCII ones (Arabic-Indic)
        ("fr;level=1;q=0.9", "fr"),  # other parameters are ignored
        (" , ;;, fr ,", "fr"),
        ("de" + ",x" * 100, "de"),
    ],
)
def test_accept_language_picks_the_best_language_we_have(header: str, expected: str | None) -> None:
    assert parse_accept_language(header, AVAILABLE, "en") == expected


def test_only_the_first_ranges_of_a_long_header_are_read() -> None:
    header = ",".join(["it"] * 30 + ["fr"])  # fr is past MAX_RANGES
    assert parse_accept_language(header, AVAILABLE, "en") is None
    assert parse_accept_language("it," * MAX_HEADER + "fr", AVAILABLE, "en") is None


@pytest.mark.parametrize(
    ("cookie", "expected"),
    [
        (None, None),
        ("", None),
        ("sb_lang=fr", "fr"),
        ("a=1; sb_lang=de; b=2", "de"),
        ("a=1;sb_lang=es", "es"),
        ('sb_lang="fr"', "fr"),
        ("sb_lang=xx", None),  # a language we do not have
        ("sb_lang=", None),
        ("xsb_lang=fr", None),  # another cookie's name ending like ours
        ("xsb_lang=fr; sb_lang=de", "de"),
        ("sb_lang=" + "f" * 10_000, None),
    ],
)
def test_the_cookie_is_read_straight_from_the_header(
    cookie: str | None, expected: str | None
) -> None:
    assert cookie_language(cookie, OFFERED) == expected


def test_the_cookie_wins_over_accept_language_and_the_default_comes_last() -> None:
    n = Negotiator(AVAILABLE, "en")
    assert n.from_headers("sb_lang=de", "fr") == "de"
    assert n.from_headers("sb_lang=zz", "fr") == "fr"
    assert n.from_headers(None, "fr-CH") == "fr"
    assert n.from_headers(None, "ja") == "en"
    assert n.from_headers(None, None) == "en"
    assert n.from_headers("other=1", "") == "en"


def test_lang_query_names_a_language_we_have_or_nothing() -> None:
    n = Negotiator(AVAILABLE, "en")
    assert n.chosen("fr") == "fr"
    assert n.chosen(" DE ") == "de"
    assert n.chosen("xx") is None
    assert n.chosen("") is None
    assert n.chosen(None) is None


def test_the_default_must_be_one_of_the_languages() -> None:
    with pytest.raises(ValueError, match="default language"):
        Negotiator(("fr",), "en")


def test_the_memo_of_headers_stays_bounded() -> None:
    n = Negotiator(AVAILABLE, "en")
    for i in range(MEMO_SIZE * 3):
        assert n.from_headers(None, f"fr;q=0.{i % 1000:03d},x-{i}") in ("fr", "en")
    assert len(n._memo) <= MEMO_SIZE
    n.from_headers(None, "de," * MAX_HEADER)  # too long to keep
    assert "de," * MAX_HEADER not in n._memo


def test_a_huge_hostile_header_is_cheap() -> None:
    n = Negotiator(AVAILABLE, "en")
    huge = "x-" * 500_000 + ";q=" + "9" * 100_000
    started = time.process_time()
    for _ in range(100):
        assert n.from_headers("sb_lang=" * 10_000, huge) == "en"
    # Capped work: far below what parsing 1 MB a time would cost (generous for a busy box).
    assert time.process_time() - started < 1.0


HEADER_CHARS = st.sampled_from([*'abcdefrsz-_*;,=q.0123456789 \t"', "é", "\x00", "\u0665"])


@settings(max_examples=400)
@given(
    st.one_of(st.text(max_size=2000), st.text(HEADER_CHARS, max_size=300)),
    st.one_of(st.none(), st.text(max_size=200), st.text(HEADER_CHARS, max_size=60)),
)
def test_any_header_gives_a_language_we_have_and_never_raises(
    accept: str, cookie: str | None
) -> None:
    n = Negotiator(AVAILABLE, "en")
    assert n.from_headers(cookie, accept) in OFFERED
    assert parse_accept_language(accept, AVAILABLE, "en") in (*AVAILABLE, None)


@given(st.permutations(["fr;q=0.3", "de;q=0.9", "es;q=0.5", "it;q=1"]))
def test_the_weight_decides_whatever_the_order(ranges: list[str]) -> None:
    assert parse_accept_language(",".join(ranges), AVAILABLE, "en") == "de"
