"""Freshness of a cached bulletin or page, and what to do about it (pure: no I/O, no clock).

The vocabulary is RFC 5861 ("HTTP Cache-Control Extensions for Stale Content") on top
of RFC 9111 (HTTP Caching):

- FRESH: age below `max_age` (RFC 9111 section 4.2: fresh while the freshness lifetime
  exceeds the current age). Serve the copy.
- STALE: within `max_age + stale_while_revalidate`. Serve the copy now and revalidate in
  the background (RFC 5861 section 3).
- STALE_IF_ERROR: within a further `stale_if_error`. Fetch first; serve the copy only if
  the origin fails (RFC 5861 section 4: an error is a 500, 502, 503 or 504, or no
  answer at all) or is already known to be down.
- EXPIRED: beyond every window. Fetch; if that fails, still serve the copy as a last
  resort, marked old (the caller knows it is EXPIRED). RFC 5861 section 4 says such a
  copy SHOULD NOT be used "absent other information"; ours is the contract that a
  customer never gets a 5xx because a dependency failed.

Our windows stack (stale-if-error starts where stale-while-revalidate ends), where RFC
5861 measures both from the end of freshness; `cache_control` translates, so that a
downstream cache reading our header keeps the same bands.

One rule goes beyond RFC 5861 (the self-help issue): "A stale answer is immediate: while
the origin's breaker is open, serve the stale copy at once instead of waiting for an
origin timeout first (a known weakness of CDN stale-if-error)". With the breaker open and
a copy in hand the plan is to answer from the copy, with no fetch at all; probing the
origin again is the breaker's half-open logic, not ours.

`judge(stored_at, now, policy)` -> `Freshness`; `plan(freshness, origin_open=,
have_copy=)` looks the answer up in `PLANS`, a table that tests walk.
"""

from __future__ import annotations

import enum
import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

# RFC 9111 section 1.2.2: a delta-seconds value too large to represent is taken as 2^31.
MAX_DELTA_SECONDS: Final = 2**31


class Freshness(enum.StrEnum):
    """From freshest to oldest; the definition order is that order."""

    FRESH = "fresh"
    STALE = "stale"
    STALE_IF_ERROR = "stale_if_error"
    EXPIRED = "expired"


class Fetch(enum.StrEnum):
    NONE = "none"
    BACKGROUND = "background"  # answer from the copy, refresh it afterwards
    FOREGROUND = "foreground"  # the customer waits for the origin


@dataclass(frozen=True, slots=True, kw_only=True)
class FreshnessPolicy:
    """Windows in whole seconds (header values are delta-seconds, RFC 9111 section 1.2.2)."""

    max_age: int = 60
    stale_while_revalidate: int = 300
    stale_if_error: int = 86_400

    def __post_init__(self) -> None:
        for name in ("max_age", "stale_while_revalidate", "stale_if_error"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int number of seconds, got {value!r}")
            if not 0 <= value <= MAX_DELTA_SECONDS:
                raise ValueError(f"{name} must be within 0..2**31 seconds, got {value}")


def age(stored_at: float, now: float) -> int:
    """The `Age` header value: whole seconds since the copy was stored (RFC 9111 section
    5.1), never negative (a clock stepping back must not make a copy younger than new)."""
    elapsed = now - stored_at
    if not elapsed > 0:  # also NaN
        return 0
    return min(math.floor(elapsed), MAX_DELTA_SECONDS)


def judge(stored_at: float, now: float, policy: FreshnessPolicy) -> Freshness:
    """Which band a copy stored at `stored_at` is in at `now`. Bands are half-open
    ([0, max_age) is FRESH), so a zero-width window is simply skipped."""
    elapsed = max(0.0, now - stored_at)
    fresh_until = policy.max_age
    stale_until = fresh_until + policy.stale_while_revalidate
    error_until = stale_until + policy.stale_if_error
    if elapsed < fresh_until:
        return Freshness.FRESH
    if elapsed < stale_until:
        return Freshness.STALE
    if elapsed < error_until:
        return Freshness.STALE_IF_ERROR
    return Freshness.EXPIRED


def cache_control(policy: FreshnessPolicy) -> str:
    """The `Cache-Control` of a response built from this policy (RFC 5861 sections 3-4).

    RFC 5861 measures stale-if-error as staleness (age beyond max-age), so our stacked
    window is announced as `stale_while_revalidate + stale_if_error`: a downstream cache
    then serves stale-on-error exactly as long as we do."""
    swr = policy.stale_while_revalidate
    sie = min(swr + policy.stale_if_error, MAX_DELTA_SECONDS)
    return f"public, max-age={policy.max_age}, stale-while-revalidate={swr}, stale-if-error={sie}"


@dataclass(frozen=True, slots=True, kw_only=True)
class Plan:
    """What to do with one request for a cacheable resource; the driver acts on it."""

    serve_cached_now: bool  # answer immediately from the copy
    fetch: Fetch
    fallback_to_cached: bool  # if the foreground fetch fails, answer from the copy

    def __post_init__(self) -> None:
        # An immediate answer makes a foreground fetch pointless, a background refresh
        # only exists behind an immediate answer, and a fallback needs a foreground fetch.
        if self.serve_cached_now and self.fetch is Fetch.FOREGROUND:
            raise ValueError("a plan that answers from the copy at once fetches in background")
        if self.fetch is Fetch.BACKGROUND and not self.serve_cached_now:
            raise ValueError("a background fetch needs an answer from the copy")
        if self.fallback_to_cached and self.fetch is not Fetch.FOREGROUND:
            raise ValueError("a fallback only applies to a foreground fetch")


SERVE: Final = Plan(serve_cached_now=True, fetch=Fetch.NONE, fallback_to_cached=False)
SERVE_AND_REFRESH: Final = Plan(
    serve_cached_now=True, fetch=Fetch.BACKGROUND, fallback_to_cached=False
)
FETCH_OR_SERVE: Final = Plan(
    serve_cached_now=False, fetch=Fetch.FOREGROUND, fallback_to_cached=True
)
FETCH: Final = Plan(serve_cached_now=False, fetch=Fetch.FOREGROUND, fallback_to_cached=False)

# Keyed by (freshness, origin_open, have_copy). With a copy and a closed breaker we follow
# RFC 5861 (extended past stale-if-error by the never-a-5xx contract); with the breaker
# open the copy answers at once, whatever its age (the issue's "stale answer is
# immediate" rule). Without a copy, freshness means nothing and we must ask the origin;
# if the breaker is open the driver fails fast through it and shows its own page.
_WITH_COPY: Final[dict[tuple[Freshness, bool], Plan]] = {
    (Freshness.FRESH, False): SERVE,
    (Freshness.STALE, False): SERVE_AND_REFRESH,  # RFC 5861 section 3
    (Freshness.STALE_IF_ERROR, False): FETCH_OR_SERVE,  # RFC 5861 section 4
    (Freshness.EXPIRED, False): FETCH_OR_SERVE,  # last resort, marked old
    (Freshness.FRESH, True): SERVE,
    (Freshness.STALE, True): SERVE,  # no refresh: the breaker decides when to probe
    (Freshness.STALE_IF_ERROR, True): SERVE,  # the error is already known
    (Freshness.EXPIRED, True): SERVE,  # last resort, marked old, without the wait
}

PLANS: Final[Mapping[tuple[Freshness, bool, bool], Plan]] = {
    (freshness, origin_open, have_copy): (
        _WITH_COPY[freshness, origin_open] if have_copy else FETCH
    )
    for freshness, origin_open, have_copy in itertools.product(
        Freshness, (False, True), (False, True)
    )
}


def plan(freshness: Freshness, *, origin_open: bool, have_copy: bool) -> Plan:
    """The plan for a request, given the copy's band (anything when there is no copy) and
    whether the origin's breaker is open."""
    return PLANS[freshness, origin_open, have_copy]
