"""Ejections: how long they last, how that grows and decays, life while ejected, the policy."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kernel.breaker import Breaker, Outcome, OutlierPolicy
from tests.support.breaker_feed import B5, LOC, POLICY, S, ejected_at, feed

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
