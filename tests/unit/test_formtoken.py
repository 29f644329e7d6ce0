"""Callback form anti-forgery tokens: signed double-submit cookie, expiry, never raising."""

from __future__ import annotations

import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from failover.callbacks.formtoken import (
    MAX_SKEW_S,
    MAX_TOKEN_CHARS,
    MIN_SECRET_BYTES,
    OK,
    Reason,
    Verdict,
    is_cookie,
    issue,
    new_cookie,
    verify,
)

SECRET = b"0123456789abcdef-test-secret"
COOKIE = "c00kie-Value_0123456789ab"
NOW = 1_700_000_000.75
MAX_AGE = 7200.0
URLSAFE = string.ascii_letters + string.digits + "-_"


def check(token: str | None, *, cookie: str | None = COOKIE, now: float = NOW) -> Verdict:
    return verify(SECRET, cookie, token, now, max_age=MAX_AGE)


def swap_char(text: str, index: int) -> str:
    """``text`` with the character at ``index`` replaced by another base64url character."""
    replacement = "A" if text[index] != "A" else "B"
    return text[:index] + replacement + text[index + 1 :]


def test_new_cookie_is_random_urlsafe_and_accepted_by_is_cookie() -> None:
    cookies = {new_cookie() for _ in range(50)}
    assert len(cookies) == 50
    for cookie in cookies:
        assert len(cookie) == 24
        assert set(cookie) <= set(URLSAFE)
        assert is_cookie(cookie)


def test_issued_token_verifies_for_its_cookie() -> None:
    token = issue(SECRET, COOKIE, NOW)
    verdict = check(token)
    assert verdict == OK
    assert verdict.ok
    assert verdict.reason is None


def test_token_is_nonce_issued_seconds_and_mac() -> None:
    token = issue(SECRET, COOKIE, NOW)
    nonce, issued, mac = token.split(".")
    assert len(nonce) == 22
    assert issued == "1700000000"
    assert len(mac) == 32
    assert set(nonce + mac) <= set(URLSAFE)
    assert len(token) <= MAX_TOKEN_CHARS


def test_every_render_gets_a_fresh_token() -> None:
    tokens = {issue(SECRET, COOKIE, NOW) for _ in range(50)}
    assert len(tokens) == 50
    assert all(check(token).ok for token in tokens)


def test_same_token_verifies_again_so_it_can_be_the_idempotency_key() -> None:
    token = issue(SECRET, COOKIE, NOW)
    assert check(token).ok
    assert check(token, now=NOW + 5).ok


@pytest.mark.parametrize(
    ("cookie", "token"),
    [(COOKIE, None), (COOKIE, ""), (None, "x.1.y"), ("", "x.1.y"), (None, None)],
)
def test_absent_token_or_cookie_is_missing(cookie: str | None, token: str | None) -> None:
    assert check(token, cookie=cookie).reason is Reason.MISSING


def test_missing_cookie_is_reported_even_with_a_valid_token() -> None:
    token = issue(SECRET, COOKIE, NOW)
    assert check(token, cookie=None).reason is Reason.MISSING


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "a.b",
        "a.b.c.d",
        "..",
        "AAAAAAAAAAAAAAAAAAAAAA.1700000000.",
        "AAAAAAAAAAAAAAAAAAAAAA.-1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "AAAAAAAAAAAAAAAAAAAAAA.+1.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "AAAAAAAAAAAAAAAAAAAAAA.01.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "AAAAAAAAAAAAAAAAAAAAAA.1.5.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "AAAAAAAAAAAAAAAAAAAAAA.١٢.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",  # Arabic-Indic digits
        "AAAAAAAAAAAAAAAAAAAAAA.1700000000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",  # 33-char mac
        "AAAAAAAAAAAAAAAAAAAAAA.1700000000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "AAAAAAAAAAAAAAAAAAAAA+.1700000000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "short.1700000000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "ÄAAAAAAAAAAAAAAAAAAAAA.1700000000.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "A" * (MAX_TOKEN_CHARS + 1),
        "\ud800",
    ],
)
def test_token_not_shaped_like_an_issued_one_is_malformed(token: str) -> None:
    assert check(token).reason is Reason.MALFORMED


def test_valid_token_with_trailing_newline_is_malformed() -> None:
    assert check(issue(SECRET, COOKIE, NOW) + "\n").reason is Reason.MALFORMED


@pytest.mark.parametrize("cookie", ["has space", "a|b", "ü" * 5, "x" * 201, "\x00"])
def test_cookie_not_shaped_like_a_new_cookie_is_malformed(cookie: str) -> None:
    assert not is_cookie(cookie)
    assert check(issue(SECRET, COOKIE, NOW), cookie=cookie).reason is Reason.MALFORMED


def test_token_issued_for_another_cookie_is_forged() -> None:
    token = issue(SECRET, new_cookie(), NOW)
    assert check(token).reason is Reason.FORGED


def test_token_signed_with_another_secret_is_forged() -> None:
    token = issue(b"another-secret-of-16+bytes", COOKIE, NOW)
    assert check(token).reason is Reason.FORGED


@pytest.mark.parametrize("part", [0, 1, 2], ids=["nonce", "issued", "mac"])
def test_tampering_with_any_part_of_the_token_is_forged(part: int) -> None:
    pieces = issue(SECRET, COOKIE, NOW).split(".")
    if part == 1:
        pieces[1] = str(int(pieces[1]) - 1)  # an older form, same shape
    else:
        pieces[part] = swap_char(pieces[part], 3)
    assert check(".".join(pieces)).reason is Reason.FORGED


def test_later_issued_time_to_extend_a_form_is_forged() -> None:
    nonce, issued, mac = issue(SECRET, COOKIE, NOW - MAX_AGE - 10).split(".")
    extended = f"{nonce}.{int(issued) + 3600}.{mac}"
    assert check(extended).reason is Reason.FORGED


def test_mac_is_checked_before_the_time_so_forgeries_never_say_expired() -> None:
    nonce, issued, mac = issue(SECRET, COOKIE, 1000.0).split(".")
    assert check(f"{nonce}.{issued}.{swap_char(mac, 0)}").reason is Reason.FORGED


def test_form_is_accepted_up_to_max_age_and_expired_after() -> None:
    token = issue(SECRET, COOKIE, 1000.9)  # issued at 1000 (whole seconds)
    assert check(token, now=1000.0 + MAX_AGE).ok
    assert check(token, now=1000.0 + MAX_AGE + 0.001).reason is Reason.EXPIRED
    assert check(token, now=1000.0 + 10 * MAX_AGE).reason is Reason.EXPIRED


def test_token_up_to_skew_ahead_is_accepted_and_further_ahead_is_future() -> None:
    token = issue(SECRET, COOKIE, 5000.0)  # e.g. a replica whose clock runs ahead
    assert check(token, now=5000.0 - MAX_SKEW_S).ok
    assert check(token, now=5000.0 - MAX_SKEW_S - 0.001).reason is Reason.FUTURE


def test_messages_are_customer_safe_and_only_expiry_is_told_apart() -> None:
    for reason in Reason:
        message = Verdict(reason=reason).message
        assert "reload" in message
        assert "forged" not in message.lower()
        assert "mac" not in message.lower()
    assert "expired" in Verdict(reason=Reason.EXPIRED).message
    assert Verdict(reason=Reason.FORGED).message == Verdict(reason=Reason.MALFORMED).message


def test_reasons_are_the_log_codes() -> None:
    assert [r.value for r in Reason] == ["missing", "malformed", "forged", "expired", "future"]


@pytest.mark.parametrize("secret", [b"", b"short", b"x" * (MIN_SECRET_BYTES - 1)])
def test_short_secret_is_refused_by_issue_and_verify(secret: bytes) -> None:
    with pytest.raises(ValueError, match="secret"):
        issue(secret, COOKIE, NOW)
    with pytest.raises(ValueError, match="secret"):
        verify(secret, COOKIE, "x.1.y", NOW, max_age=MAX_AGE)


@pytest.mark.parametrize("cookie", ["", "a|b", "x" * 201])
def test_issue_refuses_a_cookie_no_token_could_verify_against(cookie: str) -> None:
    with pytest.raises(ValueError, match="cookie"):
        issue(SECRET, cookie, NOW)


@pytest.mark.parametrize("now", [float("nan"), float("inf"), -1.0])
def test_issue_refuses_a_time_that_is_not_a_unix_time(now: float) -> None:
    with pytest.raises(ValueError, match="now"):
        issue(SECRET, COOKIE, now)


@pytest.mark.parametrize("max_age", [0.0, -1.0, float("nan")])
def test_verify_refuses_a_max_age_that_is_not_positive(max_age: float) -> None:
    with pytest.raises(ValueError, match="max_age"):
        verify(SECRET, COOKIE, issue(SECRET, COOKIE, NOW), NOW, max_age=max_age)


def test_verify_refuses_a_non_finite_now() -> None:
    with pytest.raises(ValueError, match="now"):
        verify(SECRET, COOKIE, issue(SECRET, COOKIE, NOW), float("nan"), max_age=MAX_AGE)


# --- properties ----------------------------------------------------------------------------

cookies = st.text(alphabet=URLSAFE, min_size=1, max_size=40)
# Text near the token's shape (base64url, dots, digits) reaches deeper than random unicode.
token_like = st.text(alphabet=URLSAFE + ".", max_size=120)
anything = st.none() | st.text() | st.text(min_size=150, max_size=400) | token_like


@given(cookie=anything, token=anything, now=st.floats(0, 1e11))
def test_verify_never_raises_and_refuses_what_issue_did_not_make(
    cookie: str | None, token: str | None, now: float
) -> None:
    verdict = verify(SECRET, cookie, token, now, max_age=MAX_AGE)
    assert isinstance(verdict, Verdict)
    assert not verdict.ok
    assert isinstance(verdict.message, str)


@given(mine=cookies, theirs=cookies, now=st.floats(0, 1e11), later=st.floats(0, MAX_AGE - 1))
def test_token_issued_for_one_cookie_never_verifies_for_another(
    mine: str, theirs: str, now: float, later: float
) -> None:
    token = issue(SECRET, mine, now)
    assert verify(SECRET, mine, token, now + later, max_age=MAX_AGE).ok
    if theirs != mine:
        assert verify(SECRET, theirs, token, now + later, max_age=MAX_AGE).reason is Reason.FORGED


@given(data=st.data())
def test_any_single_character_change_to_a_token_is_refused(data: st.DataObject) -> None:
    token = issue(SECRET, COOKIE, NOW)
    index = data.draw(st.integers(0, len(token) - 1))
    char = data.draw(st.characters().filter(lambda c: c != token[index]))
    changed = token[:index] + char + token[index + 1 :]
    assert not check(changed).ok
