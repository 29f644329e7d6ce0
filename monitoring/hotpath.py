"""Per-request metrics kept as plain numbers and exported at scrape time.

prometheus-client's `Counter.inc` and `Histogram.observe` take a lock and walk the
buckets in Python on every call. The front door answers every request on one event
loop thread, so the hot path can keep plain ints and floats (and `bisect` for the
bucket) and leave building the metric families to the scrape, which runs on that same
thread. The exposition is exactly what a prometheus-client Counter/Histogram would
give (a unit test compares the two).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Callable, Iterator, Sequence
from typing import cast

from prometheus_client import utils as _prom_utils
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

# The same bucket labels ("0.005", "1.0", "+Inf") as prometheus-client's own Histogram;
# the library leaves this helper unannotated.
_float_to_go = cast(Callable[[float], str], _prom_utils.floatToGoString)


class LabeledCounter:
    def __init__(self, name: str, documentation: str, labels: Sequence[str]) -> None:
        self.name = name  # without the _total suffix, which the exposition adds
        self.documentation = documentation
        self.labels = tuple(labels)
        self.values: dict[tuple[str, ...], float] = {}

    def inc(self, key: tuple[str, ...], amount: float = 1.0) -> None:
        values = self.values
        values[key] = values.get(key, 0.0) + amount

    def family(self) -> CounterMetricFamily:
        fam = CounterMetricFamily(self.name, self.documentation, labels=self.labels)
        for key, value in self.values.items():
            fam.add_metric(list(key), value)
        return fam


class LabeledHistogram:
    def __init__(
        self, name: str, documentation: str, labels: Sequence[str], buckets: Sequence[float]
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.labels = tuple(labels)
        self.bounds = sorted(float(b) for b in buckets)
        # Per label set: a count per bucket, the last one for +Inf; then the sum.
        self.counts: dict[tuple[str, ...], list[int]] = {}
        self.sums: dict[tuple[str, ...], float] = {}

    def observe(self, key: tuple[str, ...], value: float) -> None:
        counts = self.counts.get(key)
        if counts is None:
            counts = self.counts[key] = [0] * (len(self.bounds) + 1)
        counts[bisect_left(self.bounds, value)] += 1
        self.sums[key] = self.sums.get(key, 0.0) + value

    def family(self) -> HistogramMetricFamily:
        fam = HistogramMetricFamily(self.name, self.documentation, labels=self.labels)
        for key, counts in self.counts.items():
            cumulative, buckets = 0, []
            for bound, count in zip([*self.bounds, float("inf")], counts, strict=True):
                cumulative += count
                buckets.append((_float_to_go(bound), float(cumulative)))
            fam.add_metric(list(key), buckets, sum_value=self.sums[key])
        return fam


class HotPathCollector(Collector):
    def __init__(self, *metrics: LabeledCounter | LabeledHistogram) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        for metric in self._metrics:
            yield metric.family()
