"""What the pool reports, turned into log lines and metrics: one line per transition,
with its reason, as structured fields for a JSON log."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from failover.health import HealthPolicy, HealthState, Observation, ProbeResult, classify
from failover.pool import Ejected, Event, HealthChange, SwitchChanged
from failover.routing import SELF_HELP, RouteChange, SelfHelpCause
from kernel.breaker import Outcome
from monitoring.metrics import Metrics

log = logging.getLogger("switchboard")


# Why the support handler sends a customer to self-help, besides the router's causes
# (failover/web.py): offered while degraded, every attempt failed, no free connection.
REDIRECT_CAUSES = (*(c.value for c in SelfHelpCause), "degraded", "upstream_failed", "busy")


def prime_series(metrics: Metrics, backends: Sequence[str]) -> None:
    """Create every bounded series at 0 before anything happens. Prometheus cannot see
    the first increment of a series that did not exist (rate() and increase() need two
    samples), so without this the first outage showed no transition, ejection or
    redirect at all on the dashboard."""
    m = metrics
    for name in backends:
        for obs in Observation:
            m.probes_total.labels(name, obs.value)
        for state in HealthState:
            m.health_transitions_total.labels(name, state.value)
        m.ejections_total.labels(name)
        m.retries_total.labels(name)
        m.failover_transitions_total.labels(name)
        for outcome in Outcome:
            m.upstream_attempts_total.cell((name, outcome.value))
    m.failover_transitions_total.labels(SELF_HELP)
    for cause in REDIRECT_CAUSES:
        m.selfhelp_redirects_total.labels(cause)


class EventSink:
    """Logs and counts what the pool reports: one line per transition, with its reason."""

    def __init__(self, metrics: Metrics, health: HealthPolicy) -> None:
        self._metrics = metrics
        self.health = health
        self.on_route_change: Callable[[RouteChange], None] = lambda _: None
        # Health shared among replicas (failover/shared_health.py) listens here: what the
        # pool reported, and each of our own probe results, after it is counted.
        self.on_events: Callable[[Sequence[Event]], None] = lambda _: None
        self.on_probe: Callable[[str, Observation], None] = lambda *_: None

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
                m.failover_time.route_changed(to_self_help=event.target == SELF_HELP, at=event.at)
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
        if events:
            self.on_events(events)

    def probe(self, name: str, result: ProbeResult, events: Sequence[Event]) -> None:
        self._metrics.probe_duration.labels(name).observe(result.latency)
        obs = classify(result, self.health)
        self._metrics.probes_total.labels(name, obs.value).inc()
        self(events)
        self.on_probe(name, obs)
