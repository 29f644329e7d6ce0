"""Pure rules of callback delivery: where callbacks go, and how fast."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from failover.callbacks.pacing import TokenBucket
from failover.routing import (
    TAKING_CUSTOMERS,
    CallCenterView,
    Override,
    OverrideKind,
    Router,
    SendToSelfHelp,
    callback_target,
)
from tests.support.routing_views import DEGRADED, DOWN, EJECTED, NOW, WALL, cc, views_strategy

# --- callback_target -----------------------------------------------------------------


def test_callbacks_go_to_the_preferred_serving_call_center() -> None:
    views = [cc("a", priority=2, order=0), cc("b", priority=1, order=1)]
    assert callback_target(views, now=NOW, wall=WALL, override=None) == "b"


def test_a_serving_call_center_is_preferred_to_a_degraded_one_of_higher_priority() -> None:
    views = [cc("a", priority=1, health=DEGRADED), cc("b", priority=2, order=1)]
    assert callback_target(views, now=NOW, wall=WALL, override=None) == "b"


def test_no_call_center_taking_customers_means_callbacks_wait() -> None:
    views = [cc("a", health=DOWN), cc("b", breaker=EJECTED, order=1)]
    assert callback_target(views, now=NOW, wall=WALL, override=None) is None


def test_callbacks_start_at_once_when_customers_still_wait_out_the_hold_down() -> None:
    # Back a moment ago: customers stay on self-help during the hold-down,
    # callbacks do not.
    views = [cc("a", stable_since=NOW - 0.1)]
    router = Router(hold_down=5.0, current="self-help", since=NOW - 60)
    _, decision, _ = router.decide(views, now=NOW, wall=WALL)
    assert isinstance(decision, SendToSelfHelp)
    assert callback_target(views, now=NOW, wall=WALL, override=None) == "a"


def test_forced_self_help_holds_callbacks_back() -> None:
    views = [cc("a")]
    forced = Override(kind=OverrideKind.FORCE_SELF_HELP, reason="maintenance")
    assert callback_target(views, now=NOW, wall=WALL, override=forced) is None


def test_a_pinned_call_center_gets_the_callbacks_while_it_takes_customers() -> None:
    views = [cc("a", priority=1), cc("b", priority=2, order=1)]
    pinned = Override(kind=OverrideKind.FORCE_CALLCENTER, callcenter="b")
    assert callback_target(views, now=NOW, wall=WALL, override=pinned) == "b"
    views = [cc("a", priority=1), cc("b", priority=2, order=1, health=DOWN)]
    assert callback_target(views, now=NOW, wall=WALL, override=pinned) is None


@given(views_strategy())
def test_callbacks_only_ever_go_to_a_call_center_taking_customers(
    views: list[CallCenterView],
) -> None:
    target = callback_target(views, now=NOW, wall=WALL, override=None)
    taking = {v.name for v in views if v.availability(now=NOW, wall=WALL) in TAKING_CUSTOMERS}
    assert (target is None) == (not taking)
    assert target is None or target in taking


# --- TokenBucket ---------------------------------------------------------------------


def test_the_bucket_allows_a_burst_then_paces_at_the_rate() -> None:
    bucket = TokenBucket(rate=10.0, burst=3)
    for _ in range(3):
        assert bucket.wait(0.0) == 0.0
        bucket.take(0.0)
    assert bucket.wait(0.0) == pytest.approx(0.1)
    assert bucket.wait(0.1) == pytest.approx(0.0)


def test_the_bucket_never_holds_more_than_its_burst() -> None:
    bucket = TokenBucket(rate=100.0, burst=2)
    bucket.wait(0.0)
    for _ in range(2):
        bucket.take(1000.0)
    assert bucket.wait(1000.0) > 0


def test_a_clock_going_backwards_adds_no_tokens() -> None:
    bucket = TokenBucket(rate=1.0, burst=1)
    bucket.take(10.0)
    assert bucket.wait(5.0) == pytest.approx(1.0)


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 1), (-1.0, 1), (1.0, 0)])
def test_a_bucket_needs_a_positive_rate_and_burst(rate: float, burst: int) -> None:
    with pytest.raises(ValueError, match="rate > 0"):
        TokenBucket(rate, burst)


@given(
    rate=st.floats(min_value=0.5, max_value=1000),
    burst=st.integers(min_value=1, max_value=20),
    gaps=st.lists(st.floats(min_value=0, max_value=2), min_size=1, max_size=60),
)
def test_deliveries_never_exceed_burst_plus_rate_times_elapsed(
    rate: float, burst: int, gaps: list[float]
) -> None:
    bucket, now = TokenBucket(rate, burst), 0.0
    for taken, gap in enumerate(gaps, start=1):
        now += gap
        delay = bucket.wait(now)
        now += delay  # a caller that honours the wait
        bucket.take(now)
        assert taken <= burst + rate * now + 1e-6
