"""The hot-path counters export exactly what prometheus-client's own types would."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

from monitoring.hotpath import HotPathCollector, LabeledCounter, LabeledHistogram, Timer

BUCKETS = (0.001, 0.01, 0.1, 1.0, 4.0)


def _samples(registry: CollectorRegistry) -> list[str]:
    text = generate_latest(registry).decode()
    # `_created` timestamps differ by construction; everything else must match.
    return sorted(
        line
        for line in text.splitlines()
        if line and not line.startswith("#") and "_created" not in line
    )


@given(
    observations=st.lists(
        st.tuples(
            st.sampled_from(["support", "help"]),
            st.floats(min_value=0, max_value=10, allow_nan=False),
        ),
        max_size=40,
    )
)
def test_histogram_and_counter_match_prometheus_client(
    observations: list[tuple[str, float]],
) -> None:
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    counter = LabeledCounter("t_requests", "doc", ["route"])
    histogram = LabeledHistogram("t_seconds", "doc", ["route"], BUCKETS)
    ours.register(HotPathCollector(counter, histogram))
    ref_counter = Counter("t_requests", "doc", ["route"], registry=theirs)
    ref_histogram = Histogram("t_seconds", "doc", ["route"], buckets=BUCKETS, registry=theirs)
    for route, seconds in observations:
        counter.inc((route,))
        histogram.observe((route,), seconds)
        ref_counter.labels(route).inc()
        ref_histogram.labels(route).observe(seconds)
    assert _samples(ours) == _samples(theirs)


def test_a_value_on_a_bucket_bound_counts_in_that_bucket() -> None:
    histogram = LabeledHistogram("t_seconds", "doc", ["route"], BUCKETS)
    histogram.observe(("r",), 0.01)
    family = histogram.family()
    le = {s.labels["le"]: s.value for s in family.samples if s.name.endswith("_bucket")}
    assert (le["0.001"], le["0.01"], le["+Inf"]) == (0.0, 1.0, 1.0)


@given(
    observations=st.lists(
        st.tuples(st.booleans(), st.floats(min_value=0, max_value=10, allow_nan=False)),
        max_size=40,
    )
)
def test_a_timer_counts_as_observe_would(observations: list[tuple[bool, float]]) -> None:
    """The hot path's resolved `Timer` and the general `inc` + `observe` feed the same
    series: the exposition is prometheus-client's for the same calls."""
    ours, theirs = CollectorRegistry(), CollectorRegistry()
    counter = LabeledCounter("t_requests", "doc", ["route", "code"])
    histogram = LabeledHistogram("t_seconds", "doc", ["route"], BUCKETS)
    ours.register(HotPathCollector(counter, histogram))
    timer = Timer(histogram, ("page",), counter.cell(("page", "200")))
    ref_counter = Counter("t_requests", "doc", ["route", "code"], registry=theirs)
    ref_histogram = Histogram("t_seconds", "doc", ["route"], buckets=BUCKETS, registry=theirs)
    ref_counter.labels("page", "200")  # the timer's series exists from the start, at 0
    for hot, seconds in observations:
        if hot:
            timer.observe(seconds)
        else:
            counter.inc(("page", "200"))
            histogram.observe(("page",), seconds)
        ref_counter.labels("page", "200").inc()
        ref_histogram.labels("page").observe(seconds)
    if not observations:
        ref_histogram.labels("page")  # made by the timer, empty
    assert _samples(ours) == _samples(theirs)
