"""RFC 5861 freshness: bands, the plan table walked, headers, and properties."""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cache.freshness import (
    FETCH,
    FETCH_OR_SERVE,
    MAX_DELTA_SECONDS,
    PLANS,
    SERVE,
    SERVE_AND_REFRESH,
    Fetch,
    Freshness,
    FreshnessPolicy,
    Plan,
    age,
    cache_control,
    judge,
    plan,
)

FRESH, STALE, SIE, EXPIRED = (
    Freshness.FRESH,
    Freshness.STALE,
    Freshness.STALE_IF_ERROR,
    Freshness.EXPIRED,
)
POLICY = FreshnessPolicy(max_age=60, stale_while_revalidate=30, stale_if_error=100)
ORDER = list(Freshness)

ALL_KEYS = list(itertools.product(Freshness, (False, True), (False, True)))


def answers_customer(p: Plan) -> bool:
    """With a copy in hand, the customer gets an answer whatever the origin does."""
    return p.serve_cached_now or (p.fetch is Fetch.FOREGROUND and p.fallback_to_cached)


# --- judge: the bands ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("elapsed", "expected"),
    [
        (0.0, FRESH),
        (59.999, FRESH),
        (60.0, STALE),  # RFC 9111 4.2: fresh only while lifetime > age
        (89.999, STALE),
        (90.0, SIE),
        (189.999, SIE),
        (190.0, EXPIRED),
        (10**9, EXPIRED),
    ],
)
def test_judge_puts_each_age_in_its_half_open_band(elapsed: float, expected: Freshness) -> None:
    assert judge(1000.0, 1000.0 + elapsed, POLICY) is expected


def test_a_copy_from_the_future_is_fresh_not_an_error() -> None:
    assert judge(500.0, 400.0, POLICY) is FRESH
    assert age(500.0, 400.0) == 0


def test_zero_width_windows_are_skipped() -> None:
    no_swr = FreshnessPolicy(max_age=10, stale_while_revalidate=0, stale_if_error=5)
    assert judge(0.0, 9.9, no_swr) is FRESH
    assert judge(0.0, 10.0, no_swr) is SIE
    assert judge(0.0, 15.0, no_swr) is EXPIRED
    nothing = FreshnessPolicy(max_age=0, stale_while_revalidate=0, stale_if_error=0)
    assert judge(0.0, 0.0, nothing) is EXPIRED


# --- age and Cache-Control -----------------------------------------------------------


@pytest.mark.parametrize(
    ("elapsed", "expected"),
    [(0.0, 0), (0.999, 0), (1.0, 1), (59.5, 59), (-3.0, 0), (float("nan"), 0), (1e12, 2**31)],
)
def test_age_is_whole_nonnegative_seconds_capped_at_2_to_the_31(
    elapsed: float, expected: int
) -> None:
    assert age(100.0, 100.0 + elapsed) == expected


def test_cache_control_announces_the_stacked_windows_as_rfc_5861_reads_them() -> None:
    assert cache_control(POLICY) == (
        "public, max-age=60, stale-while-revalidate=30, stale-if-error=130"
    )


@settings(max_examples=200)
@given(
    max_age=st.integers(0, 10_000),
    swr=st.integers(0, 10_000),
    sie=st.integers(0, 10_000),
    elapsed=st.integers(0, 40_000),
)
def test_a_downstream_cache_reading_our_header_keeps_our_bands(
    max_age: int, swr: int, sie: int, elapsed: int
) -> None:
    policy = FreshnessPolicy(max_age=max_age, stale_while_revalidate=swr, stale_if_error=sie)
    fields = dict(re.findall(r"([a-z-]+)=(\d+)", cache_control(policy)))
    staleness = elapsed - int(fields["max-age"])  # RFC 5861 measures from expiry
    band = judge(0.0, float(elapsed), policy)
    assert (band is FRESH) == (staleness < 0)
    assert (band is STALE) == (0 <= staleness < int(fields["stale-while-revalidate"]))
    assert (band is EXPIRED) == (staleness >= int(fields["stale-if-error"]))


def test_cache_control_starts_public_and_stays_within_delta_seconds() -> None:
    big = FreshnessPolicy(max_age=1, stale_while_revalidate=2**31, stale_if_error=2**31)
    assert cache_control(big).startswith("public, max-age=1,")
    assert cache_control(big).endswith(f"stale-if-error={MAX_DELTA_SECONDS}")


@pytest.mark.parametrize(
    "kwargs",
    [{"max_age": -1}, {"stale_while_revalidate": -5}, {"stale_if_error": 2**31 + 1}],
)
def test_policy_rejects_windows_outside_delta_seconds(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="seconds"):
        FreshnessPolicy(**kwargs)


@pytest.mark.parametrize("bad", [1.5, True, "60"])
def test_policy_rejects_non_integer_seconds(bad: object) -> None:
    with pytest.raises(TypeError, match="max_age"):
        FreshnessPolicy(max_age=bad)  # type: ignore[arg-type]


# --- the plan table walked -------------------------------------------------------------


def test_plan_table_covers_every_combination_exactly() -> None:
    assert sorted(PLANS, key=str) == sorted(ALL_KEYS, key=str)


@pytest.mark.parametrize(("freshness", "origin_open", "have_copy"), ALL_KEYS)
def test_plan_reads_the_table(freshness: Freshness, origin_open: bool, have_copy: bool) -> None:
    got = plan(freshness, origin_open=origin_open, have_copy=have_copy)
    assert got is PLANS[freshness, origin_open, have_copy]


@pytest.mark.parametrize(
    ("freshness", "origin_open"), list(itertools.product(Freshness, (False, True)))
)
def test_with_a_copy_the_customer_always_gets_an_answer(
    freshness: Freshness, origin_open: bool
) -> None:
    assert answers_customer(plan(freshness, origin_open=origin_open, have_copy=True))


@pytest.mark.parametrize("freshness", list(Freshness))
def test_open_breaker_and_a_copy_answers_at_once_without_waiting_for_the_origin(
    freshness: Freshness,
) -> None:
    # The issue: a stale answer is immediate; no origin timeout first.
    assert plan(freshness, origin_open=True, have_copy=True) == SERVE


@pytest.mark.parametrize(
    ("freshness", "origin_open"), list(itertools.product(Freshness, (False, True)))
)
def test_without_a_copy_the_customer_waits_for_the_origin(
    freshness: Freshness, origin_open: bool
) -> None:
    assert plan(freshness, origin_open=origin_open, have_copy=False) == FETCH


@pytest.mark.parametrize(
    ("freshness", "expected"),
    [
        (FRESH, SERVE),
        (STALE, SERVE_AND_REFRESH),  # RFC 5861 section 3
        (SIE, FETCH_OR_SERVE),  # RFC 5861 section 4
        (EXPIRED, FETCH_OR_SERVE),  # last resort: never a 5xx for a dependency failure
    ],
)
def test_closed_breaker_with_a_copy_follows_rfc_5861(freshness: Freshness, expected: Plan) -> None:
    assert plan(freshness, origin_open=False, have_copy=True) == expected


def test_only_a_stale_copy_with_a_healthy_origin_refreshes_in_background() -> None:
    background = [key for key, p in PLANS.items() if p.fetch is Fetch.BACKGROUND]
    assert background == [(STALE, False, True)]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"serve_cached_now": True, "fetch": Fetch.FOREGROUND, "fallback_to_cached": False},
        {"serve_cached_now": False, "fetch": Fetch.BACKGROUND, "fallback_to_cached": False},
        {"serve_cached_now": True, "fetch": Fetch.NONE, "fallback_to_cached": True},
        {"serve_cached_now": False, "fetch": Fetch.NONE, "fallback_to_cached": True},
    ],
)
def test_incoherent_plans_cannot_be_built(kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError, match=r"plan|fetch|fallback"):
        Plan(**kwargs)  # type: ignore[arg-type]


def test_states_are_strings_for_logs_and_metric_labels() -> None:
    assert [f.value for f in Freshness] == ["fresh", "stale", "stale_if_error", "expired"]
    assert [f.value for f in Fetch] == ["none", "background", "foreground"]


# --- properties ------------------------------------------------------------------------

policies = st.builds(
    FreshnessPolicy,
    max_age=st.integers(0, 100_000),
    stale_while_revalidate=st.integers(0, 100_000),
    stale_if_error=st.integers(0, 1_000_000),
)
times = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False)


@settings(max_examples=300)
@given(policy=policies, stored_at=times, t1=times, t2=times)
def test_judge_never_gets_fresher_as_time_passes(
    policy: FreshnessPolicy, stored_at: float, t1: float, t2: float
) -> None:
    early, late = sorted((t1, t2))
    assert ORDER.index(judge(stored_at, early, policy)) <= ORDER.index(
        judge(stored_at, late, policy)
    )
    assert age(stored_at, early) <= age(stored_at, late)


@settings(max_examples=300)
@given(policy=policies, stored_at=times, now=times, origin_open=st.booleans())
def test_a_copy_in_hand_is_never_left_unused_when_the_origin_fails(
    policy: FreshnessPolicy, stored_at: float, now: float, origin_open: bool
) -> None:
    p = plan(judge(stored_at, now, policy), origin_open=origin_open, have_copy=True)
    assert answers_customer(p)
    if origin_open:
        assert p.serve_cached_now
        assert p.fetch is Fetch.NONE


@settings(max_examples=100)
@given(freshness=st.sampled_from(Freshness), origin_open=st.booleans())
def test_without_a_copy_there_is_always_a_foreground_fetch(
    freshness: Freshness, origin_open: bool
) -> None:
    p = plan(freshness, origin_open=origin_open, have_copy=False)
    assert p.fetch is Fetch.FOREGROUND
    assert not p.serve_cached_now
    assert not p.fallback_to_cached
