"""When customers move: hold-down before returning or switching, and the router's invariants.

The properties check, over random call-center views, that customers only go where customers
are taken (or to self-help), only move to one stable for hold-down, and start on the best.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from failover.routing import (
    SELF_HELP,
    TAKING_CUSTOMERS,
    Availability,
    CallCenterView,
    OfferSelfHelp,
    Override,
    OverrideKind,
    Router,
    RouteTo,
    SelfHelpCause,
    SendToSelfHelp,
    destination_of,
)
from tests.support.routing_views import (
    DEGRADED,
    DOWN,
    NAMES,
    NOW,
    WALL,
    cc,
    decide,
    running_on,
    views_strategy,
)

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
