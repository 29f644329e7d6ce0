"""What the pool reports, turned into log lines and metrics: one line per transition,
with its reason, as structured fields for a JSON log."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from failover.health import HealthPolicy, ProbeResult, classify
from failover.pool import Ejected, Event, HealthChange, SwitchChanged
from failover.routing import RouteChange
from monitoring.metrics import Metrics

log = logging.getLogger("switchboard")


class EventSink:
    """Logs and counts what the pool reports: one line per transition, with its reason."""

    def __init__(self, metrics: Metrics, health: HealthPolicy) -> None:
        self._metrics = metrics
        self._health = health
        self.on_route_change: Callable[[RouteChange], None] = lambda _: None

    def __call__(self, events: Sequence[Event]) -> None:
        m = self._metrics
        for event in events:
            if isinstance(event, HealthChange):
                t = event.transition
                m.health_transitions_total.labels(event.callcenter, t.target.value).inc()
                log.warning(
                    "health %s: %s -> %s (%s)", event.callcenter, t.source, t.target, t.reason,
                    extra={"event": "health_change", "backend": event.callcenter,
                           "from": t.source.value, "to": t.target.value, "reason": t.reason},
                )  # fmt: skip
            elif isinstance(event, Ejected):
                m.ejections_total.labels(event.callcenter).inc()
                e = event.ejection
                log.warning(
                    "ejected %s: %s", event.callcenter, e.reason,
                    extra={"event": "ejected", "backend": event.callcenter, "reason": e.reason,
                           "ejections": e.count},
                )  # fmt: skip
            elif isinstance(event, RouteChange):
                m.failover_transitions_total.labels(event.target).inc()
                m.failover_time.route_changed(event)
                self.on_route_change(event)
                source = event.source or "start"
                log.warning(
                    "routing: %s -> %s (%s)", source, event.target, event.reason,
                    extra={"event": "route_change", "from": source, "to": event.target,
                           "reason": event.reason},
                )  # fmt: skip
            elif isinstance(event, SwitchChanged):
                where = event.callcenter or "*"
                log.warning(
                    "switch %s %s = %s", where, event.switch, event.value,
                    extra={"event": "switch_changed", "backend": where, "switch": event.switch,
                           "value": event.value},
                )  # fmt: skip

    def probe(self, name: str, result: ProbeResult, events: Sequence[Event]) -> None:
        self._metrics.probe_duration.labels(name).observe(result.latency)
        obs = classify(result, self._health)
        self._metrics.probes_total.labels(name, obs.value).inc()
        self(events)
