"""The load-shedding stage machine: the rules walked, scripts, and no-flap properties."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernel.overload import (
    ORDER,
    OverloadPolicy,
    Reading,
    Shedding,
    Stage,
    Threshold,
    Transition,
    called_for,
    calm,
    decide,
    default_thresholds,
)

N, S1, S2, S3 = ORDER
# Entry: lag 50/100/250 ms or load 50/80/100 %; exit at 40 % of entry.
POLICY = OverloadPolicy(thresholds=default_thresholds(), capacity=100, up_after=0.5, cool_down=5.0)
QUIET = Reading(lag=0.0, in_flight=0)
STEP = 0.1  # s between readings, as the sampler takes them


def lag(ms: float) -> Reading:
    return Reading(lag=ms / 1000, in_flight=0)


def run(
    readings: Sequence[Reading],
    policy: OverloadPolicy = POLICY,
    state: Shedding | None = None,
    *,
    step: float = STEP,
) -> tuple[Shedding, list[Transition]]:
    """Feed readings `step` seconds apart; the last state and every transition."""
    s = Shedding() if state is None else state
    changes: list[Transition] = []
    for i, reading in enumerate(readings):
        s, change = decide(s, reading, now=i * step, policy=policy)
        if change is not None:
            changes.append(change)
    return s, changes


def path(changes: Sequence[Transition]) -> list[Stage]:
    return [c.target for c in changes]


# --- the table -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reading", "stage"),
    [
        (QUIET, N),
        (lag(49), N),
        (lag(50), S1),
        (lag(100), S2),
        (lag(249), S2),
        (lag(250), S3),
        (Reading(lag=0, in_flight=49), N),
        (Reading(lag=0, in_flight=50), S1),
        (Reading(lag=0, in_flight=80), S2),
        (Reading(lag=0, in_flight=100), S3),
        (Reading(lag=0.06, in_flight=85), S2),  # the higher of the two signals
        (Reading(lag=0.3, in_flight=0), S3),
    ],
)
def test_each_stage_is_called_for_from_its_entry_threshold_on_either_signal(
    reading: Reading, stage: Stage
) -> None:
    assert called_for(reading, POLICY) is stage


@pytest.mark.parametrize("stage", ORDER[1:])
def test_a_stage_is_calm_only_below_both_exit_thresholds(stage: Stage) -> None:
    row = POLICY.threshold(stage)
    below = Reading(lag=row.exit_lag * 0.99, in_flight=int(row.exit_load * 100) - 1)
    assert calm(below, stage, POLICY)
    assert not calm(Reading(lag=row.exit_lag, in_flight=0), stage, POLICY)
    assert not calm(Reading(lag=0, in_flight=int(row.exit_load * 100) + 1), stage, POLICY)
    assert calm(lag(10_000), N, POLICY)


def test_the_levels_are_0_to_3_in_order() -> None:
    assert [s.level for s in ORDER] == [0, 1, 2, 3]
    assert S3.at_least(S2)
    assert S2.at_least(S2)
    assert not S1.at_least(S2)


@pytest.mark.parametrize(
    ("thresholds", "capacity", "cool_down", "says"),
    [
        (default_thresholds()[:2], 10, 1.0, "one threshold per stage"),
        (tuple(reversed(default_thresholds())), 10, 1.0, "one threshold per stage"),
        (default_thresholds(lag_ms=(100, 50, 250)), 10, 1.0, "must not be entered before"),
        (default_thresholds(), 0, 1.0, "capacity must be >= 1"),
        (default_thresholds(), 10, -1.0, "cool_down >= 0"),
    ],
)
def test_a_policy_that_cannot_work_is_refused(
    thresholds: tuple[Threshold, ...], capacity: int, cool_down: float, says: str
) -> None:
    with pytest.raises(ValueError, match=says):
        OverloadPolicy(thresholds=thresholds, capacity=capacity, up_after=0.0, cool_down=cool_down)


def test_a_threshold_must_exit_below_where_it_enters() -> None:
    with pytest.raises(ValueError, match="below entry"):
        Threshold(stage=S1, enter_lag=0.05, exit_lag=0.05, enter_load=0.5, exit_load=0.1)


# --- scripts ---------------------------------------------------------------------------------


def test_sustained_lag_goes_up_after_up_after_and_one_late_sample_does_not() -> None:
    _, changes = run([lag(300)] + [QUIET] * 20)
    assert changes == []  # one stall is not overload
    _, changes = run([lag(300)] * 6)  # 0.0 .. 0.5 s
    assert path(changes) == [S3]
    assert changes[0].at == pytest.approx(0.5)
    assert "lag 300 ms" in changes[0].reason


def test_it_goes_up_to_the_lowest_stage_every_reading_of_the_pressure_called_for() -> None:
    readings = [lag(300), lag(120), lag(300), lag(300), lag(300), lag(300)]
    _, changes = run(readings)
    assert path(changes) == [S2]


def test_calm_steps_down_one_stage_per_cool_down() -> None:
    state = Shedding(stage=S3, since=0.0)
    readings = [QUIET] * 200  # 20 s
    _, changes = run(readings, state=state)
    assert path(changes) == [S2, S1, N]
    assert [c.at for c in changes] == pytest.approx([5.0, 10.0, 15.0])


def test_lag_inside_the_hysteresis_band_holds_the_stage() -> None:
    state = Shedding(stage=S2, since=0.0)
    # 40..99 ms: below memory_only's entry (100 ms), at or above its exit (40 ms).
    readings = [lag(40 + (i * 7) % 60) for i in range(300)]
    final, changes = run(readings, state=state)
    assert changes == []
    assert final.stage is S2


def test_a_burst_of_in_flight_requests_over_capacity_sheds_to_static() -> None:
    _, changes = run([Reading(lag=0, in_flight=150)] * 6)
    assert path(changes) == [S3]
    assert "150 in flight (150%)" in changes[0].reason


def test_a_forced_stage_holds_whatever_is_measured() -> None:
    forced = OverloadPolicy(
        thresholds=default_thresholds(), capacity=100, up_after=0.0, cool_down=0.0,
        forced=S2,
    )  # fmt: skip
    final, changes = run([QUIET, lag(900), QUIET] * 10, policy=forced)
    assert path(changes) == [S2]
    assert final.stage is S2
    assert "forced" in changes[0].reason


def test_pressure_that_breaks_off_starts_counting_again() -> None:
    readings = [lag(300)] * 4 + [QUIET] + [lag(300)] * 4
    _, changes = run(readings)
    assert changes == []


# --- properties ------------------------------------------------------------------------------

readings_st = st.lists(
    st.builds(
        Reading,
        lag=st.floats(min_value=0, max_value=1.0, allow_nan=False),
        in_flight=st.integers(min_value=0, max_value=200),
    ),
    max_size=400,
)
policies = st.builds(
    OverloadPolicy,
    thresholds=st.just(default_thresholds()),
    capacity=st.integers(min_value=1, max_value=200),
    up_after=st.sampled_from([0.0, 0.1, 0.3, 1.0]),
    cool_down=st.sampled_from([0.0, 0.2, 1.0, 5.0]),
)


@settings(max_examples=200)
@given(readings=readings_st, policy=policies)
def test_steps_down_are_at_least_cool_down_apart_and_after_any_change(
    readings: list[Reading], policy: OverloadPolicy
) -> None:
    _, changes = run(readings, policy)
    for before, after in itertools.pairwise(changes):
        if after.target.level < after.source.level:
            assert after.at - before.at >= policy.cool_down - 1e-9


@settings(max_examples=200)
@given(readings=readings_st, policy=policies)
def test_a_step_down_is_always_one_stage_and_only_from_calm(
    readings: list[Reading], policy: OverloadPolicy
) -> None:
    s = Shedding()
    for i, reading in enumerate(readings):
        s, change = decide(s, reading, now=i * STEP, policy=policy)
        if change is not None and change.target.level < change.source.level:
            assert change.source.level - change.target.level == 1
            assert calm(reading, change.source, policy)


@settings(max_examples=200)
@given(readings=readings_st, policy=policies)
def test_going_up_needs_every_reading_of_up_after_to_call_for_it(
    readings: list[Reading], policy: OverloadPolicy
) -> None:
    s = Shedding()
    for i, reading in enumerate(readings):
        s, change = decide(s, reading, now=i * STEP, policy=policy)
        if change is not None and change.target.level > change.source.level:
            window = int(policy.up_after / STEP + 1e-9)
            for earlier in readings[max(0, i - window) : i + 1]:
                assert called_for(earlier, policy).level >= change.target.level


@settings(max_examples=200)
@given(readings=readings_st, policy=policies)
def test_the_stage_flaps_at_most_once_per_cool_down(
    readings: list[Reading], policy: OverloadPolicy
) -> None:
    _, changes = run(readings, policy)
    downs = sum(1 for c in changes if c.target.level < c.source.level)
    ups = len(changes) - downs
    duration = len(readings) * STEP
    if policy.cool_down > 0:
        assert downs <= duration / policy.cool_down + 1
    assert ups <= downs + len(ORDER) - 1  # a rise past the first climb follows a fall


@settings(max_examples=200)
@given(
    reading=st.builds(
        Reading,
        lag=st.floats(min_value=0, max_value=1.0, allow_nan=False),
        in_flight=st.integers(min_value=0, max_value=300),
    ),
    start=st.sampled_from(ORDER),
    policy=policies,
)
def test_a_steady_load_settles_without_ever_turning_back(
    reading: Reading, start: Stage, policy: OverloadPolicy
) -> None:
    final, changes = run([reading] * 400, policy, Shedding(stage=start))
    levels = [start.level] + [c.target.level for c in changes]
    assert levels == sorted(levels) or levels == sorted(levels, reverse=True)
    assert final.stage.level >= called_for(reading, policy).level
    assert final.stage is N or not calm(reading, final.stage, policy)
