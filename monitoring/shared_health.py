"""Metrics of shared health (issue 15): replicas sharing what their probes see.

Exported only while sharing is on (Redis configured and `[sharing] enabled`): without it
there is no link to be down. Every labelled series starts at 0 (see
`failover.eventsink.prime_series` for why).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from prometheus_client import CollectorRegistry, Counter, Gauge

KINDS: Final = ("down", "ejected", "rise")
OPS: Final = ("publish", "listen", "read")


class SharedHealthMetrics:
    def __init__(self, registry: CollectorRegistry, backends: Sequence[str]) -> None:
        self.connected = Gauge(
            "switchboard_shared_health_connected",
            "1 while this replica publishes its health verdicts to Redis and hears its "
            "peers'; 0 while cut off (it then decides on its own probes alone).",
            registry=registry,
        )
        self.peers = Gauge(
            "switchboard_shared_health_peers",
            "Other replicas heard from within the peer TTL.",
            registry=registry,
        )
        self.adopted_total = Counter(
            "switchboard_shared_health_adopted_total",
            "Peers' verdicts applied here, by call center and kind: down (a peer's probes "
            "took it down), ejected (a peer's outlier ejection), rise (back up at once on "
            "a peer's UP and one passing probe of our own).",
            ["backend", "kind"],
            registry=registry,
        )
        self.errors_total = Counter(
            "switchboard_shared_health_errors_total",
            "Redis operations of health sharing that failed, by operation: publish (our "
            "verdicts), listen (the peers' channel), read (the stored verdicts).",
            ["op"],
            registry=registry,
        )
        self.heard_total = Counter(
            "switchboard_shared_health_reports_total",
            "Peers' reports taken (pushed or read back from the stored state).",
            registry=registry,
        )
        for name in backends:
            for kind in KINDS:
                self.adopted_total.labels(name, kind)
        for op in OPS:
            self.errors_total.labels(op)
