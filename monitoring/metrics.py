"""Metric definitions (prometheus-client). Names with the `switchboard_` prefix and the
labels below are part of the contract in docs/architecture.md.

Labels stay bounded: `route` is a route name from the router table, `destination` a
configured call-center name or "self-help", `backend` a configured name, `code` an
HTTP status. Never a raw path, an IP or a customer id.

Health gauges are not kept up to date by hand: `failover.pool_metrics.PoolCollector`
builds them at scrape time from the pool's immutable snapshot, so they can never drift
from what routing actually sees (it lives in failover/: monitoring/ imports nothing of
failover's, docs/architecture.md "Layers").
"""

from __future__ import annotations

import platform
from collections.abc import Callable, Iterator

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector

from monitoring.hotpath import HotPathCollector, LabeledCounter, LabeledHistogram, Timer

# No `*_created` series beside every counter: nothing here reads them, and they double
# the series count an SRE scrolls through (prometheus-client's global switch).
disable_created_metrics()  # type: ignore[no-untyped-call]  # untyped in prometheus-client

# The (tier, result) pairs the self-help layer counts (cache/service.py), created at 0.
CACHE_LOOKUPS = (
    ("l1", "hit"), ("l1", "miss"), ("l1", "stale"),
    ("redis", "hit"), ("redis", "miss"), ("redis", "error"),
    ("origin", "hit"), ("origin", "miss"), ("origin", "error"), ("origin", "stale_served"),
    ("last_known", "hit"),
)  # fmt: skip

# Customer-facing latency: most answers are a few ms (self-help, redirect) or a proxied
# page (tens of ms); the top buckets show the timeout budget being hit.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8)
PROBE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2)


class Metrics:
    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        now: Callable[[], float],  # monotonic seconds: the app clock's
        version: str = "0+unknown",
    ) -> None:
        self.registry = registry
        # process_start_time_seconds, resident memory, CPU seconds, open fds (Linux):
        # restarts and leaks show on the dashboard. One per registry, hence here.
        ProcessCollector(registry=registry)
        build = Gauge(
            "switchboard_build_info",
            "Always 1; the labels say which version runs (and on which Python).",
            ["version", "python"],
            registry=registry,
        )
        build.labels(version, platform.python_version()).set(1)
        # Counted on every request: plain numbers, exported at scrape (hotpath.py).
        self.requests_total = LabeledCounter(
            "switchboard_requests",
            "Customer and ops requests answered, by route, destination and status code.",
            ["route", "destination", "code"],
        )
        self.request_duration = LabeledHistogram(
            "switchboard_request_duration_seconds",
            "Time to answer a request, by route and destination (a call center, self-help, "
            "or the front door itself).",
            ["route", "destination"],
            LATENCY_BUCKETS,
        )
        self.upstream_attempts_total = LabeledCounter(
            "switchboard_upstream_attempts",
            "Proxied attempts to call centers, by outcome (success, backend_failure, "
            "local_failure).",
            ["backend", "outcome"],
        )
        self.cache_lookups_total = LabeledCounter(
            "switchboard_cache_lookups",
            "Self-help lookups by tier (l1, redis, origin) and result (hit, miss, stale, "
            "error, stale_served).",
            ["tier", "result"],
        )
        for key in CACHE_LOOKUPS:
            self.cache_lookups_total.cell(key)
        registry.register(
            HotPathCollector(
                self.requests_total,
                self.request_duration,
                self.upstream_attempts_total,
                self.cache_lookups_total,
            )
        )
        self.helped_total = Counter(
            "switchboard_selfhelp_helped",
            "Customers who said a bulletin helped them while the call centers were out.",
            registry=registry,
        )
        self.retries_total = Counter(
            "switchboard_upstream_retries_total",
            "Idempotent requests retried on the next call center after a failure.",
            ["backend"],
            registry=registry,
        )
        self.refused_total = Counter(
            "switchboard_requests_refused_total",
            "Requests and connections refused before a page or a call center saw them, by "
            "reason: the client's fault or a per-client limit, never a call center's.",
            ["reason"],
            registry=registry,
        )
        self.selfhelp_redirects_total = Counter(
            "switchboard_selfhelp_redirects_total",
            "Customers sent to self-help, by cause.",
            ["cause"],
            registry=registry,
        )
        self.probe_duration = Histogram(
            "switchboard_probe_duration_seconds",
            "Active health probe latency, by call center.",
            ["backend"],
            buckets=PROBE_BUCKETS,
            registry=registry,
        )
        self.probes_total = Counter(
            "switchboard_probes_total",
            "Active health probes, by call center and observation (ok, degraded, fail).",
            ["backend", "result"],
            registry=registry,
        )
        self.health_transitions_total = Counter(
            "switchboard_health_transitions_total",
            "Health state changes of call centers, by target state.",
            ["backend", "state"],
            registry=registry,
        )
        self.ejections_total = Counter(
            "switchboard_ejections_total",
            "Passive-detection ejections of call centers.",
            ["backend"],
            registry=registry,
        )
        self.failover_transitions_total = Counter(
            "switchboard_failover_transitions_total",
            "Routing destination changes, by new destination.",
            ["destination"],
            registry=registry,
        )

        self.admin_actions_total = Counter(
            "switchboard_admin_actions_total",
            "Operator actions through /admin/ (override, emergency, drain, rewarm, reload).",
            ["action"],
            registry=registry,
        )
        for action in ("override", "emergency", "drain", "rewarm", "reload"):
            self.admin_actions_total.labels(action)
        self.redis_up: Gauge | None = None  # only with Redis configured: track_redis()
        self.failover_time = FailoverTime(now)
        registry.register(self.failover_time)

    def track_redis(self) -> Gauge:
        """`switchboard_redis_up`, exported only when Redis is configured: without it
        (embedded mode) there is nothing to be down, and no alert should say so."""
        if self.redis_up is None:
            self.redis_up = Gauge(
                "switchboard_redis_up",
                "1 if Redis answered the front door's last ping (once a second), else 0.",
                registry=self.registry,
            )
        return self.redis_up

    def observe_request(self, route: str, destination: str, status: int, seconds: float) -> None:
        self.requests_total.inc((route, destination, str(status)))
        self.request_duration.observe((route, destination), seconds)

    def timer(self, route: str, destination: str, status: int) -> Timer:
        """`observe_request` for one (route, destination, status), resolved now."""
        answers = self.requests_total.cell((route, destination, str(status)))
        return Timer(self.request_duration, (route, destination), answers)

    def count_attempt(self, backend: str, outcome: str) -> None:
        self.upstream_attempts_total.inc((backend, outcome))

    def count_cache_lookup(self, tier: str, result: str, amount: int = 1) -> None:
        self.cache_lookups_total.inc((tier, result), amount)

    def count_refused(self, reason: str) -> None:
        self.refused_total.labels(reason).inc()

    def count_helped(self) -> None:
        self.helped_total.inc()


class FailoverTime(Collector):
    """`switchboard_failover_seconds_total`: time customers were sent to self-help,
    including the failover in progress, from the router's changes (monotonic times),
    as failover/eventsink.py reports them: into self-help or out of it, and when."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now
        self._closed = 0.0
        self._since: float | None = None

    def route_changed(self, *, to_self_help: bool, at: float) -> None:
        if to_self_help and self._since is None:
            self._since = at
        elif not to_self_help and self._since is not None:
            self._closed += max(0.0, at - self._since)
            self._since = None

    def seconds(self) -> float:
        ongoing = 0.0 if self._since is None else max(0.0, self._now() - self._since)
        return self._closed + ongoing

    def collect(self) -> Iterator[CounterMetricFamily]:
        total = CounterMetricFamily(
            "switchboard_failover_seconds",
            "Seconds customers were sent to self-help instead of a call center.",
        )
        total.add_metric([], self.seconds())
        yield total
