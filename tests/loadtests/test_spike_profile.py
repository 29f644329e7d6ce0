"""The spike's timeline: phases in order, users over time, what a customer should meet
around each switch, and the open-loop pacing."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from loadtests.spike.profile import (
    DETECT_S,
    MAX_LAG_S,
    PROFILES,
    RECOVER_S,
    Expect,
    Phase,
    Profile,
    expect,
    next_start,
)

FULL = PROFILES["full"]


def test_every_profile_runs_the_same_phases_in_order() -> None:
    for profile in PROFILES.values():
        phases = profile.phases()
        assert [p for p, _, _ in phases] == list(Phase)
        assert phases[0][1] == 0
        assert phases[-1][2] == profile.end
        assert all(a < b for _, a, b in phases), profile.name


def test_the_ci_profile_is_short_and_the_full_one_holds_the_outage_for_minutes() -> None:
    assert PROFILES["ci"].end <= 90
    assert FULL.up_at - FULL.down_at >= 100
    assert PROFILES["ci"].baseline_users == FULL.baseline_users  # same rates, shorter


def test_the_spike_is_one_and_a_half_times_the_baseline() -> None:
    assert FULL.spike_users == round(1.5 * FULL.baseline_users)


def users(t: float) -> int:
    target = FULL.target(t)
    assert target is not None
    return target[0]


def test_users_ramp_to_the_baseline_then_rise_in_the_outage_and_fall_after() -> None:
    assert FULL.target(0) == (FULL.baseline_users, FULL.baseline_users / FULL.warm_up_end)
    assert users(FULL.down_at - 1) == FULL.baseline_users
    assert users(FULL.down_at) == FULL.spike_users
    assert users(FULL.up_at + 1) == FULL.spike_users
    assert users(FULL.spike_end) == FULL.baseline_users
    assert FULL.target(FULL.end) is None


def test_each_ramp_reaches_its_target_by_the_end_of_its_phase() -> None:
    rise = FULL.target(FULL.down_at)
    assert rise is not None
    added = FULL.spike_users - FULL.baseline_users
    assert rise[1] * (FULL.rise_end - FULL.down_at) == pytest.approx(added)


def test_phase_names_the_moment() -> None:
    assert FULL.phase(0) is Phase.WARM_UP
    assert FULL.phase(FULL.down_at) is Phase.RISE
    assert FULL.phase(FULL.up_at - 0.1) is Phase.SPIKE
    assert FULL.phase(FULL.up_at) is Phase.RECOVERED_SPIKE
    assert FULL.phase(FULL.end + 5) is Phase.AFTER


@pytest.mark.parametrize(
    "change",
    [
        {"down_at": 10.0},  # before the warm-up ends
        {"up_at": 95.0},  # before the rise ends
        {"end": 100.0},
        {"baseline_users": 0},
    ],
)
def test_a_profile_out_of_order_is_refused(change: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="profile full"):
        dataclasses.replace(FULL, **change)


def test_before_the_outage_customers_belong_at_a_call_center() -> None:
    assert expect(50.0, down_at=None, up_at=None) is Expect.CALL_CENTER
    assert expect(89.9, down_at=90.0, up_at=None) is Expect.CALL_CENTER


def test_either_side_is_right_while_the_front_door_notices_a_switch() -> None:
    assert expect(90.0, down_at=90.0, up_at=None) is Expect.EITHER
    assert expect(90.0 + DETECT_S - 0.01, down_at=90.0, up_at=None) is Expect.EITHER
    assert expect(200.0, down_at=90.0, up_at=200.0) is Expect.EITHER
    assert expect(200.0 + RECOVER_S - 0.01, down_at=90.0, up_at=200.0) is Expect.EITHER


def test_in_the_outage_customers_belong_in_self_help_and_after_it_at_a_call_center() -> None:
    assert expect(150.0, down_at=90.0, up_at=None) is Expect.SELF_HELP
    assert expect(199.0, down_at=90.0, up_at=200.0) is Expect.SELF_HELP
    assert expect(200.0 + RECOVER_S, down_at=90.0, up_at=200.0) is Expect.CALL_CENTER


def test_pacing_keeps_its_schedule_when_an_answer_is_slow() -> None:
    # Scheduled at 10, the task took until 10.5, the next gap is 2 s: start at 12.
    assert next_start(10.0, 10.5, 2.0) == (12.0, 1.5)
    # The task took longer than the gap: start at once, keep the schedule.
    assert next_start(10.0, 12.5, 2.0) == (12.0, 0.0)


def test_pacing_does_not_burst_to_catch_up_after_a_long_stall() -> None:
    nxt, wait = next_start(10.0, 10.0 + MAX_LAG_S + 5.0, 1.0)
    assert (nxt, wait) == (10.0 + MAX_LAG_S + 5.0, 0.0)


@given(
    scheduled=st.floats(0, 1e6),
    late=st.floats(0, 100),
    gap=st.floats(0, 60),
)
def test_pacing_never_waits_a_negative_time_or_past_the_gap(
    scheduled: float, late: float, gap: float
) -> None:
    nxt, wait = next_start(scheduled, scheduled + late, gap)
    assert 0.0 <= wait <= gap + 1e-6 * max(1.0, scheduled)  # float rounding
    assert nxt >= scheduled + late - MAX_LAG_S


@given(t=st.floats(0, 400), down=st.floats(0, 200), length=st.floats(0, 200))
def test_outside_the_switch_windows_exactly_one_side_is_right(
    t: float, down: float, length: float
) -> None:
    up = down + length
    seen = expect(t, down_at=down, up_at=up)
    in_window = down <= t < down + DETECT_S or up <= t < up + RECOVER_S
    assert (seen is Expect.EITHER) == (in_window and not (t < down))


def test_a_custom_profile_can_be_built() -> None:
    p = Profile(
        name="x", baseline_users=10, warm_up_end=1, down_at=2, rise_end=3, up_at=4,
        spike_end=5, fall_end=6, end=7,
    )  # fmt: skip
    assert p.spike_users == 15
