"""Passive outlier detection: runs of failures eject, and what counts as a failure."""

from __future__ import annotations

import pytest

from kernel.breaker import Breaker, Ejection, outcome_of_status
from tests.support.breaker_feed import B5, LOC, POLICY, S, feed

# --- runs of failures --------------------------------------------------------------


def test_consecutive_5xx_threshold_ejects_and_one_fewer_does_not() -> None:
    b, ejections = feed([B5] * 4, now=50.0)
    assert ejections == []
    assert not b.is_ejected(50.0)
    assert b.consecutive_5xx == 4
    b, ejections = feed([B5], breaker=b, now=50.0)
    assert ejections == [Ejection(until=60.0, count=1, reason="5 consecutive 5xx")]
    assert b.is_ejected(50.0)
    assert b.ejections_total == 1


def test_consecutive_local_failures_threshold_ejects_and_one_fewer_does_not() -> None:
    b, ejections = feed([LOC] * 2, now=5.0)
    assert ejections == []
    assert b.consecutive_local == 2
    b, ejections = feed([LOC], breaker=b, now=5.0)
    assert ejections == [
        Ejection(until=15.0, count=1, reason="3 consecutive local-origin failures")
    ]


def test_5xx_and_local_failures_are_counted_apart() -> None:
    b, ejections = feed([B5, LOC, B5, LOC, B5, B5])
    assert ejections == []
    assert (b.consecutive_5xx, b.consecutive_local) == (4, 2)


def test_a_local_failure_does_not_break_a_run_of_5xx() -> None:
    # Local failures bring no answer from the call center: the 5xx run goes on.
    _, ejections = feed([B5, B5, B5, B5, LOC, B5])
    assert [e.reason for e in ejections] == ["5 consecutive 5xx"]


def test_a_5xx_does_not_break_a_run_of_local_failures() -> None:
    _, ejections = feed([LOC, LOC, B5, LOC])
    assert [e.reason for e in ejections] == ["3 consecutive local-origin failures"]


def test_a_success_resets_both_runs() -> None:
    b, _ = feed([B5, B5, B5, B5, LOC, LOC])
    b, _ = feed([S], breaker=b)
    assert (b.consecutive_5xx, b.consecutive_local) == (0, 0)
    b, ejections = feed([B5, B5, B5, B5, LOC, LOC], breaker=b)
    assert ejections == []


def test_record_does_not_mutate_the_breaker() -> None:
    b = Breaker()
    b.record(B5, now=0.0, policy=POLICY)
    assert b == Breaker()


# --- what counts as a failure ------------------------------------------------------


@pytest.mark.parametrize("status", [200, 201, 204, 301, 304, 400, 401, 403, 404, 410, 429, 499])
def test_non_5xx_statuses_are_successes(status: int) -> None:
    assert outcome_of_status(status) is S


@pytest.mark.parametrize("status", [500, 502, 503, 504, 507, 599])
def test_5xx_statuses_are_backend_failures(status: int) -> None:
    assert outcome_of_status(status) is B5


@pytest.mark.parametrize("status", [501, 505])
def test_501_and_505_are_the_requests_fault_not_the_call_centers(status: int) -> None:
    assert outcome_of_status(status) is S
    b, ejections = feed([outcome_of_status(status)] * 100)
    assert ejections == []
    assert b.consecutive_5xx == 0


def test_a_stream_of_404s_never_ejects() -> None:
    b, ejections = feed([outcome_of_status(404)] * 1000)
    assert ejections == []
    assert b == Breaker()


def test_interleaved_404s_break_a_run_of_5xx() -> None:
    statuses = [503, 502, 500, 503, 404] * 50
    b, ejections = feed(outcome_of_status(s) for s in statuses)
    assert ejections == []
    assert b.ejections_total == 0
