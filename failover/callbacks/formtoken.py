"""Anti-forgery tokens for the callback form (pure: no I/O, no clock; `now` is a parameter).

The HTML form at ``POST /help/callbacks`` is protected the way the OWASP CSRF Prevention
Cheat Sheet calls a "signed double-submit cookie" (the HMAC-bound variant it recommends
over the naive one): rendering the form sets a random cookie (`new_cookie`) and puts a
token (`issue`) in a hidden field; the token carries an HMAC, under a server secret, of
that cookie. On submit, `verify` recomputes the HMAC from the cookie the browser sent
back. A cross-site page can make the browser send the cookie but cannot read it, so it
cannot produce a token bound to it; and since the binding needs the secret, an attacker
who can plant a cookie (a sibling subdomain, a man-in-the-middle on plain HTTP) still
cannot mint a matching token, which is what defeats the naive double submit.

Set the cookie ``HttpOnly`` (scripts never need it), ``SameSite=Strict`` (a second,
browser-side defence: cross-site requests do not carry it at all), ``Secure`` behind TLS,
and ``Path=/help`` (only the help pages see it).

Token: ``<nonce>.<issued>.<mac>``

- ``nonce``: 16 random bytes, base64url (22 characters), fresh on every render;
- ``issued``: when the form was rendered, integer Unix seconds, so `verify` can refuse
  stale forms (``max_age``) and tokens from the future (more than `MAX_SKEW_S` ahead:
  replicas with skewed clocks, or tampering);
- ``mac``: HMAC-SHA256(secret, ``"<cookie>|<nonce>|<issued>"``), base64url without
  padding, cut to 32 characters (192 bits). Neither the nonce nor the issued time can
  hold ``|``, so the signed message splits one way only.

Because each render gets its own nonce and only the server can mint a token, the token
also serves as the submission's idempotency key: a form submitted twice (a double click,
a browser retry) carries the same token and so gets the same ticket
(`failover.callbacks.request.ticket_id`), while two renders are two submissions.

`verify` never raises on what the browser sent (cookie and token: absent, empty, any
unicode, huge); it answers a `Verdict` whose `Reason` is a short code fit for logs and
metric labels, with a `message` fit for a customer. Tokens over `MAX_TOKEN_CHARS` are
refused unread. Errors (the server's own mistakes, never the customer's):

    ValueError
     - `issue`: a secret shorter than `MIN_SECRET_BYTES`, a malformed cookie (check it with
       `is_cookie`; mint a fresh one with `new_cookie`), a negative or non-finite `now`
     - `verify`: a short secret, a non-finite `now`, a `max_age` that is not positive
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from kernel.messages import N_

__all__ = [
    "MAX_COOKIE_CHARS",
    "MAX_SKEW_S",
    "MAX_TOKEN_CHARS",
    "MIN_SECRET_BYTES",
    "OK",
    "Reason",
    "Verdict",
    "is_cookie",
    "issue",
    "new_cookie",
    "verify",
]

MIN_SECRET_BYTES: Final = 16  # as [callbacks] form_secret's min_length
MAX_TOKEN_CHARS: Final = 200  # a real token is 22 + 1 + 10 + 1 + 32 = 66
MAX_COOKIE_CHARS: Final = 200  # a real cookie is 24
MAX_SKEW_S: Final = 60.0  # replicas' clocks may differ this much before "future"

_NONCE_BYTES: Final = 16
_MAC_CHARS: Final = 32
_URLSAFE: Final = r"[A-Za-z0-9_-]"
_COOKIE_RE: Final = re.compile(rf"{_URLSAFE}{{1,{MAX_COOKIE_CHARS}}}")
# Only the exact text `issue` writes: no sign, no leading zeros, ASCII digits only
# (str.isdigit would take "١٢" too).
_TOKEN_RE: Final = re.compile(
    rf"(?P<nonce>{_URLSAFE}{{16,64}})"
    r"\.(?P<issued>0|[1-9][0-9]{0,11})"
    rf"\.(?P<mac>{_URLSAFE}{{{_MAC_CHARS}}})"
)


class Reason(StrEnum):
    """Why a submission's token was refused (goes straight into logs and metric labels)."""

    MISSING = "missing"  # no token or no cookie: cookies blocked, or a cross-site post
    MALFORMED = "malformed"  # not something `issue` (or `new_cookie`) could have produced
    FORGED = "forged"  # the MAC does not match this cookie: tampered, or another's form
    EXPIRED = "expired"  # the form stayed open longer than max_age
    FUTURE = "future"  # issued more than MAX_SKEW_S ahead of now


_RELOAD: Final = N_("We could not check this form. Please reload the page and submit again.")
_MESSAGES: Final[dict[Reason | None, str]] = {  # for the catalog: shown translated
    None: "ok",
    Reason.MISSING: N_(
        "We could not check this form. Please make sure cookies are allowed "
        "for this site, reload the page and submit again."
    ),
    Reason.MALFORMED: _RELOAD,
    Reason.FORGED: _RELOAD,
    Reason.EXPIRED: N_("This form has expired. Please reload the page and submit again."),
    Reason.FUTURE: _RELOAD,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class Verdict:
    """What `verify` found: ``ok``, or the `Reason` it was refused for."""

    reason: Reason | None = None

    @property
    def ok(self) -> bool:
        return self.reason is None

    @property
    def message(self) -> str:
        """What to tell the customer; never says which check failed beyond "expired"."""
        return _MESSAGES[self.reason]


OK: Final = Verdict()
_REFUSED: Final = {reason: Verdict(reason=reason) for reason in Reason}


def new_cookie() -> str:
    """A fresh random cookie value (18 bytes, base64url: 24 characters)."""
    return secrets.token_urlsafe(18)


def is_cookie(cookie: str | None) -> bool:
    """Whether ``cookie`` could have come from `new_cookie` (else the caller mints a new one)."""
    return cookie is not None and _COOKIE_RE.fullmatch(cookie) is not None


def issue(secret: bytes, cookie: str, now: float) -> str:
    """A fresh token for one rendering of the form, bound to ``cookie``, issued at ``now``."""
    _check_secret(secret)
    if not is_cookie(cookie):
        raise ValueError("form token: cookie must be 1..200 base64url characters")
    if not math.isfinite(now) or now < 0:
        raise ValueError(f"form token: now must be a finite Unix time, got {now!r}")
    nonce = secrets.token_urlsafe(_NONCE_BYTES)
    issued = str(int(now))
    return f"{nonce}.{issued}.{_mac(secret, cookie, nonce, issued)}"


def verify(
    secret: bytes, cookie: str | None, token: str | None, now: float, *, max_age: float
) -> Verdict:
    """Whether ``token`` was issued for ``cookie`` under ``secret`` within ``max_age`` of now.

    Never raises on ``cookie`` or ``token``, whatever they hold.
    """
    _check_secret(secret)
    if not math.isfinite(now):
        raise ValueError(f"form token: now must be finite, got {now!r}")
    if not max_age > 0:  # also refuses NaN
        raise ValueError(f"form token: max_age must be positive, got {max_age!r}")
    if not token or not cookie:
        return _REFUSED[Reason.MISSING]
    if len(token) > MAX_TOKEN_CHARS or not is_cookie(cookie):
        return _REFUSED[Reason.MALFORMED]
    parts = _TOKEN_RE.fullmatch(token)
    if parts is None:
        return _REFUSED[Reason.MALFORMED]
    nonce, issued, mac = parts["nonce"], parts["issued"], parts["mac"]
    # Constant time, so the MAC cannot be guessed a character at a time (both are ASCII:
    # the pattern above admitted only base64url characters).
    if not hmac.compare_digest(mac, _mac(secret, cookie, nonce, issued)):
        return _REFUSED[Reason.FORGED]
    issued_at = int(issued)
    if issued_at - now > MAX_SKEW_S:
        return _REFUSED[Reason.FUTURE]
    if now - issued_at > max_age:
        return _REFUSED[Reason.EXPIRED]
    return OK


def _mac(secret: bytes, cookie: str, nonce: str, issued: str) -> str:
    # Only base64url characters and "|" here (callers check), so ASCII encodes them all.
    message = f"{cookie}|{nonce}|{issued}".encode("ascii")
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")[:_MAC_CHARS]


def _check_secret(secret: bytes) -> None:
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"form token: secret must be at least {MIN_SECRET_BYTES} bytes")
