"""Callback metrics: intake, delivery, and the backlog (built at scrape time).

Labels are bounded: `store` is redis|spool, `reason` and `kind` come from fixed sets
below. Never a ticket, a phone number or an idempotency key.

The backlog gauges read the latest `BacklogSample` the callback runtime takes once a
second (a scrape must not wait on Redis); the oldest pending age is computed at scrape
time from that entry's request time, so it keeps growing even if sampling stalls.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

# A callback's value falls over hours: from seconds (no outage) to a day.
DELIVERY_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400, 43200, 86400)

# invalid: bad input (4xx); forged: a forged or expired form; rate_limited: the client
# was over its callbacks limit (429, [limits]); unavailable: neither Redis nor the spool
# could store it (503, pages: SwitchboardCallbacksRefused); error: a fault of ours (503).
REFUSED_REASONS = ("invalid", "forged", "rate_limited", "unavailable", "error")
DEAD_REASONS = ("rejected", "attempts")
FAILURE_KINDS = ("entry", "unreachable", "retried")


@dataclass(frozen=True, slots=True, kw_only=True)
class BacklogSample:
    pending: int  # in the Redis stream, not yet delivered
    spooled: int  # in the local spool, waiting for Redis
    dead: int  # in the dead-letter stream
    oldest_created_at: float | None  # wall-clock seconds of the oldest waiting callback
    redis_ok: bool


class CallbackMetrics:
    """Counters the intake and the dispatcher (as its `Observer`) update."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.accepted_total = Counter(
            "switchboard_callbacks_accepted",
            "Callback requests stored durably (a retried submission counts once).",
            ["store"],
            registry=registry,
        )
        self.refused_total = Counter(
            "switchboard_callbacks_refused",
            "Callback requests not taken: invalid input, forged or expired form, over "
            "the client's rate limit, nowhere durable to store them, or a fault of ours.",
            ["reason"],
            registry=registry,
        )
        self.delivered_total = Counter(
            "switchboard_callbacks_delivered",
            "Callbacks a call center acknowledged.",
            registry=registry,
        )
        self.dead_lettered_total = Counter(
            "switchboard_callbacks_dead_lettered",
            "Callbacks moved to the dead-letter stream: rejected by the call center, or "
            "failed max_attempts times.",
            ["reason"],
            registry=registry,
        )
        self.delivery_failures_total = Counter(
            "switchboard_callback_delivery_failures",
            "Failed delivery attempts: the call center failed on this entry (entry), could "
            "not be reached after the retries (unreachable), or one POST failed and was "
            "sent again at once (retried: the call center may see that callback twice, "
            "with the same Idempotency-Key).",
            ["kind"],
            registry=registry,
        )
        self.delivery_seconds = Histogram(
            "switchboard_callback_delivery_seconds",
            "Time from a customer's request to the call center acknowledging it.",
            buckets=DELIVERY_BUCKETS,
            registry=registry,
        )
        for store in ("redis", "spool"):
            self.accepted_total.labels(store)
        for reason in REFUSED_REASONS:
            self.refused_total.labels(reason)
        for reason in DEAD_REASONS:
            self.dead_lettered_total.labels(reason)
        for kind in FAILURE_KINDS:
            self.delivery_failures_total.labels(kind)

    # dispatcher.Observer
    def delivered(self, seconds_since_request: float) -> None:
        self.delivered_total.inc()
        self.delivery_seconds.observe(seconds_since_request)

    def dead_lettered(self, why: str) -> None:
        self.dead_lettered_total.labels(why).inc()

    def failed(self, kind: str) -> None:
        self.delivery_failures_total.labels(kind).inc()


class BacklogCollector(Collector):
    """Scrape-time backlog gauges from the runtime's latest sample."""

    def __init__(
        self, sample: Callable[[], BacklogSample | None], *, wall: Callable[[], datetime]
    ) -> None:
        self._sample = sample
        self._wall = wall

    def collect(self) -> Iterator[GaugeMetricFamily]:
        s = self._sample()
        if s is None:  # callbacks off, or nothing sampled yet
            return
        pending = GaugeMetricFamily(
            "switchboard_callbacks_pending",
            "Callbacks waiting for delivery: in Redis plus in the local spool.",
        )
        pending.add_metric([], float(s.pending + s.spooled))
        spooled = GaugeMetricFamily(
            "switchboard_callbacks_spooled",
            "Callbacks in this front door's local spool, waiting for Redis to return.",
        )
        spooled.add_metric([], float(s.spooled))
        dead = GaugeMetricFamily(
            "switchboard_callbacks_dead_letter_entries",
            "Callbacks in the dead-letter stream, waiting for a human.",
        )
        dead.add_metric([], float(s.dead))
        oldest = GaugeMetricFamily(
            "switchboard_callbacks_oldest_pending_age_seconds",
            "Age of the oldest callback not yet delivered (0 when none).",
        )
        age = 0.0
        if s.oldest_created_at is not None:
            age = max(0.0, self._wall().timestamp() - s.oldest_created_at)
        oldest.add_metric([], age)
        redis_ok = GaugeMetricFamily(
            "switchboard_callbacks_redis_up",
            "1 if the callback queue in Redis answered the last backlog sample.",
        )
        redis_ok.add_metric([], 1.0 if s.redis_ok else 0.0)
        yield from (pending, spooled, dead, oldest, redis_ok)
