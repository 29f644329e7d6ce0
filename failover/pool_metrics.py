"""Scrape-time gauges of the call centers and of routing, from the pool's immutable
snapshot (metric names and labels: docs/architecture.md "Contract"). They read failover
state, so they live here and not in monitoring/, which imports nothing of failover's
(docs/architecture.md "Layers"); the app registers them beside monitoring's `Metrics`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from failover.health import HealthState
from failover.pool import Pool
from failover.routing import SELF_HELP, TAKING_CUSTOMERS, Availability


class PoolCollector(Collector):
    """Scrape-time gauges from the pool snapshot."""

    def __init__(self, pool: Pool, *, now: Callable[[], float], wall: Callable[[], datetime]):
        self._pool = pool
        self._now = now
        self._wall = wall

    def collect(self) -> Iterator[GaugeMetricFamily]:
        snap = self._pool.snapshot()
        now, wall = self._now(), self._wall()
        up = GaugeMetricFamily(
            "switchboard_backend_up",
            "1 if the call center can take customers now (healthy, not ejected, in hours).",
            labels=["backend"],
        )
        state = GaugeMetricFamily(
            "switchboard_backend_health_state",
            "Active-health state of each call center (1 for the current state).",
            labels=["backend", "state"],
        )
        ejected = GaugeMetricFamily(
            "switchboard_backend_ejected",
            "1 while passive detection keeps the call center out.",
            labels=["backend"],
        )
        for view in snap.views:
            taking = view.availability(now=now, wall=wall) in TAKING_CUSTOMERS
            up.add_metric([view.name], 1.0 if taking else 0.0)
            for s in HealthState:
                state.add_metric([view.name, s.value], 1.0 if view.health is s else 0.0)
            ejected.add_metric([view.name], 1.0 if view.breaker.is_ejected(now) else 0.0)
        availability = GaugeMetricFamily(
            "switchboard_backend_availability",
            "Why a call center can or cannot take customers (1 for the current reason): "
            "serving, degraded, emergency, drained, closed, ejected, down, unknown.",
            labels=["backend", "availability"],
        )
        for view in snap.views:
            now_is = view.availability(now=now, wall=wall)
            for a in Availability:
                availability.add_metric([view.name, a.value], 1.0 if a is now_is else 0.0)
        active = GaugeMetricFamily(
            "switchboard_failover_active",
            "1 while customers are sent to self-help instead of a call center.",
        )
        active.add_metric([], 1.0 if snap.router.current == SELF_HELP else 0.0)
        yield from (up, state, ejected, availability, active)
