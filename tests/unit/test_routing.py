"""Where the next customer goes: priority, UP before DEGRADED, hold-down, overrides."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from failover.health import HealthState
from failover.routing import (
    SELF_HELP,
    TAKING_CUSTOMERS,
    Availability,
    CallCenterView,
    Decision,
    OfferSelfHelp,
    Override,
    OverrideKind,
    RouteChange,
    Router,
    RouteTo,
    SelfHelpCause,
    SendToSelfHelp,
    destination_of,
)
from kernel.breaker import Breaker

NOW = 1000.0
WALL = datetime(2024, 12, 24, 10, 30, tzinfo=UTC)  # Christmas Eve, mid-morning
NEVER = -math.inf
EJECTED = Breaker(multiplier=1, ejected_until=NOW + 10.0, ejections_total=1)

UP, DEGRADED, DOWN, UNKNOWN = (
    HealthState.UP,
    HealthState.DEGRADED,
    HealthState.DOWN,
    HealthState.UNKNOWN,
)


@dataclass(frozen=True, slots=True)
class FixedHours:
    """A Schedule that is always open or always closed."""

    open: bool

    def is_open(self, at: datetime) -> bool:
        return self.open


@dataclass(frozen=True, slots=True)
class OfficeHours:
    """A Schedule open from `start` to `end` o'clock, UTC."""

    start: int
    end: int

    def is_open(self, at: datetime) -> bool:
        return self.start <= at.astimezone(UTC).hour < self.end


def cc(
    name: str,
    *,
    priority: int = 1,
    order: int = 0,
    health: HealthState = UP,
    stable_since: float = NEVER,
    breaker: Breaker | None = None,
    emergency: bool = False,
    drained: bool = False,
    hours: FixedHours | OfficeHours | None = None,
) -> CallCenterView:
    return CallCenterView(
        name=name,
        priority=priority,
        order=order,
        health=health,
        stable_since=stable_since,
        breaker=Breaker() if breaker is None else breaker,
        emergency=emergency,
        drained=drained,
        hours=hours,
    )


def decide(
    views: list[CallCenterView],
    *,
    router: Router | None = None,
    now: float = NOW,
    wall: datetime = WALL,
    override: Override | None = None,
) -> tuple[Router, Decision, RouteChange | None]:
    r = Router(hold_down=5.0) if router is None else router
    return r.decide(views, now=now, wall=wall, override=override)


def running_on(current: str, hold_down: float = 5.0) -> Router:
    return Router(hold_down=hold_down, current=current, since=0.0)


# --- choosing ----------------------------------------------------------------------


def test_highest_priority_serving_call_center_wins() -> None:
    views = [cc("manila", priority=2, order=0), cc("dublin", priority=1, order=1)]
    _, decision, _ = decide(views)
    assert decision == RouteTo(callcenter="dublin", fallbacks=("manila",))


def test_configuration_order_breaks_priority_ties() -> None:
    views = [cc("b", priority=1, order=1), cc("a", priority=1, order=0)]
    _, decision, _ = decide(views)
    assert destination_of(decision) == "a"


def test_up_beats_degraded_of_better_priority() -> None:
    views = [cc("primary", priority=1, health=DEGRADED), cc("backup", priority=2, order=1)]
    _, decision, _ = decide(views)
    assert decision == RouteTo(callcenter="backup", fallbacks=("primary",))


def test_only_degraded_left_offers_self_help_first_with_the_best_degraded() -> None:
    views = [
        cc("a", priority=2, health=DEGRADED),
        cc("b", priority=1, order=1, health=DEGRADED),
        cc("c", priority=0, order=2, health=DOWN),
    ]
    _, decision, _ = decide(views)
    assert decision == OfferSelfHelp(callcenter="b", fallbacks=("a",))
    assert destination_of(decision) == "b"


def test_fallbacks_list_the_other_serving_ones_in_rank_order() -> None:
    views = [
        cc("d-down", priority=0, order=0, health=DOWN),
        cc("b-degraded", priority=0, order=1, health=DEGRADED),
        cc("a", priority=1, order=2),
        cc("c", priority=2, order=3),
        cc("e-ejected", priority=0, order=4, breaker=EJECTED),
        cc("f-unknown", priority=0, order=5, health=UNKNOWN),
        cc("g", priority=1, order=6),
    ]
    _, decision, _ = decide(views)
    assert decision == RouteTo(callcenter="a", fallbacks=("g", "c", "b-degraded"))


# --- self-help and its cause -------------------------------------------------------


@pytest.mark.parametrize(
    "health_or_breaker", [DOWN, UNKNOWN, EJECTED], ids=["down", "unknown", "ejected"]
)
def test_none_serving_sends_to_self_help_because_down(
    health_or_breaker: HealthState | Breaker,
) -> None:
    if isinstance(health_or_breaker, Breaker):
        views = [cc("a", breaker=health_or_breaker), cc("b", order=1, health=DOWN)]
    else:
        views = [cc("a", health=health_or_breaker), cc("b", order=1, health=DOWN)]
    _, decision, _ = decide(views)
    assert isinstance(decision, SendToSelfHelp)
    assert decision.cause is SelfHelpCause.DOWN
    assert destination_of(decision) == SELF_HELP


@pytest.mark.parametrize(
    ("view", "cause"),
    [
        (cc("a", emergency=True), SelfHelpCause.EMERGENCY),
        (cc("a", drained=True), SelfHelpCause.DRAINED),
        (cc("a", hours=FixedHours(open=False)), SelfHelpCause.CLOSED),
    ],
    ids=["emergency", "drained", "closed"],
)
def test_a_healthy_call_center_switched_off_sends_to_self_help_with_that_cause(
    view: CallCenterView, cause: SelfHelpCause
) -> None:
    _, decision, _ = decide([view])
    assert isinstance(decision, SendToSelfHelp)
    assert decision.cause is cause
    assert "a " in decision.reason


@pytest.mark.parametrize(
    ("views", "cause"),
    [
        ([cc("a", health=DOWN), cc("b", order=1, emergency=True)], SelfHelpCause.EMERGENCY),
        ([cc("a", hours=FixedHours(open=False)), cc("b", drained=True)], SelfHelpCause.DRAINED),
        ([cc("a", breaker=EJECTED), cc("b", hours=FixedHours(open=False))], SelfHelpCause.CLOSED),
        ([cc("a", health=UNKNOWN), cc("b", breaker=EJECTED)], SelfHelpCause.DOWN),
    ],
    ids=["emergency>down", "drained>closed", "closed>ejected", "ejected/unknown->down"],
)
def test_the_most_deliberate_cause_is_reported(
    views: list[CallCenterView], cause: SelfHelpCause
) -> None:
    _, decision, _ = decide(views)
    assert isinstance(decision, SendToSelfHelp)
    assert decision.cause is cause


def test_no_call_centers_at_all_sends_to_self_help() -> None:
    _, decision, change = decide([])
    assert decision == SendToSelfHelp(cause=SelfHelpCause.DOWN, reason="no call centers")
    assert change is not None
    assert change.target == SELF_HELP


def test_hours_of_operation_are_judged_on_the_wall_clock() -> None:
    views = [cc("day", priority=1, hours=OfficeHours(8, 18)), cc("night", priority=2, order=1)]
    _, decision, _ = decide(views, wall=datetime(2024, 12, 24, 12, tzinfo=UTC))
    assert destination_of(decision) == "day"
    _, decision, _ = decide(views, wall=datetime(2024, 12, 24, 22, tzinfo=UTC))
    assert decision == RouteTo(callcenter="night")


@pytest.mark.parametrize(
    ("view", "expected"),
    [
        (cc("a"), Availability.SERVING),
        (cc("a", health=DEGRADED), Availability.DEGRADED),
        (cc("a", health=DOWN), Availability.DOWN),
        (cc("a", health=UNKNOWN), Availability.UNKNOWN),
        (cc("a", breaker=EJECTED), Availability.EJECTED),
        (cc("a", health=DOWN, breaker=EJECTED), Availability.EJECTED),
        (cc("a", breaker=EJECTED, hours=FixedHours(open=False)), Availability.CLOSED),
        (cc("a", drained=True, hours=FixedHours(open=False)), Availability.DRAINED),
        (cc("a", drained=True, emergency=True), Availability.EMERGENCY),
        (cc("a", health=DEGRADED, hours=FixedHours(open=True)), Availability.DEGRADED),
    ],
)
def test_availability_names_the_most_deliberate_reason(
    view: CallCenterView, expected: Availability
) -> None:
    assert view.availability(now=NOW, wall=WALL) is expected


def test_an_ejected_call_center_is_skipped_until_its_ejection_ends() -> None:
    views = [cc("a", priority=1, breaker=EJECTED), cc("b", priority=2, order=1)]
    _, decision, _ = decide(views, now=NOW + 9.9)
    assert destination_of(decision) == "b"
    _, decision, _ = decide(views, now=NOW + 10.0)
    assert destination_of(decision) == "a"  # start-up router: no hold-down to wait for


# --- overrides ---------------------------------------------------------------------


def test_force_self_help_wins_over_healthy_call_centers() -> None:
    force = Override(kind=OverrideKind.FORCE_SELF_HELP, reason="earthquake drill")
    router, decision, change = decide(
        [cc("a"), cc("b", order=1)], router=running_on("a"), override=force
    )
    assert decision == SendToSelfHelp(cause=SelfHelpCause.FORCED, reason="earthquake drill")
    assert change == RouteChange(
        source="a", target=SELF_HELP, at=NOW, reason="override force_self_help: earthquake drill"
    )
    assert router.current == SELF_HELP


def test_force_callcenter_pins_a_worse_priority() -> None:
    pin = Override(kind=OverrideKind.FORCE_CALLCENTER, callcenter="b")
    views = [cc("a", priority=1), cc("b", priority=2, order=1), cc("c", priority=3, order=2)]
    _, decision, _ = decide(views, router=running_on("a"), override=pin)
    assert decision == RouteTo(callcenter="b", fallbacks=("a", "c"))


def test_force_callcenter_pins_even_one_not_yet_stable() -> None:
    pin = Override(kind=OverrideKind.FORCE_CALLCENTER, callcenter="b")
    views = [cc("a", priority=1), cc("b", priority=2, order=1, stable_since=NOW)]
    _, decision, _ = decide(views, router=running_on("a"), override=pin)
    assert destination_of(decision) == "b"


def test_force_callcenter_is_the_operators_word_even_against_health() -> None:
    # The override is a deliberate operator act: it pins a DOWN call center too.
    pin = Override(kind=OverrideKind.FORCE_CALLCENTER, callcenter="b")
    views = [cc("a", priority=1), cc("b", priority=2, order=1, health=DOWN)]
    _, decision, _ = decide(views, override=pin)
    assert decision == RouteTo(callcenter="b", fallbacks=("a",))


@pytest.mark.parametrize("name", [None, "atlantis"])
def test_force_callcenter_without_a_known_name_falls_back_to_automatic(name: str | None) -> None:
    pin = Override(kind=OverrideKind.FORCE_CALLCENTER, callcenter=name)
    views = [cc("a", priority=1), cc("b", priority=2, order=1)]
    _, decision, _ = decide(views, override=pin)
    assert destination_of(decision) == "a"


# --- hold-down ---------------------------------------------------------------------


def test_start_up_picks_the_best_at_once_even_if_it_just_came_up() -> None:
    views = [cc("a", priority=1, stable_since=NOW), cc("b", priority=2, order=1)]
    router, decision, change = decide(views)
    assert decision == RouteTo(callcenter="a", fallbacks=("b",))
    assert change is not None
    assert change.source is None
    assert change.target == "a"
    assert router.current == "a"
    assert router.since == NOW


def test_leaving_a_failed_destination_is_immediate() -> None:
    views = [cc("a", priority=1, health=DOWN), cc("b", priority=2, order=1)]
    router, decision, change = decide(views, router=running_on("a"))
    assert decision == RouteTo(callcenter="b")
    assert change is not None
    assert (change.source, change.target, change.at) == ("a", "b", NOW)
    assert router.current == "b"


def test_leaving_a_failed_destination_when_the_rest_are_not_yet_stable_goes_to_self_help() -> None:
    views = [cc("a", priority=1, health=DOWN), cc("b", priority=2, order=1, stable_since=NOW - 1)]
    router, decision, change = decide(views, router=running_on("a"))
    assert isinstance(decision, SendToSelfHelp)
    assert decision.cause is SelfHelpCause.HOLD_DOWN
    assert change is not None
    assert change.target == SELF_HELP
    _, decision, _ = decide(views, router=router, now=NOW + 4)
    assert destination_of(decision) == "b"


def test_after_the_primary_returns_traffic_stays_on_the_backup_until_hold_down_has_elapsed() -> (
    None
):
    back_at = NOW
    views = [cc("a", priority=1, stable_since=back_at), cc("b", priority=2, order=1)]
    router = running_on("b", hold_down=5.0)
    for now in (back_at, back_at + 1, back_at + 4.999):
        same, decision, change = decide(views, router=router, now=now)
        assert decision == RouteTo(callcenter="b", fallbacks=("a",))
        assert change is None
        assert same is router
    moved, decision, change = decide(views, router=router, now=back_at + 5.0)
    assert decision == RouteTo(callcenter="a", fallbacks=("b",))
    assert change is not None
    assert (change.source, change.target, change.at) == ("b", "a", back_at + 5.0)
    assert moved.current == "a"


def test_coming_back_from_self_help_waits_for_hold_down() -> None:
    views = [cc("a", stable_since=NOW)]
    router = running_on(SELF_HELP)
    _, decision, change = decide(views, router=router, now=NOW + 2)
    assert isinstance(decision, SendToSelfHelp)
    assert decision.cause is SelfHelpCause.HOLD_DOWN
    assert "a" in decision.reason
    assert change is None  # still self-help: nothing moved
    _, decision, change = decide(views, router=router, now=NOW + 5)
    assert destination_of(decision) == "a"
    assert change is not None


def test_a_degraded_destination_loses_to_a_stable_up_one() -> None:
    views = [cc("a", priority=1, health=DEGRADED), cc("b", priority=2, order=1)]
    _, decision, _ = decide(views, router=running_on("a"))
    assert decision == RouteTo(callcenter="b", fallbacks=("a",))


def test_a_degraded_destination_keeps_its_customers_while_the_up_one_is_not_stable() -> None:
    views = [cc("a", priority=1, health=DEGRADED), cc("b", priority=2, order=1, stable_since=NOW)]
    _, decision, change = decide(views, router=running_on("a"))
    assert decision == OfferSelfHelp(callcenter="a", fallbacks=("b",))
    assert change is None


def test_a_better_stable_call_center_takes_over_from_a_worse_current_one() -> None:
    views = [cc("a", priority=1), cc("b", priority=2, order=1)]
    _, decision, change = decide(views, router=running_on("b"))
    assert destination_of(decision) == "a"
    assert change is not None


def test_deciding_again_with_nothing_changed_reports_no_change() -> None:
    views = [cc("a")]
    router, _, first = decide(views)
    assert first is not None
    again, decision, second = decide(views, router=router, now=NOW + 60)
    assert second is None
    assert again is router
    assert destination_of(decision) == "a"


def test_route_change_reasons_say_why() -> None:
    _, _, change = decide([cc("a")])
    assert change is not None
    assert change.reason == "a is the best serving call center"
    _, _, change = decide([cc("a", health=DEGRADED)])
    assert change is not None
    assert change.reason == "a degraded: self-help offered first"
    _, _, change = decide([cc("a", health=DOWN)])
    assert change is not None
    assert change.reason == "down: a down"
    _, _, change = decide([cc("a")], override=Override(kind=OverrideKind.FORCE_SELF_HELP))
    assert change is not None
    assert change.reason == "override force_self_help"


# --- properties --------------------------------------------------------------------

NAMES = ("a", "b", "c", "d")


@st.composite
def views_strategy(draw: st.DrawFn) -> list[CallCenterView]:
    names = draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=len(NAMES)))
    return [
        cc(
            name,
            priority=draw(st.integers(min_value=0, max_value=3)),
            order=i,
            health=draw(st.sampled_from(list(HealthState))),
            stable_since=draw(st.sampled_from([NEVER, NOW - 10, NOW - 5, NOW - 4.9, NOW])),
            breaker=draw(st.sampled_from([Breaker(), EJECTED])),
            emergency=draw(st.booleans()),
            drained=draw(st.booleans()),
            hours=draw(st.sampled_from([None, FixedHours(open=True), FixedHours(open=False)])),
        )
        for i, name in enumerate(names)
    ]


routers = st.builds(
    Router,
    hold_down=st.sampled_from([0.0, 1.0, 5.0, 30.0]),
    current=st.sampled_from([None, SELF_HELP, *NAMES]),
)


def rank(view: CallCenterView) -> tuple[bool, int, int]:
    return (
        view.availability(now=NOW, wall=WALL) is Availability.DEGRADED,
        view.priority,
        view.order,
    )


@settings(max_examples=100)
@given(views=views_strategy(), router=routers, forced=st.booleans())
def test_customers_only_ever_go_to_a_call_center_taking_customers_or_to_self_help(
    views: list[CallCenterView], router: Router, forced: bool
) -> None:
    override = Override(kind=OverrideKind.FORCE_SELF_HELP) if forced else None
    moved, decision, change = router.decide(views, now=NOW, wall=WALL, override=override)
    avail = {v.name: v.availability(now=NOW, wall=WALL) for v in views}
    taking = [v for v in views if avail[v.name] in TAKING_CUSTOMERS]
    if isinstance(decision, SendToSelfHelp):
        if forced:
            assert decision.cause is SelfHelpCause.FORCED
        elif taking:
            # the only reason to turn away a serving call center: it is not yet stable
            assert decision.cause is SelfHelpCause.HOLD_DOWN
    else:
        assert not forced
        # no panic routing: never to DOWN, EJECTED, UNKNOWN, closed, drained...
        expected = Availability.SERVING if isinstance(decision, RouteTo) else Availability.DEGRADED
        assert avail[decision.callcenter] is expected
        assert decision.callcenter not in decision.fallbacks
        fallback_views = [next(v for v in views if v.name == f) for f in decision.fallbacks]
        assert all(avail[v.name] in TAKING_CUSTOMERS for v in fallback_views)
        assert fallback_views == sorted(fallback_views, key=rank)
        assert set(decision.fallbacks) | {decision.callcenter} == {v.name for v in taking}
    target = destination_of(decision)
    assert moved.current == target
    assert (change is None) == (target == router.current)
    if change is not None:
        assert (change.source, change.target, change.at) == (router.current, target, NOW)


@settings(max_examples=100)
@given(views=views_strategy(), router=routers)
def test_customers_only_move_to_a_call_center_that_has_been_stable_for_hold_down(
    views: list[CallCenterView], router: Router
) -> None:
    _, decision, _ = router.decide(views, now=NOW, wall=WALL)
    target = destination_of(decision)
    if router.current is None or target in (router.current, SELF_HELP):
        return
    view = next(v for v in views if v.name == target)
    assert NOW - view.stable_since >= router.hold_down


@settings(max_examples=100)
@given(views=views_strategy())
def test_start_up_takes_the_best_ranked_call_center(views: list[CallCenterView]) -> None:
    _, decision, change = Router(hold_down=30.0).decide(views, now=NOW, wall=WALL)
    taking = [v for v in views if v.availability(now=NOW, wall=WALL) in TAKING_CUSTOMERS]
    assert change is not None
    assert change.source is None
    if taking:
        assert destination_of(decision) == min(taking, key=rank).name
    else:
        assert isinstance(decision, SendToSelfHelp)
        assert decision.cause is not SelfHelpCause.HOLD_DOWN
