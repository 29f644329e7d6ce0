"""Forward-decay trending: weights from a landmark, rescaling, the trending policy, properties."""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cache.ranking import (
    RESCALE_ABOVE,
    TrendingPolicy,
    decayed,
    needs_rescale,
    prune_threshold,
    rescale_factor,
    top_all_time,
    trending,
    weight,
)

H = 3600.0  # one half-life


def forward_scores(
    hits: Sequence[tuple[int, float]], landmark: float, half_life: float
) -> dict[int, float]:
    """What ZINCRBY of `weight` per hit leaves in the sorted set."""
    scores: dict[int, float] = defaultdict(float)
    for bid, t in hits:
        scores[bid] += weight(t, landmark, half_life)
    return dict(scores)


def naive_decayed(
    hits: Sequence[tuple[int, float]], now: float, half_life: float
) -> dict[int, float]:
    """Backward decay, computed from scratch: each hit is worth 2 ** -(age / half_life)."""
    counts: dict[int, float] = defaultdict(float)
    for bid, t in hits:
        counts[bid] += 2.0 ** (-(now - t) / half_life)
    return dict(counts)


# --- forward decay -----------------------------------------------------------------------


def test_weight_doubles_every_half_life_from_the_landmark() -> None:
    assert weight(1000.0, 1000.0, H) == 1.0
    assert weight(1000.0 + H, 1000.0, H) == 2.0
    assert weight(1000.0 + 3 * H, 1000.0, H) == 8.0
    assert weight(1000.0 - H, 1000.0, H) == 0.5
    assert math.isclose(weight(H / 2, 0.0, H), math.sqrt(2))
    # The paper's form, exp(ln 2 * (t - L) / half_life), is the same function.
    assert math.isclose(weight(5000.0, 1000.0, H), math.exp(math.log(2) * 4000.0 / H))


def test_decayed_counts_are_exact_at_whole_half_lives() -> None:
    score = forward_scores([(1, 0.0)] * 8 + [(1, 2 * H)] * 4, 0.0, H)[1]
    assert score == 8 + 4 * 4
    assert decayed(score, 2 * H, 0.0, H) == 2 + 4  # 8 hits 2 half-lives old, 4 new
    assert decayed(score, 3 * H, 0.0, H) == 1 + 2
    assert decayed(0.0, 10 * H, 0.0, H) == 0.0


def test_a_recent_burst_beats_a_larger_old_count_once_enough_half_lives_pass() -> None:
    old = [(1, 0.0)] * 1000  # bulletin 1: 1000 hits at t=0
    for gap, winner in ((3, 1), (4, 2)):
        now = gap * H
        hits = [*old, *[(2, now)] * 100]  # bulletin 2: a burst of 100 hits now
        scores = forward_scores(hits, 0.0, H)
        assert trending(scores, {}, 1) == [winner]
        assert top_all_time({1: 1000, 2: 100}, 1) == [1]  # all-time never forgets
    # 1000 / 2**3 = 125 > 100, 1000 / 2**4 = 62.5 < 100
    assert decayed(1000 * weight(0.0, 0.0, H), 4 * H, 0.0, H) == 62.5


def test_rescale_keeps_order_and_decayed_counts() -> None:
    hits = [(1, 10.0), (1, 5000.0), (2, 7000.0), (3, 100.0), (3, 200.0), (3, 300.0)]
    scores = forward_scores(hits, 0.0, H)
    factor = rescale_factor(0.0, 7200.0, H)
    assert factor == 0.25
    moved = {b: s * factor for b, s in scores.items()}
    assert trending(moved, {}, 3) == trending(scores, {}, 3)
    for b in scores:
        assert math.isclose(
            decayed(moved[b], 9000.0, 7200.0, H), decayed(scores[b], 9000.0, 0.0, H)
        )
    fresh = forward_scores(hits, 7200.0, H)
    assert all(math.isclose(moved[b], fresh[b]) for b in scores)


def test_needs_rescale_near_float_limits_only() -> None:
    assert not needs_rescale(0.0)
    assert not needs_rescale(1e200)
    assert needs_rescale(1.01e200)
    assert needs_rescale(math.inf)
    assert needs_rescale(math.nan)
    assert needs_rescale(10.0, limit=5.0)
    # A landmark ~664 half-lives back is where it triggers; weights still fit a float.
    assert needs_rescale(weight(665 * H, 0.0, H))
    assert not needs_rescale(weight(664 * H, 0.0, H))
    assert RESCALE_ABOVE < 1e300


def test_weight_overflows_loudly_rather_than_silently_far_past_the_landmark() -> None:
    with pytest.raises(OverflowError):
        weight(2000 * H, 0.0, H)


def test_prune_threshold_is_one_hit_a_window_ago() -> None:
    policy = TrendingPolicy(half_life_seconds=H, window_seconds=24 * H)
    now = 30 * H
    assert prune_threshold(now, 0.0, policy) == weight(6 * H, 0.0, H)
    assert decayed(prune_threshold(now, 0.0, policy), now, 0.0, H) == 2.0**-24


@pytest.mark.parametrize(
    "kwargs",
    [{"half_life_seconds": 0.0}, {"half_life_seconds": math.inf}, {"window_seconds": -1.0}],
)
def test_trending_policy_rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="positive"):
        TrendingPolicy(**kwargs)


def test_trending_multiplies_by_boost_and_breaks_ties_by_id() -> None:
    scores = {1: 10.0, 2: 6.0, 3: 6.0, 4: 1.0}
    assert trending(scores, {}, 4) == [1, 2, 3, 4]
    assert trending(scores, {3: 2.0}, 2) == [3, 1]
    assert trending(scores, {99: 50.0}, 2) == [1, 2]  # a boost alone does not trend
    assert trending(scores, {}, 0) == []


hit_streams = st.lists(
    # <= 666 half-lives of spread at the shortest half-life: no subnormal naive counts.
    st.tuples(st.integers(1, 6), st.floats(min_value=0.0, max_value=20_000.0)),
    min_size=1,
    max_size=60,
)


@settings(max_examples=300)
@given(
    hits=hit_streams,
    half_life=st.sampled_from([60.0, 900.0, 3600.0, 7200.0]),
    landmark=st.floats(min_value=-10_000.0, max_value=0.0),
    extra=st.floats(min_value=0.0, max_value=20_000.0),
)
def test_forward_decay_ranks_as_naive_exponential_decay(
    hits: list[tuple[int, float]], half_life: float, landmark: float, extra: float
) -> None:
    now = max(t for _, t in hits) + extra
    forward = forward_scores(hits, landmark, half_life)
    naive = naive_decayed(hits, now, half_life)
    for b in forward:
        got = decayed(forward[b], now, landmark, half_life)
        assert math.isclose(got, naive[b], rel_tol=1e-9)
    for a in forward:
        for b in forward:
            if naive[a] > naive[b] * (1 + 1e-9):
                assert forward[a] > forward[b]


@settings(max_examples=200)
@given(hits=st.lists(st.tuples(st.integers(1, 8), st.integers(0, 20)), min_size=1, max_size=50))
def test_forward_decay_ranking_is_exactly_naive_on_a_half_life_grid(
    hits: list[tuple[int, int]],
) -> None:
    # Whole half-lives make every weight a power of two: sums are exact, ties included.
    stream = [(b, float(t)) for b, t in hits]
    forward = forward_scores(stream, 0.0, 1.0)
    naive = naive_decayed(stream, 20.0, 1.0)
    assert trending(forward, {}, 10) == trending(naive, {}, 10)


@settings(max_examples=200)
@given(
    hits=hit_streams,
    old=st.floats(min_value=-1e4, max_value=0.0),
    shift=st.floats(min_value=0.0, max_value=1e6),
    half_life=st.sampled_from([60.0, 3600.0]),
)
def test_rescaling_preserves_ordering_and_decayed_counts(
    hits: list[tuple[int, float]], old: float, shift: float, half_life: float
) -> None:
    scores = forward_scores(hits, old, half_life)
    factor = rescale_factor(old, old + shift, half_life)
    moved = {b: s * factor for b, s in scores.items()}
    ranked = sorted(scores, key=lambda b: (-scores[b], b))
    assert all(moved[a] >= moved[b] for a, b in itertools.pairwise(ranked))
    now = max(t for _, t in hits)
    if factor > 1e-250:  # short of underflow, decayed counts survive the move
        for b in scores:
            assert math.isclose(
                decayed(moved[b], now, old + shift, half_life),
                decayed(scores[b], now, old, half_life),
                rel_tol=1e-9,
            )
