"""The `[limits]` section: per-client rate limits and "counted once" windows (issue 14).

A client is one IP address (an IPv6 /`ipv6_prefix` network), as `kernel/limits/identity`
finds it behind `server.trusted_proxies`. Sizes are per client and per action; the
arithmetic behind the defaults (50 customers behind one carrier-grade NAT) is in
docs/security.md, "Limits".
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, StrictBool, StrictInt

from failover.settings.validators import AtLeastOne, Millis, PositiveSeconds, _Section

PerHour = Annotated[StrictInt, Field(ge=1, le=3_600_000)]  # at most one a millisecond


class LimitSettings(_Section):
    enabled: StrictBool = Field(
        default=True,
        description="rate-limit callbacks, votes and counted views per client; off, every "
        "request is taken (views and votes still count once per client per window)",
    )
    callbacks_burst: AtLeastOne = Field(
        default=50,
        description="callback requests one client address may send back to back (sized for "
        "50 customers behind one carrier-grade NAT; see docs/security.md)",
    )
    callbacks_per_hour: PerHour = Field(
        default=30, description="then one more callback request every 3600/this seconds"
    )
    votes_burst: AtLeastOne = Field(
        default=100, description='"did this help?" votes one client address may send back to back'
    )
    votes_per_hour: PerHour = Field(default=120, description="then one more vote every 3600/this s")
    views_burst: AtLeastOne = Field(
        default=200,
        description="bulletin views one client address may have counted for the rankings back "
        "to back (pages are always served; views past the limit just do not count)",
    )
    views_per_hour: PerHour = Field(
        default=600, description="then one more counted view every 3600/this seconds"
    )
    view_window_s: PositiveSeconds = Field(
        default=3600,
        description="a client's views of one bulletin count once in this window (rankings)",
    )
    vote_window_s: PositiveSeconds = Field(
        default=86400,
        description="a client's votes on one bulletin count once in this window (rankings and "
        'the "helped" metric)',
    )
    seen_per_window: AtLeastOne = Field(
        default=100_000,
        description="at most this many (client, bulletin) pairs are remembered in Redis per "
        "window, for views and for votes each (about 150 bytes each, two windows' worth at "
        "most); past it, no more are counted until the window ends",
    )
    ipv6_prefix: Annotated[StrictInt, Field(ge=32, le=128)] = Field(
        default=64,
        description="IPv6 clients are limited per network of this prefix length (one home or "
        "phone usually gets a /64 to itself)",
    )
    redis_budget_ms: Millis = Field(
        default=100,
        description="how long a customer's request waits on Redis for a limit; past it (or "
        "with Redis down) this process decides alone",
    )
    redis_retry_ms: Millis = Field(
        default=2000,
        description="after Redis failed a limit check, limits are kept per process this long "
        "before Redis is asked again",
    )
    local_entries: AtLeastOne = Field(
        default=10_000,
        description="per-process memory for limits and counted-once pairs: entries per cache, "
        "five caches, about 270 bytes an entry (14 MB at most by default); used while Redis "
        "is unreachable, and to ask Redis less",
    )
