"""Leaderboards: bulletins all-time by hits, and authors."""

from __future__ import annotations

import itertools
import random

from hypothesis import given, settings
from hypothesis import strategies as st

from cache.ranking import (
    leaderboard,
    top_all_time,
)

# --- all-time ----------------------------------------------------------------------------


def test_top_all_time_ranks_by_hits_then_id() -> None:
    hits = {7: 10, 3: 50, 9: 10, 1: 2, 4: 50}
    assert top_all_time(hits, 3) == [3, 4, 7]
    assert top_all_time(hits, 10) == [3, 4, 7, 9, 1]
    assert top_all_time(hits, 0) == []
    assert top_all_time({}, 5) == []


@settings(max_examples=200)
@given(
    hits=st.dictionaries(st.integers(0, 500), st.integers(0, 30), max_size=60), n=st.integers(0, 70)
)
def test_top_all_time_is_sorted_and_stable_under_reordering(hits: dict[int, int], n: int) -> None:
    top = top_all_time(hits, n)
    assert len(top) == min(n, len(hits))
    assert top == sorted(hits, key=lambda b: (-hits[b], b))[:n]
    keys = list(hits)
    random.Random(n).shuffle(keys)
    assert top_all_time({k: hits[k] for k in keys}, n) == top
    for a, b in itertools.pairwise(top):
        assert (hits[a], -a) > (hits[b], -b)


# --- authors -----------------------------------------------------------------------------


def test_leaderboard_ranks_by_hits_then_bulletins_then_name() -> None:
    bulletins = {"ana": 3, "bo": 5, "cy": 1, "di": 5}
    hits = {"ana": 900, "bo": 40, "di": 40, "eve": 40}
    assert leaderboard(bulletins, hits, 10) == [
        ("ana", 3, 900),
        ("bo", 5, 40),
        ("di", 5, 40),
        ("eve", 0, 40),
        ("cy", 1, 0),
    ]
    assert leaderboard(bulletins, hits, 2) == [("ana", 3, 900), ("bo", 5, 40)]
    assert leaderboard({}, {}, 5) == []
    assert leaderboard(bulletins, hits, 0) == []
