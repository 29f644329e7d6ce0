"""Metrics across worker processes: merge each worker's exposition into one.

With `server.workers > 1` every worker keeps its own registry (the hot-path counters
are plain numbers, not shared memory, on purpose: see hotpath.py). A scrape of
`/metrics` on any worker asks every worker for its own exposition over a Unix socket
and merges them here, the way prometheus-client's multiprocess mode does for its
mmap files:

- counters, histograms and summaries: summed per series (name and labels), each worker
  slot counting what `CounterState` remembers of it (monitoring/counter_state.py): a
  worker that does not answer counts its last values, a worker started again goes on
  from its predecessor's, so a merged counter never goes down (Prometheus would read a
  drop as a reset and count every other worker's history as new increase);
- counters in `COUNTER_MODES`: one fact every worker counts on its own (the time in
  failover, the routing and health changes: each worker has its own router and probes
  that follow the same shared health), merged as the `max` of the slots, not
  multiplied by the number of workers;
- gauges: per `GAUGE_MODES` (what the gauge means across workers), default `max`:
  a state every worker sees the same way (the callback backlog in Redis, failover
  active) must not be multiplied by the number of workers. Only the workers that
  answered count: a gauge is a state now, not a history.

Pure: text in, text out (and the state, updated).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Final

from prometheus_client.exposition import generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families

from monitoring.counter_state import CounterKey, CounterState

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
# How a counter combines across workers (absent: sum). `max`: when the workers' views
# differ for a moment (one worker's router moved a probe interval before the other's),
# the merged count is the one ahead; it never counts one change once per worker, and a
# slow or restarted worker does not hold it back (each slot goes on from its last count).
# A worker started again counts its own first transitions (from unknown), as a restarted
# single process does.
COUNTER_MODES: Final[dict[str, str]] = {
    "switchboard_failover_seconds": "max",
    "switchboard_failover_transitions": "max",
    "switchboard_health_transitions": "max",
}
_COMBINE: Final[dict[str, Callable[[list[float]], float]]] = {
    "sum": lambda xs: float(sum(xs)),
    "min": min,
    "max": max,
}
_COUNTERS: Final = frozenset({"counter", "histogram", "summary"})  # only ever go up

SeriesKey = tuple[str, tuple[tuple[str, str], ...]]


@dataclass(frozen=True, slots=True)
class Reading:
    """What one worker slot answered: its process id and exposition (None: no answer)."""

    slot: int
    pid: int
    text: str | None


class _Families:
    def __init__(self, families: Sequence[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterator[Metric]:
        yield from self._families


def merge(texts: Iterable[str]) -> bytes:
    """One exposition from several workers' (text format 0.0.4), with nothing remembered."""
    return merge_workers([Reading(i, i, t) for i, t in enumerate(texts)], CounterState())


def merge_workers(readings: Iterable[Reading], state: CounterState) -> bytes:
    """One exposition from the workers' answers; `state` (what earlier scrapes saw of
    each slot's counters) is updated and gives every counter series."""
    order: dict[str, Metric] = {}
    gauges: dict[str, dict[SeriesKey, list[float]]] = {}
    for reading in readings:
        if reading.text is not None:
            state.observe(reading.slot, reading.pid, _read(reading.text, order, gauges, state))
    for name, (kind, documentation) in state.families.items():
        if name not in order:  # only the workers that did not answer have it
            order[name] = Metric(name, documentation, kind)
    counted: dict[str, dict[SeriesKey, list[float]]] = {}
    for slot in state.slots.values():
        for (name, sample_name, labels), value in slot.counts().items():
            counted.setdefault(name, {}).setdefault((sample_name, labels), []).append(value)
    merged: list[Metric] = []
    for name, template in order.items():
        if template.type in _COUNTERS:
            series, mode = counted.get(name, {}), COUNTER_MODES.get(name, "sum")
        else:
            series = gauges.get(name, {})
            mode = "sum" if template.type == "gaugehistogram" else GAUGE_MODES.get(name, "max")
        combine = _COMBINE[mode]
        for (sample_name, labels), seen in series.items():
            template.add_sample(sample_name, dict(labels), float(combine(seen)))
        merged.append(template)
    return generate_latest(_Families(merged))  # a duck-typed registry: anything with collect()


def _read(
    text: str,
    order: dict[str, Metric],
    gauges: dict[str, dict[SeriesKey, list[float]]],
    state: CounterState,
) -> dict[CounterKey, float]:
    """One worker's exposition: its gauges added to `gauges`, its counters returned."""
    counters: dict[CounterKey, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name not in order:
            order[family.name] = Metric(family.name, family.documentation, family.type)
        counting = family.type in _COUNTERS
        if counting:
            state.families[family.name] = (family.type, family.documentation)
        for sample in family.samples:
            labels = tuple(sorted(sample.labels.items()))
            if counting:
                counters[(family.name, sample.name, labels)] = sample.value
            else:
                gauges.setdefault(family.name, {}).setdefault((sample.name, labels), []).append(
                    sample.value
                )
    return counters
