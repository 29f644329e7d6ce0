"""Call-center views and routers shared by the routing and callback-rule tests."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from hypothesis import strategies as st

from failover.health import HealthState
from failover.routing import CallCenterView, Decision, Override, RouteChange, Router
from kernel.breaker import Breaker

NOW = 1000.0
WALL = datetime(2024, 12, 24, 10, 30, tzinfo=UTC)  # Christmas Eve, mid-morning
NEVER = -math.inf
EJECTED = Breaker(multiplier=1, ejected_until=NOW + 10.0, ejections_total=1)

UP, DEGRADED, DOWN, UNKNOWN = (
    HealthState.UP,
    HealthState.DEGRADED,
    HealthState.DOWN,
    HealthState.UNKNOWN,
)


@dataclass(frozen=True, slots=True)
class FixedHours:
    """A Schedule that is always open or always closed."""

    open: bool

    def is_open(self, at: datetime) -> bool:
        return self.open


@dataclass(frozen=True, slots=True)
class OfficeHours:
    """A Schedule open from `start` to `end` o'clock, UTC."""

    start: int
    end: int

    def is_open(self, at: datetime) -> bool:
        return self.start <= at.astimezone(UTC).hour < self.end


def cc(
    name: str,
    *,
    priority: int = 1,
    order: int = 0,
    health: HealthState = UP,
    stable_since: float = NEVER,
    breaker: Breaker | None = None,
    emergency: bool = False,
    drained: bool = False,
    hours: FixedHours | OfficeHours | None = None,
) -> CallCenterView:
    return CallCenterView(
        name=name,
        priority=priority,
        order=order,
        health=health,
        stable_since=stable_since,
        breaker=Breaker() if breaker is None else breaker,
        emergency=emergency,
        drained=drained,
        hours=hours,
    )


def decide(
    views: list[CallCenterView],
    *,
    router: Router | None = None,
    now: float = NOW,
    wall: datetime = WALL,
    override: Override | None = None,
) -> tuple[Router, Decision, RouteChange | None]:
    r = Router(hold_down=5.0) if router is None else router
    return r.decide(views, now=now, wall=wall, override=override)


def running_on(current: str, hold_down: float = 5.0) -> Router:
    return Router(hold_down=hold_down, current=current, since=0.0)


NAMES = ("a", "b", "c", "d")


@st.composite
def views_strategy(draw: st.DrawFn) -> list[CallCenterView]:
    names = draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=len(NAMES)))
    return [
        cc(
            name,
            priority=draw(st.integers(min_value=0, max_value=3)),
            order=i,
            health=draw(st.sampled_from(list(HealthState))),
            stable_since=draw(st.sampled_from([NEVER, NOW - 10, NOW - 5, NOW - 4.9, NOW])),
            breaker=draw(st.sampled_from([Breaker(), EJECTED])),
            emergency=draw(st.booleans()),
            drained=draw(st.booleans()),
            hours=draw(st.sampled_from([None, FixedHours(open=True), FixedHours(open=False)])),
        )
        for i, name in enumerate(names)
    ]
