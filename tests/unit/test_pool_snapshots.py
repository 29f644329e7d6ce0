"""The pool's snapshots, timeline and call-center names, and the property that any
script of probes, outcomes and switches routes only to call centers taking customers and
respects hold-down. Shared scripting helpers: tests/support/pool.py."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from failover.health import HealthState, ProbeResult
from failover.pool import (
    CallCenterSpec,
    Ejected,
    Event,
    HealthChange,
    Pool,
    SwitchChanged,
    UnknownCallCenterError,
)
from failover.routing import SELF_HELP, TAKING_CUSTOMERS, Override, OverrideKind, destination_of
from kernel.breaker import Outcome
from tests.support.pool import DEGRADED, FAIL, OK, WALL, make_pool, started, take_down, where

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
