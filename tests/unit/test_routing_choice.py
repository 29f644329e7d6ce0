"""Where the next customer goes: priority, UP before DEGRADED, self-help and why, overrides."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from failover.health import HealthState
from failover.routing import (
    SELF_HELP,
    Availability,
    CallCenterView,
    OfferSelfHelp,
    Override,
    OverrideKind,
    RouteChange,
    RouteTo,
    SelfHelpCause,
    SendToSelfHelp,
    destination_of,
)
from kernel.breaker import Breaker
from tests.support.routing_views import (
    DEGRADED,
    DOWN,
    EJECTED,
    NOW,
    UNKNOWN,
    WALL,
    FixedHours,
    OfficeHours,
    cc,
    decide,
    running_on,
)

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
