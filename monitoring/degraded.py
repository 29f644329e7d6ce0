"""Metrics of a front door that does less on purpose or because something broke (issue 14):
the load-shedding stage, hostile community-site answers, and local files it could not
write. Labels are bounded: a stage name, a reason from `BAD_RESPONSE_REASONS`, a file
kind from `FILES`.

Gauges are read from their owners at scrape time (`OverloadCollector`, `DiskCollector`),
like the pool's: nothing on the request path updates them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from typing import Final

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from kernel.overload import ORDER, Transition
from kernel.overload_monitor import OverloadMonitor

# cache/origin.py OriginBadResponse.reason
BAD_RESPONSE_REASONS: Final = ("status", "too_large", "not_json", "too_deep", "shape",
                               "wrong_topic")  # fmt: skip
FILES: Final = ("snapshot", "spool")

log = logging.getLogger("switchboard.metrics")


class DegradedMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.overload_transitions = Counter(
            "switchboard_overload_transitions_total",
            "Load-shedding stage changes, by the stage entered (normal, shed_background, "
            "memory_only, static).",
            ["stage"],
            registry=registry,
        )
        for stage in ORDER:
            self.overload_transitions.labels(stage.value)
        self.origin_bad_responses = Counter(
            "switchboard_origin_bad_responses_total",
            "Community-site answers refused as unusable, by reason (status, too_large, "
            "not_json, too_deep, shape, wrong_topic); the cached copy is served instead.",
            ["reason"],
            registry=registry,
        )
        for reason in BAD_RESPONSE_REASONS:
            self.origin_bad_responses.labels(reason)

    def count_transition(self, change: Transition) -> None:
        self.overload_transitions.labels(change.target.value).inc()

    def count_bad_response(self, reason: str) -> None:
        if reason in BAD_RESPONSE_REASONS:  # bounded, whatever a caller passes
            self.origin_bad_responses.labels(reason).inc()


class OverloadCollector(Collector):
    """`switchboard_overload_stage` and the two signals it is decided from (all 0 before
    the self-help layer has started)."""

    def __init__(self, monitor: Callable[[], OverloadMonitor | None]) -> None:
        self._monitor = monitor

    def collect(self) -> Iterator[GaugeMetricFamily]:
        m = self._monitor()
        level, lag, in_flight = (0, 0.0, 0) if m is None else (m.stage.level, m.lag,
                                                                m.last.in_flight)  # fmt: skip
        stage = GaugeMetricFamily(
            "switchboard_overload_stage",
            "Load-shedding stage in force: 0 normal, 1 shed_background (background work "
            "paused), 2 memory_only (no Redis or community site on the request path), "
            "3 static (pre-rendered pages only).",
        )
        stage.add_metric([], float(level))
        late = GaugeMetricFamily(
            "switchboard_event_loop_lag_seconds",
            "How late the event loop ran a timer (smoothed), sampled every "
            "overload.sample_interval_ms.",
        )
        late.add_metric([], lag)
        flight = GaugeMetricFamily(
            "switchboard_selfhelp_in_flight",
            "Self-help requests waiting on Redis or the community site at once (the peak "
            "of the last sample).",
        )
        flight.add_metric([], float(in_flight))
        yield from (stage, late, flight)


DiskState = Callable[[], tuple[int, bool] | None]  # (failed writes, failing now) or not written


class DiskCollector(Collector):
    """Local files the front door writes, by kind (`FILES`): failed writes so far, and
    whether the last one failed. A file this front door does not write reads 0."""

    def __init__(self, files: Mapping[str, DiskState]) -> None:
        self._files = files

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        failures = CounterMetricFamily(
            "switchboard_disk_write_failures",
            "Writes of a local file that failed (disk full, read-only, I/O error), by file "
            "(snapshot: the self-help last-known-good copy; spool: the callback spool).",
            labels=["file"],
        )
        failing = GaugeMetricFamily(
            "switchboard_disk_write_failing",
            "1 while the last write of a local file failed; the front door goes on without it.",
            labels=["file"],
        )
        for name, state in self._files.items():
            try:
                found = state()
            except Exception:  # a scrape must not fail for one file's bookkeeping
                log.exception("disk metrics: %s unreadable", name)
                continue
            count, now = (0, False) if found is None else found
            failures.add_metric([name], float(count))
            failing.add_metric([name], 1.0 if now else 0.0)
        yield from (failures, failing)


DEGRADED: Final = web.AppKey("degraded_metrics", DegradedMetrics)
