"""The Generic Cell Rate Algorithm, and the verdicts of a limit check (pure: no I/O, no
clock; times are integer milliseconds).

Why GCRA (ITU-T I.371 / ATM Forum TM 4.0; the "virtual scheduling" form, as in
Brandur Leach, "Rate Limiting, Cells, and GCRA", and the redis-cell module) rather
than a window:

- one number per client (the theoretical arrival time, TAT), one key with a TTL in
  Redis: the smallest state of the usual choices (a sliding log keeps every request);
- exact and smooth: a fixed window lets a client send twice its limit across a window
  boundary (the end of one, the start of the next); GCRA is a token bucket, so a burst
  of `burst` and then one per `interval`, whenever the client starts;
- the time to wait comes out of the same arithmetic, for an exact `Retry-After`;
- it is a handful of arithmetic operations, easy to run atomically in one Lua script
  (`kernel/limits/script.py` carries out exactly `decide`) and to test here.

A request at `now` with stored TAT `tat` (absent: `now`) is allowed when
`max(tat, now) - now <= tolerance`, where `tolerance = interval * (burst - 1)`; the
stored TAT then becomes `max(tat, now) + interval`, and can be forgotten once it
passes (its TTL). Refused, it must wait `max(tat, now) - now - tolerance`.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

__all__ = ["Outcome", "Rule", "Verdict", "decide"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    """`burst` requests back to back, then one every `3600 / per_hour` seconds."""

    burst: int
    per_hour: int

    def __post_init__(self) -> None:
        if self.burst < 1 or not 1 <= self.per_hour <= 3_600_000:
            raise ValueError("need burst >= 1 and 1 <= per_hour <= 3,600,000")

    @property
    def interval_ms(self) -> int:
        return max(1, round(3_600_000 / self.per_hour))

    @property
    def tolerance_ms(self) -> int:
        return self.interval_ms * (self.burst - 1)

    @property
    def horizon_ms(self) -> int:
        """The longest a stored TAT can matter: the time a full burst takes to refill."""
        return self.interval_ms * self.burst


class Outcome(enum.StrEnum):
    ALLOWED = "allowed"  # counted, or taken
    LIMITED = "limited"  # over the client's limit: refuse (429), or do not count
    REPEAT = "repeat"  # this client was already counted for this subject in the window
    SATURATED = "saturated"  # the window's budget of remembered pairs is used up


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: Outcome
    retry_after_ms: int = 0  # LIMITED: when the next request would be allowed

    @property
    def allowed(self) -> bool:
        return self.outcome is Outcome.ALLOWED

    @property
    def retry_after_s(self) -> int:
        """For a `Retry-After` header: whole seconds, at least 1."""
        return max(1, math.ceil(self.retry_after_ms / 1000))


ALLOWED = Verdict(Outcome.ALLOWED)
REPEAT = Verdict(Outcome.REPEAT)
SATURATED = Verdict(Outcome.SATURATED)


def decide(tat: int | None, now: int, rule: Rule) -> tuple[Verdict, int | None]:
    """The verdict for one request at `now`, and the TAT to store (None: leave it)."""
    start = now if tat is None or tat < now else tat
    late = start - now - rule.tolerance_ms
    if late > 0:
        return Verdict(Outcome.LIMITED, late), None
    return ALLOWED, start + rule.interval_ms
