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
        self.values: dict[tuple[str, ...], list[float]] = {}  # one-element cells

    def inc(self, key: tuple[str, ...], amount: float = 1.0) -> None:
        (self.values.get(key) or self.cell(key))[0] += amount

    def cell(self, key: tuple[str, ...]) -> list[float]:
        """The label set's one-element cell, created at 0: a caller may keep it."""
        cell = self.values.get(key)
        if cell is None:
            cell = self.values[key] = [0.0]
        return cell

    def family(self) -> CounterMetricFamily:
        fam = CounterMetricFamily(self.name, self.documentation, labels=self.labels)
        for key, (value,) in self.values.items():
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
        self.series: dict[tuple[str, ...], list[float]] = {}

    def cell(self, key: tuple[str, ...]) -> list[float]:
        """The label set's counts and sum (created empty): a caller may keep it."""
        series = self.series.get(key)
        if series is None:
            series = self.series[key] = [0.0] * (len(self.bounds) + 2)
        return series

    def observe(self, key: tuple[str, ...], value: float) -> None:
        series = self.series.get(key) or self.cell(key)
        series[bisect_left(self.bounds, value)] += 1
        series[-1] += value

    def family(self) -> HistogramMetricFamily:
        fam = HistogramMetricFamily(self.name, self.documentation, labels=self.labels)
        for key, series in self.series.items():
            cumulative, buckets = 0.0, []
            for bound, count in zip([*self.bounds, float("inf")], series[:-1], strict=True):
                cumulative += count
                buckets.append((_float_to_go(bound), float(cumulative)))
            fam.add_metric(list(key), buckets, sum_value=series[-1])
        return fam


class Timer:
    """One label set of a latency histogram and of its answers counter, looked up once:
    what the busiest page pays per answer is a bisect and three additions."""

    __slots__ = ("_answers", "_bounds", "_series")

    def __init__(self, histogram: LabeledHistogram, key: tuple[str, ...], answers: list[float]):
        self._bounds = histogram.bounds
        self._series = histogram.cell(key)
        self._answers = answers

    def observe(self, seconds: float) -> None:  # a bound method: cheaper than __call__
        series = self._series
        series[bisect_left(self._bounds, seconds)] += 1
        series[-1] += seconds
        self._answers[0] += 1


class HotPathCollector(Collector):
    def __init__(self, *metrics: LabeledCounter | LabeledHistogram) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        for metric in self._metrics:
            yield metric.family()
