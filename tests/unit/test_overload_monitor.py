"""The overload monitor without its sampling task: readings in, stage changes out."""

from __future__ import annotations

import logging

import pytest

from kernel.overload import OverloadPolicy, Stage, default_thresholds
from kernel.overload_monitor import SMOOTHING, InFlight, OverloadMonitor

POLICY = OverloadPolicy(thresholds=default_thresholds(), capacity=10, up_after=0.0,
                        cool_down=1.0)  # fmt: skip


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_in_flight_keeps_the_peak_between_two_readings() -> None:
    flight = InFlight()
    for _ in range(3):
        flight.enter()
    flight.leave()
    flight.leave()
    assert (flight.now, flight.take_peak()) == (1, 3)
    assert flight.take_peak() == 1  # the next peak starts from what is in flight now


def test_lag_is_smoothed_so_one_late_sample_weighs_half() -> None:
    monitor = OverloadMonitor(POLICY, interval=0.1, monotonic=Clock())
    monitor.observe(0.2)
    assert monitor.lag == pytest.approx(0.2 * SMOOTHING)
    monitor.observe(0.0)
    assert monitor.lag == pytest.approx(0.2 * SMOOTHING * (1 - SMOOTHING))


def test_changes_are_logged_counted_kept_and_told_to_every_listener(
    caplog: pytest.LogCaptureFixture,
) -> None:
    clock = Clock()
    counted: list[Stage] = []
    monitor = OverloadMonitor(POLICY, interval=0.1, monotonic=clock,
                              on_transition=lambda t: counted.append(t.target))  # fmt: skip
    told: list[Stage] = []

    def broken(stage: Stage) -> None:
        raise RuntimeError("a listener's bug")

    monitor.listen(broken)
    monitor.listen(told.append)
    for _ in range(10):
        monitor.in_flight.enter()  # 10 in flight of a capacity of 10
    with caplog.at_level(logging.INFO, logger="switchboard.overload"):
        change = monitor.observe(0.0)
    assert change is not None
    assert (change.source, change.target) == (Stage.NORMAL, Stage.STATIC)
    assert monitor.stage is Stage.STATIC
    assert counted == told == [Stage.STATIC]  # the broken listener stopped no one
    line = next(r for r in caplog.records if r.message.startswith("overload: normal -> static"))
    assert line.levelno == logging.WARNING
    assert "10 in flight (100%)" in line.message
    assert getattr(line, "event", None) == "overload_change"
    for _ in range(10):
        monitor.in_flight.leave()
    clock.now += 0.1
    assert monitor.observe(0.0) is None  # they were in flight during this interval
    assert monitor.last.in_flight == 10
    clock.now += 0.1
    assert monitor.observe(0.0) is None  # calm starts here...
    clock.now += 1.0
    step = monitor.observe(0.0)  # ...and lasts a cool-down
    assert step is not None
    assert step.target is Stage.MEMORY_ONLY
    assert [t.target for t in monitor.recent] == [Stage.STATIC, Stage.MEMORY_ONLY]


def test_a_forced_stage_applies_at_the_first_reading() -> None:
    forced = OverloadPolicy(thresholds=default_thresholds(), capacity=10, up_after=0.0,
                            cool_down=1.0, forced=Stage.MEMORY_ONLY)  # fmt: skip
    monitor = OverloadMonitor(forced, interval=0.1, measure=False, monotonic=Clock())
    told: list[Stage] = []
    monitor.listen(told.append)
    monitor.observe(0.0)
    assert (monitor.stage, told) == (Stage.MEMORY_ONLY, [Stage.MEMORY_ONLY])
