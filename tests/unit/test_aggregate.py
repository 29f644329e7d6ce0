"""Merging workers' expositions: sums for counters and histograms, a mode per gauge."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from monitoring.aggregate import merge


def worker(requests: int, pending: float, spooled: float, up: float, seconds: list[float]) -> str:
    registry = CollectorRegistry()
    c = Counter("switchboard_requests", "r", ["route"], registry=registry)
    c.labels("help").inc(requests)
    Gauge("switchboard_callbacks_pending", "p", registry=registry).set(pending)
    Gauge("switchboard_callbacks_spooled", "s", registry=registry).set(spooled)
    Gauge("switchboard_backend_up", "u", ["backend"], registry=registry).labels("a").set(up)
    h = Histogram("switchboard_request_duration_seconds", "d", buckets=(0.1, 1), registry=registry)
    for s in seconds:
        h.observe(s)
    return generate_latest(registry).decode()


def samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text.decode())
        for s in f.samples
    }


def test_counters_and_histograms_add_up_across_workers() -> None:
    out = samples(merge([worker(3, 5, 0, 1, [0.05, 2]), worker(4, 5, 0, 1, [0.5])]))
    assert out[("switchboard_requests_total", (("route", "help"),))] == 7
    assert out[("switchboard_request_duration_seconds_count", ())] == 3
    assert out[("switchboard_request_duration_seconds_bucket", (("le", "0.1"),))] == 1
    assert out[("switchboard_request_duration_seconds_bucket", (("le", "1.0"),))] == 2
    assert out[("switchboard_request_duration_seconds_sum", ())] == 2.55


def test_a_shared_state_gauge_is_not_multiplied_by_the_workers() -> None:
    out = samples(merge([worker(1, 5, 0, 1, []), worker(1, 5, 0, 1, [])]))
    assert out[("switchboard_callbacks_pending", ())] == 5


def test_per_worker_gauges_add_and_health_is_up_only_if_every_worker_says_so() -> None:
    out = samples(merge([worker(1, 5, 2, 1, []), worker(1, 5, 3, 0, [])]))
    assert out[("switchboard_callbacks_spooled", ())] == 5
    assert out[("switchboard_backend_up", (("backend", "a"),))] == 0


def test_one_worker_merges_to_itself() -> None:
    text = worker(2, 1, 1, 1, [0.2])
    assert samples(merge([text])) == samples(text.encode())


@given(st.lists(st.integers(min_value=0, max_value=10**6), min_size=1, max_size=6))
def test_the_merged_counter_is_the_sum_of_the_workers(counts: list[int]) -> None:
    out = samples(merge([worker(n, 0, 0, 1, []) for n in counts]))
    assert out[("switchboard_requests_total", (("route", "help"),))] == sum(counts)
