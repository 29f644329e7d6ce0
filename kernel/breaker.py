"""Passive health: outlier detection from live traffic (pure: no I/O, no clock).

Modelled on Envoy's outlier detection (envoy.config.cluster.v3.OutlierDetection):
`consecutive_5xx` backend-originated failures, or `consecutive_local_failures`
local-origin ones (connect refused, reset, timeout), eject a call center before the
next probe notices. An ejection lasts `base_ejection_time * n`, where n counts recent
ejections (capped by `max_ejection_time`); each quiet `base_ejection_time` after a
return lowers n again, as Envoy decrements its ejection multiplier.

A single bad customer URL must not take a healthy call center out: 4xx (404 above
all) are the customer's fault and count as successes, and any success breaks a run of
failures. 501 and 505 say "I don't do that", also the request's fault, not the
center's.

`Outcome` -> `Breaker.record` -> (`Breaker`, `Ejection | None`).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, replace
from typing import Final


class Outcome(enum.StrEnum):
    SUCCESS = "success"
    BACKEND_FAILURE = "backend_failure"  # the call center answered 5xx
    LOCAL_FAILURE = "local_failure"  # we could not get an answer: refused, reset, timeout


# 5xx that the request, not the call center, provoked.
_REQUEST_FAULT_5XX: Final = frozenset({501, 505})


def outcome_of_status(status: int) -> Outcome:
    if status >= 500 and status not in _REQUEST_FAULT_5XX:
        return Outcome.BACKEND_FAILURE
    return Outcome.SUCCESS


@dataclass(frozen=True, slots=True, kw_only=True)
class OutlierPolicy:
    consecutive_5xx: int = 5
    consecutive_local_failures: int = 3
    base_ejection_time: float = 10.0
    max_ejection_time: float = 300.0

    def __post_init__(self) -> None:
        if self.consecutive_5xx < 1 or self.consecutive_local_failures < 1:
            raise ValueError("consecutive failure thresholds must be >= 1")
        if not 0 < self.base_ejection_time <= self.max_ejection_time:
            raise ValueError("need 0 < base_ejection_time <= max_ejection_time")


@dataclass(frozen=True, slots=True, kw_only=True)
class Ejection:
    until: float
    count: int  # the multiplier used for this ejection
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Breaker:
    consecutive_5xx: int = 0
    consecutive_local: int = 0
    multiplier: int = 0  # recent ejections, decays while quiet
    ejected_until: float | None = None
    returned_at: float | None = None  # when the last ejection ended
    decay_mark: float | None = None  # where the multiplier's quiet-time count starts
    ejections_total: int = 0

    def is_ejected(self, now: float) -> bool:
        return self.ejected_until is not None and now < self.ejected_until

    def record(
        self, outcome: Outcome, *, now: float, policy: OutlierPolicy
    ) -> tuple[Breaker, Ejection | None]:
        if (
            outcome is Outcome.SUCCESS
            and self.ejected_until is None
            and not self.consecutive_5xx
            and not self.consecutive_local
            and not self.multiplier
        ):
            return self, None  # the hot path: a success in a calm breaker changes nothing
        cur = self.settle(now, policy)
        if cur.is_ejected(now):
            # Late answers from requests sent before the ejection change nothing.
            return cur, None
        if outcome is Outcome.SUCCESS:
            return replace(cur, consecutive_5xx=0, consecutive_local=0), None
        if outcome is Outcome.BACKEND_FAILURE:
            cur = replace(cur, consecutive_5xx=cur.consecutive_5xx + 1)
            tripped = cur.consecutive_5xx >= policy.consecutive_5xx
            reason = f"{cur.consecutive_5xx} consecutive 5xx"
        else:
            cur = replace(cur, consecutive_local=cur.consecutive_local + 1)
            tripped = cur.consecutive_local >= policy.consecutive_local_failures
            reason = f"{cur.consecutive_local} consecutive local-origin failures"
        if not tripped:
            return cur, None
        # Past the cap the multiplier stops growing, so it winds down as fast as it rose.
        cap = math.ceil(policy.max_ejection_time / policy.base_ejection_time)
        multiplier = min(cur.multiplier + 1, cap)
        duration = min(policy.base_ejection_time * multiplier, policy.max_ejection_time)
        ejected = Breaker(
            multiplier=multiplier,
            ejected_until=now + duration,
            returned_at=cur.returned_at,
            ejections_total=cur.ejections_total + 1,
        )
        return ejected, Ejection(until=now + duration, count=multiplier, reason=reason)

    def settle(self, now: float, policy: OutlierPolicy) -> Breaker:
        """Apply the passage of time: end an expired ejection, decay the multiplier."""
        cur = self
        if cur.ejected_until is not None and now >= cur.ejected_until:
            end = cur.ejected_until
            cur = replace(cur, ejected_until=None, returned_at=end, decay_mark=end)
        if cur.ejected_until is None and cur.decay_mark is not None and cur.multiplier > 0:
            quiet_periods = int((now - cur.decay_mark) // policy.base_ejection_time)
            if quiet_periods > 0:
                cur = replace(
                    cur,
                    multiplier=max(0, cur.multiplier - quiet_periods),
                    decay_mark=cur.decay_mark + quiet_periods * policy.base_ejection_time,
                )
        return cur

    def last_break(self) -> float | None:
        """When this breaker last let traffic back in (or will), for hold-down."""
        return self.ejected_until if self.ejected_until is not None else self.returned_at
