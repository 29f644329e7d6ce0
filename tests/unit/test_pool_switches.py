"""The pool's switches, scripted at increasing `now`: emergency, drain, opening hours
and the operator's overrides. Shared scripting helpers: tests/support/pool.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from failover.health import HealthState
from failover.pool import CallCenterSpec, SwitchChanged
from failover.routing import (
    HOURS_RECHECK,
    Override,
    OverrideKind,
    SelfHelpCause,
    SendToSelfHelp,
    destination_of,
)
from tests.support.pool import HOLD_DOWN, OK, WALL, FixedHours, make_pool, probe_all, started, where

# --- switches ----------------------------------------------------------------------


def test_emergency_switch_sends_to_self_help_at_once_without_any_probe_failing() -> None:
    pool = started()
    events = pool.set_emergency("primary", True, now=1.0)
    assert events == [SwitchChanged(callcenter="primary", switch="emergency", value="true", at=1.0)]
    assert where(pool, 1.0) == "backup"
    pool.set_emergency("backup", True, now=1.0)
    decision, _ = pool.route(now=1.0, wall=WALL)
    assert isinstance(decision, SendToSelfHelp)
    assert decision.cause is SelfHelpCause.EMERGENCY
    assert all(m.machine.state is HealthState.UP for m in pool.snapshot().members)


def test_emergency_off_gives_customers_back_only_after_hold_down() -> None:
    pool = started()
    pool.set_emergency("primary", True, now=1.0)
    assert where(pool, 1.0) == "backup"
    pool.set_emergency("primary", False, now=2.0)
    assert where(pool, 2.0 + HOLD_DOWN - 0.1) == "backup"
    assert where(pool, 2.0 + HOLD_DOWN) == "primary"


def test_a_call_center_configured_in_emergency_starts_in_emergency() -> None:
    pool = make_pool(
        CallCenterSpec(name="manila", priority=1, emergency=True),
        CallCenterSpec(name="dublin", priority=2),
    )
    probe_all(pool, OK, now=0.0)
    assert where(pool, 0.0) == "dublin"
    assert pool.set_emergency("manila", True, now=1.0) == []


def test_a_drained_call_center_gets_no_new_customers() -> None:
    pool = started()
    pool.set_drained("primary", True, now=1.0)
    assert where(pool, 1.0) == "backup"
    pool.set_drained("backup", True, now=1.0)
    decision, _ = pool.route(now=1.0, wall=WALL)
    assert isinstance(decision, SendToSelfHelp)
    assert decision.cause is SelfHelpCause.DRAINED


def test_outside_hours_sends_to_self_help_closed() -> None:
    pool = make_pool(CallCenterSpec(name="office", priority=1, hours=FixedHours(open=False)))
    pool.observe_probe("office", OK, now=0.0)
    decision, _ = pool.route(now=0.0, wall=WALL)
    assert isinstance(decision, SendToSelfHelp)
    assert decision.cause is SelfHelpCause.CLOSED


@dataclass(frozen=True, slots=True)
class ClosesAt:
    """Open until `hour` o'clock, UTC."""

    hour: int

    def is_open(self, at: datetime) -> bool:
        return at.hour < self.hour


def test_closing_time_is_noticed_within_the_hours_recheck() -> None:
    pool = make_pool(
        CallCenterSpec(name="office", priority=1, hours=ClosesAt(18)),
        CallCenterSpec(name="follow-the-sun", priority=2),
    )
    probe_all(pool, OK, now=0.0)
    before_six = datetime(2024, 12, 24, 17, 59, 59, tzinfo=UTC)
    after_six = datetime(2024, 12, 24, 18, 0, 0, tzinfo=UTC)
    assert where(pool, 0.0) == "office"
    decision, _ = pool.route(now=0.0, wall=before_six)
    assert destination_of(decision) == "office"
    decision, change = pool.route(now=HOURS_RECHECK, wall=after_six)
    assert destination_of(decision) == "follow-the-sun"
    assert change is not None


def test_setting_a_switch_to_its_current_value_is_a_no_op() -> None:
    pool = started()
    before = pool.snapshot()
    assert pool.set_emergency("primary", False, now=1.0) == []
    assert pool.set_drained("primary", False, now=1.0) == []
    assert pool.set_override(None, now=1.0) == []
    assert pool.snapshot() is before


def test_force_self_help_override_wins_over_healthy_call_centers() -> None:
    pool = started()
    force = Override(kind=OverrideKind.FORCE_SELF_HELP, reason="drill")
    events = pool.set_override(force, now=1.0)
    assert events == [
        SwitchChanged(callcenter=None, switch="override", value="force_self_help", at=1.0)
    ]
    decision, _ = pool.route(now=1.0, wall=WALL)
    assert decision == SendToSelfHelp(cause=SelfHelpCause.FORCED, reason="drill")
    assert pool.set_override(force, now=2.0) == []
    events = pool.set_override(None, now=3.0)
    assert [e.value for e in events if isinstance(e, SwitchChanged)] == ["automatic"]
    assert where(pool, 3.0) == "primary"  # never broke: no hold-down to wait for


def test_force_callcenter_override_pins_the_backup() -> None:
    pool = started()
    pin = Override(kind=OverrideKind.FORCE_CALLCENTER, callcenter="backup")
    events = pool.set_override(pin, now=1.0)
    assert [e.value for e in events if isinstance(e, SwitchChanged)] == ["force_callcenter:backup"]
    assert where(pool, 1.0) == "backup"
    assert pool.snapshot().override == pin
