"""Routing: where the next customer goes (pure: no I/O, no clock; `now` is a parameter).

Rules, in order:

1. An operator override wins: force self-help, or pin one call center.
2. A call center can take customers when its probes say UP or DEGRADED, its breaker
   has not ejected it, it is not drained, not in emergency and inside its hours.
3. UP beats DEGRADED, then lower `priority` wins, then configuration order.
4. None can take customers: self-help. There is no "panic mode" sending traffic to
   unhealthy call centers as Envoy's panic threshold would: self-help is our floor.
5. Hold-down (failback delay): leaving a destination that can no longer serve is
   immediate, but moving customers *to* a call center needs it to have been serving
   without a break for `hold_down`, so a flapping call center never gets traffic back
   (compare HAProxy's `slowstart` and the failback timers of GSLB products). At start-up
   there is nothing to flap from, so the first choice takes the best one at once.

`Router.decide` returns a `Decision` (`RouteTo`, `OfferSelfHelp`, `SendToSelfHelp`)
and, when the destination changed, a `RouteChange` for the driver to log.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Protocol

from failover.health import HealthState
from kernel.breaker import Breaker


class Schedule(Protocol):
    def is_open(self, at: datetime) -> bool: ...


class Availability(enum.StrEnum):
    SERVING = "serving"
    DEGRADED = "degraded"
    # Reasons a call center cannot take customers, most deliberate first.
    EMERGENCY = "emergency"
    DRAINED = "drained"
    CLOSED = "closed"  # outside its hours of operation
    EJECTED = "ejected"  # passive detection
    DOWN = "down"
    UNKNOWN = "unknown"  # not probed yet


TAKING_CUSTOMERS: Final = frozenset({Availability.SERVING, Availability.DEGRADED})


class SelfHelpCause(enum.StrEnum):
    """Why customers go to self-help: a bounded metric label."""

    FORCED = "forced"
    EMERGENCY = "emergency"
    CLOSED = "closed"
    DRAINED = "drained"
    DOWN = "down"  # down, ejected or not probed yet
    HOLD_DOWN = "hold_down"  # a call center is back but not yet stable


@dataclass(frozen=True, slots=True, kw_only=True)
class CallCenterView:
    """One call center as routing sees it: an immutable slice of the pool."""

    name: str
    priority: int
    order: int
    health: HealthState
    stable_since: float  # serving without a break since; -inf if never broken
    breaker: Breaker
    emergency: bool = False
    drained: bool = False
    hours: Schedule | None = None

    def availability(self, *, now: float, wall: datetime) -> Availability:
        if self.emergency:
            return Availability.EMERGENCY
        if self.drained:
            return Availability.DRAINED
        if self.hours is not None and not self.hours.is_open(wall):
            return Availability.CLOSED
        if self.breaker.is_ejected(now):
            return Availability.EJECTED
        if self.health is HealthState.UP:
            return Availability.SERVING
        if self.health is HealthState.DEGRADED:
            return Availability.DEGRADED
        if self.health is HealthState.DOWN:
            return Availability.DOWN
        return Availability.UNKNOWN


class OverrideKind(enum.StrEnum):
    FORCE_SELF_HELP = "force_self_help"
    FORCE_CALLCENTER = "force_callcenter"


@dataclass(frozen=True, slots=True, kw_only=True)
class Override:
    kind: OverrideKind
    callcenter: str | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteTo:
    callcenter: str
    fallbacks: tuple[str, ...] = ()  # where a failed idempotent request may be retried


@dataclass(frozen=True, slots=True, kw_only=True)
class OfferSelfHelp:
    """The best call center is DEGRADED: self-help first, with a way through."""

    callcenter: str
    fallbacks: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SendToSelfHelp:
    cause: SelfHelpCause
    reason: str


Decision = RouteTo | OfferSelfHelp | SendToSelfHelp

SELF_HELP: Final = "self-help"


def destination_of(decision: Decision) -> str:
    """The bounded label of where a decision sends customers."""
    return SELF_HELP if isinstance(decision, SendToSelfHelp) else decision.callcenter


@dataclass(frozen=True, slots=True, kw_only=True)
class RouteChange:
    source: str | None
    target: str
    at: float
    reason: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Router:
    hold_down: float = 5.0
    current: str | None = None  # a call-center name, SELF_HELP, or None before the first
    since: float = 0.0
    reason: str = ""

    def decide(
        self,
        views: Sequence[CallCenterView],
        *,
        now: float,
        wall: datetime,
        override: Override | None = None,
    ) -> tuple[Router, Decision, RouteChange | None]:
        avail = {v.name: v.availability(now=now, wall=wall) for v in views}
        ranked = sorted(
            (v for v in views if avail[v.name] in TAKING_CUSTOMERS),
            key=lambda v: (avail[v.name] is Availability.DEGRADED, v.priority, v.order),
        )
        decision = self._choose(views, ranked, avail, now=now, override=override)
        target = destination_of(decision)
        if target == self.current:
            return self, decision, None
        why = _describe(decision, override)
        change = RouteChange(source=self.current, target=target, at=now, reason=why)
        moved = Router(hold_down=self.hold_down, current=target, since=now, reason=why)
        return moved, decision, change

    def _choose(
        self,
        views: Sequence[CallCenterView],
        ranked: list[CallCenterView],
        avail: dict[str, Availability],
        *,
        now: float,
        override: Override | None,
    ) -> Decision:
        if override is not None:
            if override.kind is OverrideKind.FORCE_SELF_HELP:
                return SendToSelfHelp(cause=SelfHelpCause.FORCED, reason=override.reason)
            pinned = override.callcenter
            if pinned is not None and pinned in avail:
                others = tuple(v.name for v in ranked if v.name != pinned)
                return RouteTo(callcenter=pinned, fallbacks=others)
        if not ranked:
            return _self_help(views, avail)
        stable = [v for v in ranked if now - v.stable_since >= self.hold_down]
        current = next((v for v in ranked if v.name == self.current), None)
        if self.current is None:
            chosen = ranked[0]  # start-up: nothing to flap from
        elif stable and (current is None or _rank(stable[0], avail) < _rank(current, avail)):
            chosen = stable[0]  # a better one has proven stable: fail back
        elif current is not None:
            chosen = current  # keep serving where we are
        else:
            names = ", ".join(v.name for v in ranked)
            return SendToSelfHelp(
                cause=SelfHelpCause.HOLD_DOWN, reason=f"{names} back but not yet stable"
            )
        fallbacks = tuple(v.name for v in ranked if v.name != chosen.name)
        if avail[chosen.name] is Availability.DEGRADED:
            return OfferSelfHelp(callcenter=chosen.name, fallbacks=fallbacks)
        return RouteTo(callcenter=chosen.name, fallbacks=fallbacks)


def callback_target(
    views: Sequence[CallCenterView], *, now: float, wall: datetime, override: Override | None
) -> str | None:
    """Where pending callbacks go now: the best call center taking customers, or None.

    Unlike customer routing there is no hold-down: a callback is one idempotent,
    rate-capped POST, not a conversation a flap would cut, and its value falls by the
    hour, so delivery starts the moment a call center is healthy again. Overrides
    apply: forced self-help holds callbacks back, a pinned call center gets them.
    """
    if override is not None and override.kind is OverrideKind.FORCE_SELF_HELP:
        return None
    avail = {v.name: v.availability(now=now, wall=wall) for v in views}
    if override is not None and override.callcenter in avail:
        pinned = override.callcenter
        return pinned if avail[pinned] in TAKING_CUSTOMERS else None
    ranked = sorted(
        (v for v in views if avail[v.name] in TAKING_CUSTOMERS),
        key=lambda v: (avail[v.name] is Availability.DEGRADED, v.priority, v.order),
    )
    return ranked[0].name if ranked else None


# Hours of operation are re-read at least this often by a cached decision.
HOURS_RECHECK: Final = 1.0


def valid_until(views: Sequence[CallCenterView], *, now: float, hold_down: float) -> float:
    """Until when a decision made at `now` stays right if nothing is reported meanwhile:
    the next ejection to end, the next hold-down to run out, the next hours re-check.
    Lets the pool answer most requests from a memo instead of deciding again."""
    until = math.inf
    for v in views:
        ends = v.breaker.ejected_until
        if ends is not None and ends > now:
            until = min(until, ends)
        stable_at = v.stable_since + hold_down
        if stable_at > now:
            until = min(until, stable_at)
        if v.hours is not None:
            until = min(until, now + HOURS_RECHECK)
    return until


def _rank(view: CallCenterView, avail: dict[str, Availability]) -> tuple[bool, int, int]:
    return (avail[view.name] is Availability.DEGRADED, view.priority, view.order)


_CAUSE_OF: Final = {
    Availability.EMERGENCY: SelfHelpCause.EMERGENCY,
    Availability.CLOSED: SelfHelpCause.CLOSED,
    Availability.DRAINED: SelfHelpCause.DRAINED,
}


def _self_help(views: Sequence[CallCenterView], avail: dict[str, Availability]) -> Decision:
    # The cause shown to SREs and customers is the most deliberate one: an emergency
    # or closing time explains the outage better than the probes that follow from it.
    order = list(Availability)
    worst = min((avail[v.name] for v in views), key=order.index, default=Availability.DOWN)
    cause = _CAUSE_OF.get(worst, SelfHelpCause.DOWN)
    reason = ", ".join(f"{v.name} {avail[v.name].value}" for v in views) or "no call centers"
    return SendToSelfHelp(cause=cause, reason=reason)


def _describe(decision: Decision, override: Override | None) -> str:
    if override is not None:
        label = f"override {override.kind.value}"
        return f"{label}: {override.reason}" if override.reason else label
    if isinstance(decision, SendToSelfHelp):
        return f"{decision.cause.value}: {decision.reason}"
    if isinstance(decision, OfferSelfHelp):
        return f"{decision.callcenter} degraded: self-help offered first"
    return f"{decision.callcenter} is the best serving call center"
