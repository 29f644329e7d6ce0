"""Metrics across worker processes: merge each worker's exposition into one.

With `server.workers > 1` every worker keeps its own registry (the hot-path counters
are plain numbers, not shared memory, on purpose: see hotpath.py). A scrape of
`/metrics` on any worker asks every worker for its own exposition over a Unix socket
and merges them here, the way prometheus-client's multiprocess mode does for its
mmap files:

- counters, histograms and summaries: summed per series (name and labels);
- gauges: per `GAUGE_MODES` (what the gauge means across workers), default `max`:
  a state every worker sees the same way (the callback backlog in Redis, failover
  active) must not be multiplied by the number of workers.

Pure: text in, text out.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Final

from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

# How a gauge combines across workers (absent: max).
GAUGE_MODES: Final[dict[str, str]] = {
    "switchboard_callbacks_spooled": "sum",  # each worker has its own spool file
    "switchboard_backend_up": "min",  # up only if every worker can send customers there
    "switchboard_redis_up": "min",
    "switchboard_callbacks_redis_up": "min",
    # prometheus-client's ProcessCollector, one per worker: memory and fds add up; the
    # start time is the latest worker's (max, the default), so a restart shows.
    "process_resident_memory_bytes": "sum",
    "process_virtual_memory_bytes": "sum",
    "process_open_fds": "sum",
    "switchboard_selfhelp_in_flight": "sum",  # each worker answers its own requests
    # Health shared among replicas (issue 15): linked only if every worker is; the peers
    # that every worker hears (each worker is a peer of the others).
    "switchboard_shared_health_connected": "min",
    "switchboard_shared_health_peers": "min",
}
_COMBINE: Final[dict[str, Callable[[list[float]], float]]] = {
    "sum": lambda xs: float(sum(xs)),
    "min": min,
    "max": max,
}
_SUMMED: Final = frozenset({"counter", "histogram", "summary", "gaugehistogram"})

SeriesKey = tuple[str, tuple[tuple[str, str], ...]]


class _Families:
    def __init__(self, families: Sequence[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        yield from self._families


def merge(texts: Iterable[str]) -> bytes:
    """One exposition from several workers' (text format 0.0.4)."""
    order: dict[str, Metric] = {}
    values: dict[str, dict[SeriesKey, list[float]]] = {}
    for text in texts:
        for family in text_string_to_metric_families(text):
            if family.name not in order:
                order[family.name] = Metric(family.name, family.documentation, family.type)
                values[family.name] = {}
            series = values[family.name]
            for sample in family.samples:
                key = (sample.name, tuple(sorted(sample.labels.items())))
                series.setdefault(key, []).append(sample.value)
    merged: list[Metric] = []
    for name, template in order.items():
        mode = "sum" if template.type in _SUMMED else GAUGE_MODES.get(name, "max")
        combine = _COMBINE[mode]
        for (sample_name, labels), seen in values[name].items():
            template.add_sample(sample_name, dict(labels), float(combine(seen)))
        merged.append(template)
    return generate_latest(_Families(merged))  # a duck-typed registry: anything with collect()
