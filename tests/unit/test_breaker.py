"""Passive outlier detection: runs of failures eject, ejections grow and decay."""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernel.breaker import Breaker, Ejection, Outcome, OutlierPolicy, outcome_of_status

S, B5, LOC = Outcome.SUCCESS, Outcome.BACKEND_FAILURE, Outcome.LOCAL_FAILURE

POLICY = OutlierPolicy(
    consecutive_5xx=5,
    consecutive_local_failures=3,
    base_ejection_time=10.0,
    max_ejection_time=300.0,
)


def feed(
    outcomes: Iterable[Outcome],
    *,
    breaker: Breaker | None = None,
    now: float = 0.0,
    policy: OutlierPolicy = POLICY,
) -> tuple[Breaker, list[Ejection]]:
    """Record outcomes all at `now`; return the last breaker and every ejection."""
    b = Breaker() if breaker is None else breaker
    ejections: list[Ejection] = []
    for outcome in outcomes:
        b, ejection = b.record(outcome, now=now, policy=policy)
        if ejection is not None:
            ejections.append(ejection)
    return b, ejections


def ejected_at(now: float, *, breaker: Breaker | None = None) -> Breaker:
    """A breaker ejected at `now` by a run of 5xx."""
    b, ejections = feed([B5] * POLICY.consecutive_5xx, breaker=breaker, now=now)
    assert len(ejections) == 1
    return b


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


# --- ejection time -----------------------------------------------------------------


def test_ejection_time_grows_with_repeated_ejections_and_is_capped() -> None:
    policy = OutlierPolicy(
        consecutive_5xx=1,
        consecutive_local_failures=1,
        base_ejection_time=10.0,
        max_ejection_time=25.0,
    )
    b = Breaker()
    now = 0.0
    durations: list[float] = []
    counts: list[int] = []
    for _ in range(5):
        # Fail again the moment the previous ejection ends: no quiet time to decay.
        b, ejection = b.record(B5, now=now, policy=policy)
        assert ejection is not None
        durations.append(ejection.until - now)
        counts.append(ejection.count)
        now = ejection.until
    assert durations == [10.0, 20.0, 25.0, 25.0, 25.0]
    # The multiplier stops at ceil(max / base) = 3, so it winds down as fast as it rose.
    assert counts == [1, 2, 3, 3, 3]
    assert b.ejections_total == 5


def test_multiplier_decays_by_one_per_quiet_base_ejection_time() -> None:
    b = ejected_at(0.0)  # n=1, until 10
    b = ejected_at(10.0, breaker=b)  # n=2, until 30
    assert b.multiplier == 2
    assert b.settle(39.9, POLICY).multiplier == 2  # less than one quiet period since 30
    assert b.settle(40.0, POLICY).multiplier == 1
    assert b.settle(50.0, POLICY).multiplier == 0
    assert b.settle(500.0, POLICY).multiplier == 0


def test_after_a_quiet_period_the_next_ejection_is_shorter_again() -> None:
    b = ejected_at(0.0)
    b = ejected_at(10.0, breaker=b)  # n=2, back at 30
    _, ejections = feed([B5] * 5, breaker=b, now=40.0)  # one quiet period: n 2 -> 1 -> 2
    assert [(e.count, e.until) for e in ejections] == [(2, 60.0)]
    _, ejections = feed([B5] * 5, breaker=b, now=55.0)  # two quiet periods: n 2 -> 0 -> 1
    assert [(e.count, e.until) for e in ejections] == [(1, 65.0)]


def test_quiet_time_counts_from_the_return_not_from_the_ejection() -> None:
    b = ejected_at(0.0)  # back at 10
    b = ejected_at(10.0, breaker=b)  # n=2, 20 s: back at 30
    # 30 s after the second ejection started, but 0 s after it ended: nothing decayed.
    assert b.settle(30.0, POLICY).multiplier == 2


def test_decay_survives_failures_that_do_not_eject() -> None:
    b = ejected_at(0.0)  # back at 10
    b, _ = feed([B5, B5], breaker=b, now=12.0)
    b, _ = feed([LOC, LOC], breaker=b, now=19.0)
    assert b.settle(20.0, POLICY).multiplier == 0


# --- while ejected -----------------------------------------------------------------


@pytest.mark.parametrize("outcome", list(Outcome))
def test_outcomes_recorded_while_ejected_change_nothing(outcome: Outcome) -> None:
    b = ejected_at(0.0)
    after, ejections = feed([outcome] * 20, breaker=b, now=9.999)
    assert ejections == []
    assert after == b


def test_is_ejected_respects_now() -> None:
    b = ejected_at(100.0)  # until 110
    assert b.is_ejected(100.0)
    assert b.is_ejected(109.999)
    assert not b.is_ejected(110.0)
    assert not b.is_ejected(200.0)
    assert not Breaker().is_ejected(0.0)


def test_an_ended_ejection_lets_outcomes_count_again_without_an_explicit_settle() -> None:
    b = ejected_at(0.0)  # until 10
    b, ejections = feed([B5], breaker=b, now=10.0)
    assert ejections == []
    assert not b.is_ejected(10.0)
    assert b.consecutive_5xx == 1
    assert b.ejected_until is None
    assert b.returned_at == 10.0


def test_settle_ends_an_expired_ejection_and_keeps_a_running_one() -> None:
    b = ejected_at(0.0)
    assert b.settle(5.0, POLICY) == b
    settled = b.settle(10.0, POLICY)
    assert settled.ejected_until is None
    assert settled.returned_at == 10.0
    assert settled.multiplier == 1


def test_last_break_is_when_traffic_was_or_will_be_let_back_in() -> None:
    assert Breaker().last_break() is None
    b = ejected_at(0.0)
    assert b.last_break() == 10.0  # running ejection: its end
    b = b.settle(12.0, POLICY)
    assert b.last_break() == 10.0  # ended: when it ended
    b, _ = feed([B5, B5, S, LOC], breaker=b, now=13.0)
    assert b.last_break() == 10.0  # failures that do not eject are no break
    b = ejected_at(20.0, breaker=b)  # one quiet period since 10: n back to 0, so 10 s
    assert b.last_break() == 30.0


# --- policy ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("build", "match"),
    [
        (lambda: OutlierPolicy(consecutive_5xx=0), "thresholds"),
        (lambda: OutlierPolicy(consecutive_local_failures=0), "thresholds"),
        (lambda: OutlierPolicy(base_ejection_time=0.0), "base_ejection_time"),
        (lambda: OutlierPolicy(base_ejection_time=301.0), "base_ejection_time"),
    ],
    ids=["no-5xx-threshold", "no-local-threshold", "zero-base", "base-above-max"],
)
def test_nonsense_policies_are_rejected(build: Callable[[], OutlierPolicy], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        build()


# --- properties --------------------------------------------------------------------

outlier_policies = st.builds(
    OutlierPolicy,
    consecutive_5xx=st.integers(min_value=1, max_value=6),
    consecutive_local_failures=st.integers(min_value=1, max_value=4),
    base_ejection_time=st.sampled_from([1.0, 10.0, 30.0]),
    max_ejection_time=st.just(300.0),
)


def without_a_full_run(seq: list[Outcome], policy: OutlierPolicy) -> list[Outcome]:
    """`seq` with a success slipped in wherever a failure would complete a run.

    Every sequence that has no full run maps to itself, so drawing any sequence and
    repairing it reaches all of them.
    """
    limit = {B5: policy.consecutive_5xx, LOC: policy.consecutive_local_failures}
    out: list[Outcome] = []
    runs = {B5: 0, LOC: 0}
    for outcome in seq:
        if outcome is not S and runs[outcome] + 1 >= limit[outcome]:
            out.append(S)
            runs = {B5: 0, LOC: 0}
            if limit[outcome] == 1:
                continue  # one alone is a full run: leave it out
        if outcome is S:
            runs = {B5: 0, LOC: 0}
        else:
            runs[outcome] += 1
        out.append(outcome)
    return out


@settings(max_examples=200)
@given(
    raw=st.lists(st.sampled_from(list(Outcome)), max_size=80),
    policy=outlier_policies,
    gap=st.sampled_from([0.0, 0.5, 7.0, 100.0]),
)
def test_without_a_full_run_of_either_kind_it_never_ejects(
    raw: list[Outcome], policy: OutlierPolicy, gap: float
) -> None:
    seq = without_a_full_run(raw, policy)
    b = Breaker()
    now = 0.0
    for outcome in seq:
        now += gap
        b, ejection = b.record(outcome, now=now, policy=policy)
        assert ejection is None
        assert not b.is_ejected(now)
    assert b.ejections_total == 0


@settings(max_examples=100)
@given(seq=st.lists(st.sampled_from(list(Outcome)), max_size=80), policy=outlier_policies)
def test_first_ejection_comes_exactly_when_a_run_reaches_its_threshold(
    seq: list[Outcome], policy: OutlierPolicy
) -> None:
    # Reference model: two counters, each reset by a success only.
    n5 = nl = 0
    expected: int | None = None
    for i, outcome in enumerate(seq):
        if outcome is S:
            n5 = nl = 0
        elif outcome is B5:
            n5 += 1
        else:
            nl += 1
        if n5 >= policy.consecutive_5xx or nl >= policy.consecutive_local_failures:
            expected = i
            break
    b = Breaker()
    got: int | None = None
    for i, outcome in enumerate(seq):
        b, ejection = b.record(outcome, now=0.0, policy=policy)
        if ejection is not None:
            got = i
            break
    assert got == expected


@settings(max_examples=100)
@given(
    seq=st.lists(st.sampled_from(list(Outcome)), max_size=100),
    policy=outlier_policies,
    gap=st.sampled_from([0.0, 0.5, 3.0, 20.0]),
)
def test_every_ejection_lasts_base_times_count_capped_and_ignores_traffic_meanwhile(
    seq: list[Outcome], policy: OutlierPolicy, gap: float
) -> None:
    b = Breaker()
    now = 0.0
    total = 0
    for outcome in seq:
        now += gap
        was_ejected = b.is_ejected(now)
        before = b
        b, ejection = b.record(outcome, now=now, policy=policy)
        if was_ejected:
            assert ejection is None
            assert b == before
        if ejection is not None:
            total += 1
            duration = ejection.until - now
            assert duration == min(
                policy.base_ejection_time * ejection.count, policy.max_ejection_time
            )
            assert ejection.count >= 1
            assert b.is_ejected(now)
            assert b.last_break() == ejection.until
    assert b.ejections_total == total
