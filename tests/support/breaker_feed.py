"""Outcome shorthands, a policy and drivers shared by the breaker test modules."""

from __future__ import annotations

from collections.abc import Iterable

from kernel.breaker import Breaker, Ejection, Outcome, OutlierPolicy

S, B5, LOC = Outcome.SUCCESS, Outcome.BACKEND_FAILURE, Outcome.LOCAL_FAILURE

POLICY = OutlierPolicy(
    consecutive_5xx=5,
    consecutive_local_failures=3,
    base_ejection_time=10.0,
    max_ejection_time=300.0,
)


def feed(
    outcomes: Iterable[Outcome],
    *,
    breaker: Breaker | None = None,
    now: float = 0.0,
    policy: OutlierPolicy = POLICY,
) -> tuple[Breaker, list[Ejection]]:
    """Record outcomes all at `now`; return the last breaker and every ejection."""
    b = Breaker() if breaker is None else breaker
    ejections: list[Ejection] = []
    for outcome in outcomes:
        b, ejection = b.record(outcome, now=now, policy=policy)
        if ejection is not None:
            ejections.append(ejection)
    return b, ejections


def ejected_at(now: float, *, breaker: Breaker | None = None) -> Breaker:
    """A breaker ejected at `now` by a run of 5xx."""
    b, ejections = feed([B5] * POLICY.consecutive_5xx, breaker=breaker, now=now)
    assert len(ejections) == 1
    return b
