"""Metrics of per-client limits (kernel/limits). Labels are bounded: `action` is one
of `kernel.limits.limiter.Action` (callback, vote, view); never a client address."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

ACTIONS = ("callback", "vote", "view")


class LimitMetrics:
    """The limiter's `LimitObserver`."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.limited_total = Counter(
            "switchboard_rate_limited",
            "Requests over their client's limit, by action: callbacks and votes refused "
            "(429), views served but not counted.",
            ["action"],
            registry=registry,
        )
        self.local_total = Counter(
            "switchboard_rate_limit_local_decisions",
            "Limit checks this process decided alone because Redis did not answer in "
            "time (limits then hold per process, not across replicas).",
            ["action"],
            registry=registry,
        )
        self.saturated_total = Counter(
            "switchboard_counted_once_saturated",
            "Views or votes not counted because the window's budget of remembered "
            "(client, bulletin) pairs was used up ([limits] seen_per_window).",
            ["action"],
            registry=registry,
        )
        for action in ACTIONS:
            self.limited_total.labels(action)
            self.local_total.labels(action)
            self.saturated_total.labels(action)

    def limited(self, action: str) -> None:
        self.limited_total.labels(action).inc()

    def local(self, action: str, n: int) -> None:
        self.local_total.labels(action).inc(n)

    def saturated(self, action: str) -> None:
        self.saturated_total.labels(action).inc()
