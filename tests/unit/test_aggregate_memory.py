"""Merging workers' counters across scrapes: a slow worker or one started again never
makes a merged counter go down, and one fact counted by every worker counts once."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from monitoring.aggregate import Reading, merge, merge_workers
from monitoring.counter_state import CounterState, dumps, loads

REQUESTS = ("switchboard_requests_total", (("route", "support"),))
COUNT = ("switchboard_request_duration_seconds_count", ())
SLOW = ("switchboard_request_duration_seconds_bucket", (("le", "+Inf"),))
BACKLOG = ("switchboard_callbacks_pending", ())
FAILOVER_SECONDS = ("switchboard_failover_seconds_total", ())
ROUTE_CHANGES = ("switchboard_failover_transitions_total", (("destination", "self-help"),))
HEALTH_DOWN = ("switchboard_health_transitions_total", (("backend", "a"), ("state", "down")))


def worker(requests: int, *, pending: float = 0, failover: float = 0, changes: int = 0) -> str:
    registry = CollectorRegistry()
    Counter("switchboard_requests", "r", ["route"], registry=registry).labels("support").inc(
        requests
    )
    h = Histogram("switchboard_request_duration_seconds", "d", buckets=(1,), registry=registry)
    for _ in range(requests):
        h.observe(0.5)
    Gauge("switchboard_callbacks_pending", "p", registry=registry).set(pending)
    Counter("switchboard_failover_seconds", "f", registry=registry).inc(failover)
    routes = Counter("switchboard_failover_transitions", "t", ["destination"], registry=registry)
    routes.labels("self-help").inc(changes)
    health = Counter("switchboard_health_transitions", "h", ["backend", "state"], registry=registry)
    health.labels("a", "down").inc(changes)
    return generate_latest(registry).decode()


def samples(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text.decode())
        for s in f.samples
    }


def test_a_worker_that_does_not_answer_counts_its_last_values() -> None:
    state = CounterState()
    first = samples(merge_workers([Reading(0, 100, worker(19)), Reading(1, 101, worker(21))],
                                  state))  # fmt: skip
    assert first[REQUESTS] == 40
    slow = samples(merge_workers([Reading(0, 100, worker(22)), Reading(1, 101, None)], state))
    assert slow[REQUESTS] == 43  # not 22: worker 1's 21 still count
    assert slow[COUNT] == slow[SLOW] == 43
    assert slow[BACKLOG] == 0  # a gauge is now, from those that answered


def test_a_worker_started_again_goes_on_from_its_predecessors_count() -> None:
    state = CounterState()
    merge_workers([Reading(0, 100, worker(19)), Reading(1, 101, worker(21))], state)
    again = samples(merge_workers([Reading(0, 100, worker(19)), Reading(1, 202, worker(2))],
                                  state))  # fmt: skip
    assert again[REQUESTS] == 42  # 19 + 21 (the killed process) + 2 (its successor)
    assert again[COUNT] == again[SLOW] == 42
    later = samples(merge_workers([Reading(0, 100, worker(20)), Reading(1, 202, worker(5))],
                                  state))  # fmt: skip
    assert later[REQUESTS] == 46


def test_a_late_answer_never_pulls_a_count_back() -> None:
    state = CounterState()
    merge_workers([Reading(0, 100, worker(10)), Reading(1, 101, worker(10))], state)
    merge_workers([Reading(0, 100, worker(12)), Reading(1, 202, worker(1))], state)
    # Crossing scrapes: an older answer of process 100, and one of 101, already replaced.
    late = merge_workers([Reading(0, 100, worker(11)), Reading(1, 101, worker(10))], state)
    assert samples(late)[REQUESTS] == 12 + 10 + 1


def test_one_fact_every_worker_counts_is_merged_as_the_max_not_the_sum() -> None:
    out = samples(merge([worker(1, failover=6.3, changes=1), worker(1, failover=6.2, changes=1)]))
    assert out[FAILOVER_SECONDS] == 6.3
    assert out[ROUTE_CHANGES] == 1
    assert out[HEALTH_DOWN] == 1
    assert out[REQUESTS] == 2  # requests still add up


def test_a_max_merged_counter_survives_its_workers_restarts() -> None:
    state = CounterState()
    merge_workers([Reading(0, 100, worker(0, failover=6.3, changes=1)),
                   Reading(1, 101, worker(0, failover=6.2, changes=1))], state)  # fmt: skip
    out = samples(merge_workers([Reading(0, 300, worker(0)), Reading(1, 301, worker(0))], state))
    assert out[FAILOVER_SECONDS] == 6.3
    assert out[ROUTE_CHANGES] == out[HEALTH_DOWN] == 1
    again = worker(0, failover=2, changes=1)
    out = samples(merge_workers([Reading(0, 300, again), Reading(1, 301, again)], state))
    assert out[FAILOVER_SECONDS] == 8.3
    assert out[ROUTE_CHANGES] == out[HEALTH_DOWN] == 2


def test_the_remembered_state_reads_back_as_written() -> None:
    state = CounterState()
    merge_workers([Reading(0, 100, worker(3)), Reading(1, 101, worker(4))], state)
    merge_workers([Reading(0, 100, worker(5)), Reading(1, 202, worker(1))], state)
    again = loads(dumps(state))
    assert again == state
    assert samples(merge_workers([Reading(0, 100, None), Reading(1, 202, None)], again)) == (
        samples(merge_workers([Reading(0, 100, None), Reading(1, 202, None)], state))
    )


# One scrape: per slot, None (no answer), or (restarted?, requests added since).
scrapes = st.lists(
    st.lists(st.none() | st.tuples(st.booleans(), st.integers(0, 50)), min_size=2, max_size=2),
    min_size=1,
    max_size=12,
)


@given(scrapes)
def test_a_merged_counter_never_goes_down(history: list[list[tuple[bool, int] | None]]) -> None:
    state = CounterState()
    pids, counts, served = [100, 101], [0, 0], 0
    seen = 0.0
    for scrape in history:
        readings = []
        for slot, answer in enumerate(scrape):
            if answer is not None:
                restarted, added = answer
                if restarted:
                    pids[slot], counts[slot] = pids[slot] + 1000, 0
                counts[slot] += added
                served += added
                readings.append(Reading(slot, pids[slot], worker(counts[slot])))
            else:
                readings.append(Reading(slot, pids[slot], None))
        now = samples(merge_workers(readings, state)).get(REQUESTS, 0.0)
        assert seen <= now <= served
        seen = now
