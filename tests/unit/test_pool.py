"""The pool, scripted with probes, outcomes and switches at increasing `now`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from failover.health import FailureKind, HealthPolicy, HealthState, ProbeResult
from failover.pool import (
    CallCenterSpec,
    Ejected,
    Event,
    HealthChange,
    Pool,
    SwitchChanged,
    UnknownCallCenterError,
)
from failover.routing import (
    HOURS_RECHECK,
    SELF_HELP,
    TAKING_CUSTOMERS,
    OfferSelfHelp,
    Override,
    OverrideKind,
    RouteChange,
    RouteTo,
    SelfHelpCause,
    SendToSelfHelp,
    destination_of,
)
from kernel.breaker import Outcome, OutlierPolicy

WALL = datetime(2024, 12, 24, 10, 30, tzinfo=UTC)
HOLD_DOWN = 10.0

OK = ProbeResult(latency=0.01, http_status=200, reported_status="ok")
FAIL = ProbeResult(latency=2.0, failure=FailureKind.TIMEOUT, detail="probe timed out")
DEGRADED = ProbeResult(latency=0.01, http_status=200, reported_status="degraded")

OUTLIER = OutlierPolicy(
    consecutive_5xx=3,
    consecutive_local_failures=2,
    base_ejection_time=20.0,
    max_ejection_time=300.0,
)


@dataclass(frozen=True, slots=True)
class FixedHours:
    open: bool

    def is_open(self, at: datetime) -> bool:
        return self.open


def make_pool(
    *specs: CallCenterSpec,
    rise: int = 2,
    fall: int = 2,
    hold_down: float = HOLD_DOWN,
    timeline_size: int = 200,
) -> Pool:
    if not specs:
        specs = (
            CallCenterSpec(name="primary", priority=1),
            CallCenterSpec(name="backup", priority=2),
        )
    return Pool(
        specs,
        health=HealthPolicy(healthy_threshold=rise, unhealthy_threshold=fall),
        outlier=OUTLIER,
        hold_down=hold_down,
        timeline_size=timeline_size,
    )


def probe_all(pool: Pool, result: ProbeResult, *, now: float) -> list[Event]:
    events: list[Event] = []
    for name in pool.names:
        events += pool.observe_probe(name, result, now=now)
    return events


def where(pool: Pool, now: float) -> str:
    decision, _ = pool.route(now=now, wall=WALL)
    return destination_of(decision)


def started() -> Pool:
    """Both call centers answered their first probe at t=0; traffic is on primary."""
    pool = make_pool()
    probe_all(pool, OK, now=0.0)
    assert where(pool, 0.0) == "primary"
    return pool


def take_down(pool: Pool, name: str, *, now: float, fall: int = 2) -> None:
    for _ in range(fall):
        pool.observe_probe(name, FAIL, now=now)
    assert pool.snapshot().members[pool.names.index(name)].machine.state is HealthState.DOWN


def bring_up(pool: Pool, name: str, *, now: float, rise: int = 2) -> None:
    for _ in range(rise):
        pool.observe_probe(name, OK, now=now)
    assert pool.snapshot().members[pool.names.index(name)].machine.state is HealthState.UP


def route_changes(pool: Pool) -> list[RouteChange]:
    return [e for e in pool.snapshot().timeline if isinstance(e, RouteChange)]


# --- start-up ----------------------------------------------------------------------


def test_before_any_probe_answers_customers_go_to_self_help() -> None:
    pool = make_pool()
    decision, change = pool.route(now=0.0, wall=WALL)
    assert isinstance(decision, SendToSelfHelp)
    assert decision.cause is SelfHelpCause.DOWN
    assert decision.reason == "primary unknown, backup unknown"
    assert change is not None
    assert change.source is None


def test_start_up_picks_the_best_as_soon_as_it_answers() -> None:
    pool = make_pool()
    assert where(pool, 0.0) == SELF_HELP
    pool.observe_probe("backup", OK, now=0.5)
    assert where(pool, 0.5) == "backup"
    pool.observe_probe("primary", OK, now=0.7)
    assert where(pool, 0.7) == "primary"  # a first answer is no flap: no hold-down


# --- failover and failback on probes -----------------------------------------------


def test_primary_down_moves_traffic_to_the_backup_at_once() -> None:
    pool = started()
    pool.observe_probe("primary", FAIL, now=1.0)
    assert where(pool, 1.0) == "primary"  # one failed probe is not a fall
    pool.observe_probe("primary", FAIL, now=2.0)
    decision, change = pool.route(now=2.0, wall=WALL)
    assert decision == RouteTo(callcenter="backup")
    assert change is not None
    assert (change.source, change.target, change.at) == ("primary", "backup", 2.0)


def test_primary_back_from_down_gets_traffic_only_after_hold_down() -> None:
    pool = started()
    take_down(pool, "primary", now=1.0)
    assert where(pool, 1.0) == "backup"
    bring_up(pool, "primary", now=20.0)
    for now in (20.0, 25.0, 29.9):
        assert where(pool, now) == "backup"
    decision, change = pool.route(now=20.0 + HOLD_DOWN, wall=WALL)
    assert decision == RouteTo(callcenter="primary", fallbacks=("backup",))
    assert change is not None
    assert change.source == "backup"


def test_primary_flapping_faster_than_hold_down_never_gets_traffic_back() -> None:
    pool = started()
    now = 0.0
    destinations: list[str] = []
    # 30 cycles, one probe a second: 3 s DOWN, then 8 s UP (< hold_down of 10 s).
    for _ in range(30):
        for result in [FAIL, FAIL, FAIL] + [OK] * 8:
            now += 1.0
            pool.observe_probe("primary", result, now=now)
            pool.observe_probe("backup", OK, now=now)
            destinations.append(where(pool, now))
    first_backup = destinations.index("backup")
    assert set(destinations[first_backup:]) == {"backup"}
    changes = route_changes(pool)
    assert [(c.source, c.target) for c in changes] == [(None, "primary"), ("primary", "backup")]
    # ...and once it stops flapping it gets its customers back, once.
    for _ in range(int(HOLD_DOWN)):
        now += 1.0
        pool.observe_probe("primary", OK, now=now)
        where(pool, now)
    assert where(pool, now) == "primary"
    assert len(route_changes(pool)) == 3


def test_primary_flapping_between_up_and_degraded_is_not_a_break() -> None:
    pool = started()
    pool.observe_probe("primary", DEGRADED, now=1.0)
    pool.observe_probe("primary", DEGRADED, now=2.0)
    assert where(pool, 2.0) == "backup"  # UP beats DEGRADED
    bring_up(pool, "primary", now=3.0)
    # DEGRADED still served (self-help offered first): it was never a break in service
    assert where(pool, 3.0) == "primary"


def test_both_down_sends_to_self_help_and_the_first_one_back_waits_hold_down() -> None:
    pool = started()
    take_down(pool, "primary", now=1.0)
    take_down(pool, "backup", now=1.0)
    decision, _ = pool.route(now=1.0, wall=WALL)
    assert isinstance(decision, SendToSelfHelp)
    assert decision.cause is SelfHelpCause.DOWN
    bring_up(pool, "backup", now=5.0)
    decision, _ = pool.route(now=6.0, wall=WALL)
    assert isinstance(decision, SendToSelfHelp)
    assert decision.cause is SelfHelpCause.HOLD_DOWN
    assert where(pool, 5.0 + HOLD_DOWN) == "backup"


def test_degraded_everywhere_offers_self_help_first() -> None:
    pool = started()
    for now in (1.0, 2.0):
        probe_all(pool, DEGRADED, now=now)
    decision, _ = pool.route(now=2.0, wall=WALL)
    assert decision == OfferSelfHelp(callcenter="primary", fallbacks=("backup",))


def test_probe_transitions_come_back_as_health_change_events() -> None:
    pool = make_pool()
    events = pool.observe_probe("primary", FAIL, now=3.0)
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, HealthChange)
    assert event.callcenter == "primary"
    assert (event.transition.source, event.transition.target) == (
        HealthState.UNKNOWN,
        HealthState.DOWN,
    )
    assert event.transition.reason == "1 x fail: probe timed out"
    assert pool.observe_probe("primary", FAIL, now=4.0) == []


def test_the_last_probe_is_kept_for_the_status_page() -> None:
    pool = make_pool()
    pool.observe_probe("backup", DEGRADED, now=7.0)
    member = pool.snapshot().members[1]
    assert member.last_probe == DEGRADED
    assert member.last_probe_at == 7.0


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


# --- passive detection -------------------------------------------------------------


def test_ejection_via_record_outcome_moves_routing_to_the_backup_and_traffic_returns_later() -> (
    None
):
    pool = started()
    for _ in range(OUTLIER.consecutive_5xx - 1):
        assert pool.record_outcome("primary", Outcome.BACKEND_FAILURE, now=1.0) == []
    assert where(pool, 1.0) == "primary"
    events = pool.record_outcome("primary", Outcome.BACKEND_FAILURE, now=1.0)
    assert len(events) == 1
    assert isinstance(events[0], Ejected)
    assert events[0].ejection.until == 1.0 + OUTLIER.base_ejection_time
    back = 1.0 + OUTLIER.base_ejection_time  # 21
    assert where(pool, 1.0) == "backup"
    assert where(pool, back - 0.1) == "backup"
    # probes said UP all along; the ejection alone kept it out, and hold-down counts
    # from its end
    probe_all(pool, OK, now=back)
    assert where(pool, back) == "backup"
    assert where(pool, back + HOLD_DOWN - 0.1) == "backup"
    assert where(pool, back + HOLD_DOWN) == "primary"


def test_when_the_only_call_center_returns_from_ejection_self_help_says_hold_down() -> None:
    pool = make_pool(CallCenterSpec(name="solo", priority=1))
    pool.observe_probe("solo", OK, now=0.0)
    assert where(pool, 0.0) == "solo"
    for _ in range(OUTLIER.consecutive_local_failures):
        pool.record_outcome("solo", Outcome.LOCAL_FAILURE, now=1.0)
    back = 1.0 + OUTLIER.base_ejection_time
    decision, _ = pool.route(now=1.0, wall=WALL)
    assert decision == SendToSelfHelp(cause=SelfHelpCause.DOWN, reason="solo ejected")
    decision, change = pool.route(now=back, wall=WALL)
    assert isinstance(decision, SendToSelfHelp)
    assert decision.cause is SelfHelpCause.HOLD_DOWN
    assert change is None  # still self-help
    decision, change = pool.route(now=back + HOLD_DOWN, wall=WALL)
    assert decision == RouteTo(callcenter="solo")
    assert change is not None


def test_outcomes_for_an_ejected_call_center_are_ignored() -> None:
    pool = started()
    for _ in range(OUTLIER.consecutive_local_failures):
        pool.record_outcome("primary", Outcome.LOCAL_FAILURE, now=1.0)
    before = pool.snapshot()
    for outcome in Outcome:
        assert pool.record_outcome("primary", outcome, now=2.0) == []
    assert pool.snapshot() is before


def test_a_success_in_a_calm_pool_changes_nothing() -> None:
    pool = started()
    before = pool.snapshot()
    assert pool.record_outcome("primary", Outcome.SUCCESS, now=1.0) == []
    assert pool.snapshot() is before


def test_settle_ends_expired_ejections_and_only_then_makes_a_new_snapshot() -> None:
    pool = started()
    for _ in range(OUTLIER.consecutive_5xx):
        pool.record_outcome("primary", Outcome.BACKEND_FAILURE, now=1.0)
    before = pool.snapshot()
    pool.settle(now=5.0)
    assert pool.snapshot() is before  # still ejected: nothing to do
    pool.settle(now=21.0)
    after = pool.snapshot()
    assert after.version > before.version
    assert after.members[0].breaker.ejected_until is None
    assert after.members[0].breaker.returned_at == 21.0
    pool.settle(now=21.0)
    assert pool.snapshot() is after


# --- snapshots and the timeline ----------------------------------------------------


def test_snapshot_is_cached_while_nothing_changes() -> None:
    pool = started()
    first = pool.snapshot()
    assert pool.snapshot() is first
    where(pool, 1.0)  # same destination: no change
    assert pool.snapshot() is first


@pytest.mark.parametrize(
    "change",
    [
        lambda p: p.observe_probe("primary", OK, now=1.0),
        lambda p: p.record_outcome("primary", Outcome.BACKEND_FAILURE, now=1.0),
        lambda p: p.set_emergency("backup", True, now=1.0),
        lambda p: p.set_drained("backup", True, now=1.0),
        lambda p: p.set_override(Override(kind=OverrideKind.FORCE_SELF_HELP), now=1.0),
        lambda p: p.set_emergency("primary", True, now=1.0) and p.route(now=1.0, wall=WALL),
    ],
    ids=["probe", "outcome", "emergency", "drained", "override", "route-change"],
)
def test_snapshot_is_rebuilt_with_a_higher_version_after_a_change(
    change: Callable[[Pool], object],
) -> None:
    pool = started()
    before = pool.snapshot()
    change(pool)
    after = pool.snapshot()
    assert after is not before
    assert after.version > before.version
    assert pool.snapshot() is after


def test_snapshot_views_follow_the_members() -> None:
    pool = started()
    pool.set_drained("backup", True, now=1.0)
    snap = pool.snapshot()
    assert [v.name for v in snap.views] == ["primary", "backup"]
    assert [v.drained for v in snap.views] == [False, True]
    assert snap.router.current == "primary"
    assert snap.override is None


def test_timeline_keeps_only_the_latest_timeline_size_events() -> None:
    pool = make_pool(timeline_size=5)
    for i in range(20):
        pool.set_drained("primary", i % 2 == 0, now=float(i))
    timeline = pool.snapshot().timeline
    assert len(timeline) == 5
    assert [e.at for e in timeline if isinstance(e, SwitchChanged)] == [
        15.0,
        16.0,
        17.0,
        18.0,
        19.0,
    ]


def test_route_changes_go_on_the_timeline() -> None:
    pool = started()
    take_down(pool, "primary", now=1.0)
    where(pool, 1.0)
    kinds = [type(e).__name__ for e in pool.snapshot().timeline]
    assert kinds == [
        "HealthChange",
        "HealthChange",
        "RouteChange",
        "HealthChange",
        "RouteChange",
    ]


# --- names -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "call",
    [
        lambda p: p.set_emergency("atlantis", True, now=0.0),
        lambda p: p.set_drained("atlantis", True, now=0.0),
        lambda p: p.set_override(
            Override(kind=OverrideKind.FORCE_CALLCENTER, callcenter="atlantis"), now=0.0
        ),
    ],
    ids=["emergency", "drained", "override"],
)
def test_an_unknown_call_center_name_raises(call: Callable[[Pool], object]) -> None:
    pool = make_pool()
    before = pool.snapshot()
    with pytest.raises(UnknownCallCenterError, match="atlantis"):
        call(pool)
    assert pool.snapshot() is before


@pytest.mark.parametrize(
    "call",
    [
        lambda p: p.observe_probe("atlantis", OK, now=0.0),
        lambda p: p.record_outcome("atlantis", Outcome.BACKEND_FAILURE, now=0.0),
    ],
    ids=["probe", "outcome"],
)
def test_a_late_probe_or_outcome_of_an_unknown_call_center_is_ignored(
    call: Callable[[Pool], object],
) -> None:
    # A reload (issue 17) may remove a call center while a customer's attempt at it is
    # under way: the customer keeps the answer, and the pool has nothing to record.
    pool = make_pool()
    before = pool.snapshot()
    assert call(pool) == []
    assert pool.snapshot() is before


def test_unknown_call_center_error_is_a_key_error() -> None:
    assert issubclass(UnknownCallCenterError, KeyError)


def test_duplicate_call_center_names_are_rejected() -> None:
    with pytest.raises(ValueError, match="duplicate"):
        make_pool(CallCenterSpec(name="a", priority=1), CallCenterSpec(name="a", priority=2))


def test_names_keep_configuration_order() -> None:
    assert make_pool().names == ("primary", "backup")


# --- properties --------------------------------------------------------------------

NAMES = ("primary", "backup", "overflow")

ops = st.one_of(
    st.tuples(st.just("probe"), st.sampled_from(NAMES), st.sampled_from([OK, OK, DEGRADED, FAIL])),
    st.tuples(st.just("outcome"), st.sampled_from(NAMES), st.sampled_from(list(Outcome))),
    st.tuples(st.just("emergency"), st.sampled_from(NAMES), st.booleans()),
    st.tuples(st.just("drained"), st.sampled_from(NAMES), st.booleans()),
    st.tuples(st.just("force_self_help"), st.just(""), st.booleans()),
    st.tuples(st.just("settle"), st.just(""), st.just(True)),
)
steps = st.lists(st.tuples(st.sampled_from([0.0, 0.0, 0.5, 1.0, 3.0, 7.0, 25.0]), ops), max_size=60)


def apply(pool: Pool, op: str, name: str, arg: object, *, now: float) -> list[Event]:
    if op == "probe":
        assert isinstance(arg, ProbeResult)
        return pool.observe_probe(name, arg, now=now)
    if op == "outcome":
        assert isinstance(arg, Outcome)
        return pool.record_outcome(name, arg, now=now)
    if op == "emergency":
        return pool.set_emergency(name, bool(arg), now=now)
    if op == "drained":
        return pool.set_drained(name, bool(arg), now=now)
    if op == "force_self_help":
        override = Override(kind=OverrideKind.FORCE_SELF_HELP) if arg else None
        return pool.set_override(override, now=now)
    pool.settle(now=now)
    return []


def note_breaks(last_break: dict[str, float], events: list[Event]) -> None:
    """When each call center last came back into service, read from the events alone."""
    for e in events:
        if isinstance(e, HealthChange) and e.transition.source is HealthState.DOWN:
            last_break[e.callcenter] = e.transition.at
        elif isinstance(e, Ejected):
            last_break[e.callcenter] = e.ejection.until
        elif isinstance(e, SwitchChanged) and e.callcenter is not None:
            last_break[e.callcenter] = e.at


@settings(max_examples=150)
@given(script=steps)
def test_any_script_routes_only_to_call_centers_taking_customers_and_respects_hold_down(
    script: list[tuple[float, tuple[str, str, object]]],
) -> None:
    pool = make_pool(
        CallCenterSpec(name="primary", priority=1),
        CallCenterSpec(name="backup", priority=2),
        CallCenterSpec(name="overflow", priority=2),
        hold_down=5.0,
    )
    # Kept apart from the pool's own bookkeeping (stable_since, last_break).
    last_break = dict.fromkeys(NAMES, float("-inf"))
    now = 0.0
    for gap, (op, name, arg) in script:
        now += gap
        note_breaks(last_break, apply(pool, op, name, arg, now=now))
        before = pool.snapshot()
        _, fresh, _ = before.router.decide(
            before.views, now=now, wall=WALL, override=before.override
        )
        decision, change = pool.route(now=now, wall=WALL)
        assert decision == fresh  # a remembered decision is never a stale one
        snap = pool.snapshot()
        target = destination_of(decision)
        if snap.override is not None:
            assert target == SELF_HELP
        if target != SELF_HELP:
            # no panic routing: only to a call center that can take customers
            view = next(v for v in snap.views if v.name == target)
            member = next(m for m in snap.members if m.spec.name == target)
            assert view.availability(now=now, wall=WALL) in TAKING_CUSTOMERS
            assert member.machine.state in (HealthState.UP, HealthState.DEGRADED)
            assert not member.emergency
            assert not member.drained
            assert not member.breaker.is_ejected(now)
        if change is None:
            assert snap.router == before.router
            continue
        assert snap.timeline[-1] == change
        assert snap.router.current == target
        if change.source is not None and target != SELF_HELP:
            event("moved to a call center")
            assert now - last_break[target] >= 5.0, (change, last_break)
