"""Which language a customer page is in (pure): `?lang=`, else the `sb_lang` cookie,
else `Accept-Language`, else the default (issue 19).

`Accept-Language` comes from the network, so it is hostile: only its first
`MAX_HEADER` characters and `MAX_RANGES` ranges are read, a range or weight that does
not parse is skipped (never an error), and a weight of 0 means "not this one" (RFC 9110
section 12.5.4; weights section 12.4.2). Ranges match on the primary subtag: "fr-CA"
asks for "fr". "*" accepts anything, so it gets the default.

The bulletin page's hot path asks once per request (cache/web.py); a bounded memo of
header -> language keeps the common headers (a few browser defaults) at a dictionary
lookup.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

COOKIE: Final = "sb_lang"
QUERY: Final = "lang"
MAX_HEADER: Final = 512  # characters of Accept-Language read; browsers send under 100
MAX_RANGES: Final = 24
MEMO_SIZE: Final = 256


def _weight(params: str) -> float | None:
    """The q of `;q=0.8` (RFC 9110 12.4.2: 0 to 1, three decimals at most), 1 without
    one, None when it does not parse (the range is skipped)."""
    q = 1.0
    for param in params.split(";")[:4]:
        name, _, value = param.partition("=")
        if name.strip().lower() != "q":
            continue
        value = value.strip()
        if (
            not 1 <= len(value) <= 5
            or value[0] not in "01"
            or not value.replace(".", "", 1).isdigit()
        ):
            return None
        if not value.isascii():
            return None
        q = float(value)
        if q > 1:
            return None
    return q


def parse_accept_language(header: str, available: Iterable[str], default: str) -> str | None:
    """The language of `available` the header ranks highest (the first of equals), the
    default for "*", None when it names none of them."""
    offered = frozenset(available)
    best: str | None = None
    best_q = 0.0
    for item in header[:MAX_HEADER].split(",")[:MAX_RANGES]:
        tag, _, params = item.partition(";")
        primary = tag.strip().split("-", 1)[0].split("_", 1)[0].lower()
        if primary == "*":
            primary = default
        elif primary not in offered:
            continue
        q = _weight(params) if params else 1.0
        if q is not None and q > best_q:
            best, best_q = primary, q
    return best


def cookie_language(cookie_header: str | None, available: frozenset[str]) -> str | None:
    """The `sb_lang` cookie's language, read straight from the Cookie header: the hot
    path does not parse every cookie. Unknown values are ignored."""
    if not cookie_header:
        return None
    at = cookie_header.find(COOKIE + "=")
    while at >= 0:
        if at == 0 or cookie_header[at - 1] in " ;":
            start = at + len(COOKIE) + 1
            value = cookie_header[start : start + 16].split(";", 1)[0].strip().strip('"')
            return value if value in available else None
        at = cookie_header.find(COOKIE + "=", at + 1)
    return None


class Negotiator:
    """The language of one request, from what it asks for (see the module docstring)."""

    __slots__ = ("_memo", "available", "default")

    def __init__(self, available: Iterable[str], default: str) -> None:
        self.available: frozenset[str] = frozenset(available)
        if default not in self.available:
            raise ValueError(f"default language {default!r} is not available")
        self.default = default
        self._memo: dict[str, str] = {}

    def chosen(self, query: str | None) -> str | None:
        """The language a `?lang=` asks for, if it is one we have."""
        if query is None:
            return None
        value = query.strip().lower()
        return value if value in self.available else None

    def from_headers(self, cookie_header: str | None, accept_language: str | None) -> str:
        """The cookie's language, else Accept-Language's, else the default."""
        lang = cookie_language(cookie_header, self.available)
        if lang is not None:
            return lang
        if not accept_language:
            return self.default
        lang = self._memo.get(accept_language)
        if lang is None:
            lang = (
                parse_accept_language(accept_language, self.available, self.default) or self.default
            )
            if len(accept_language) <= MAX_HEADER:  # long ones are parsed (capped), not kept
                if len(self._memo) >= MEMO_SIZE:
                    self._memo.clear()  # bounded; the common headers come back at once
                self._memo[accept_language] = lang
        return lang
