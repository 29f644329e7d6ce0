"""Scripting the pool in tests: probe results, a two-call-center pool, and steps that
take a call center down or bring it back at a given `now`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from failover.health import FailureKind, HealthPolicy, HealthState, ProbeResult
from failover.pool import CallCenterSpec, Event, Pool
from failover.routing import RouteChange, destination_of
from kernel.breaker import OutlierPolicy

WALL = datetime(2024, 12, 24, 10, 30, tzinfo=UTC)
HOLD_DOWN = 10.0

OK = ProbeResult(latency=0.01, http_status=200, reported_status="ok")
FAIL = ProbeResult(latency=2.0, failure=FailureKind.TIMEOUT, detail="probe timed out")
DEGRADED = ProbeResult(latency=0.01, http_status=200, reported_status="degraded")

OUTLIER = OutlierPolicy(
    consecutive_5xx=3,
    consecutive_local_failures=2,
    base_ejection_time=20.0,
    max_ejection_time=300.0,
)


@dataclass(frozen=True, slots=True)
class FixedHours:
    open: bool

    def is_open(self, at: datetime) -> bool:
        return self.open


def make_pool(
    *specs: CallCenterSpec,
    rise: int = 2,
    fall: int = 2,
    hold_down: float = HOLD_DOWN,
    timeline_size: int = 200,
) -> Pool:
    if not specs:
        specs = (
            CallCenterSpec(name="primary", priority=1),
            CallCenterSpec(name="backup", priority=2),
        )
    return Pool(
        specs,
        health=HealthPolicy(healthy_threshold=rise, unhealthy_threshold=fall),
        outlier=OUTLIER,
        hold_down=hold_down,
        timeline_size=timeline_size,
    )


def probe_all(pool: Pool, result: ProbeResult, *, now: float) -> list[Event]:
    events: list[Event] = []
    for name in pool.names:
        events += pool.observe_probe(name, result, now=now)
    return events


def where(pool: Pool, now: float) -> str:
    decision, _ = pool.route(now=now, wall=WALL)
    return destination_of(decision)


def started() -> Pool:
    """Both call centers answered their first probe at t=0; traffic is on primary."""
    pool = make_pool()
    probe_all(pool, OK, now=0.0)
    assert where(pool, 0.0) == "primary"
    return pool


def take_down(pool: Pool, name: str, *, now: float, fall: int = 2) -> None:
    for _ in range(fall):
        pool.observe_probe(name, FAIL, now=now)
    assert pool.snapshot().members[pool.names.index(name)].machine.state is HealthState.DOWN


def bring_up(pool: Pool, name: str, *, now: float, rise: int = 2) -> None:
    for _ in range(rise):
        pool.observe_probe(name, OK, now=now)
    assert pool.snapshot().members[pool.names.index(name)].machine.state is HealthState.UP


def route_changes(pool: Pool) -> list[RouteChange]:
    return [e for e in pool.snapshot().timeline if isinstance(e, RouteChange)]
