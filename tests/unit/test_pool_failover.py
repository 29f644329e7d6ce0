"""The pool's failover and failback, scripted at increasing `now`: start-up, call centers
going down and coming back on probes (hold-down, flapping, degraded), and passive
detection (ejection on outcomes). Shared scripting helpers: tests/support/pool.py."""

from __future__ import annotations

from failover.health import HealthState
from failover.pool import CallCenterSpec, Ejected, HealthChange
from failover.routing import SELF_HELP, OfferSelfHelp, RouteTo, SelfHelpCause, SendToSelfHelp
from kernel.breaker import Outcome
from tests.support.pool import (
    DEGRADED,
    FAIL,
    HOLD_DOWN,
    OK,
    OUTLIER,
    WALL,
    bring_up,
    make_pool,
    probe_all,
    route_changes,
    started,
    take_down,
    where,
)

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
