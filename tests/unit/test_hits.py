"""HitBuffer: counting off the response path, draining, putting back, bounds."""

from __future__ import annotations

import pytest

from cache.hits import Batch, HitBuffer


def test_drain_returns_counts_by_kind_and_empties_the_buffer() -> None:
    buf = HitBuffer()
    for _ in range(3):
        buf.add_hit(7, author="ana")
    buf.add_hit(8)  # author unknown: no leaderboard count
    buf.add_vote(7, helpful=True)
    buf.add_vote(7, helpful=False)
    buf.add_vote(8, helpful=False)
    assert buf.pending_hits == 4
    batch = buf.drain()
    assert batch == Batch(
        hits={7: 3, 8: 1}, author_hits={"ana": 3}, helpful={7: 1}, unhelpful={7: 1, 8: 1}
    )
    assert batch.total_hits == 4
    assert len(buf) == 0
    assert buf.drain().empty


def test_restore_adds_a_failed_batch_back_to_what_came_in_since() -> None:
    buf = HitBuffer()
    buf.add_hit(1, author="ana")
    failed = buf.drain()
    buf.add_hit(1, author="ana")
    buf.add_hit(2)
    buf.restore(failed)
    assert buf.drain() == Batch(hits={1: 2, 2: 1}, author_hits={"ana": 2})


def test_full_buffer_drops_the_least_recently_counted_key_and_tallies_it() -> None:
    buf = HitBuffer(max_keys=3)
    buf.add_hit(1)
    buf.add_hit(1)
    buf.add_hit(2)
    buf.add_hit(3)
    buf.add_hit(2)  # 1 is now the least recently counted
    buf.add_hit(4)
    assert buf.dropped == 2
    assert buf.drain().hits == {3: 1, 2: 2, 4: 1}


def test_restored_batch_is_older_than_new_counts_so_it_is_dropped_first() -> None:
    buf = HitBuffer(max_keys=2)
    buf.add_hit(1)
    failed = buf.drain()
    buf.add_hit(2)
    buf.add_hit(3)
    buf.restore(failed)
    assert buf.dropped == 1
    assert buf.drain().hits == {2: 1, 3: 1}


def test_many_hits_on_few_bulletins_never_drop() -> None:
    buf = HitBuffer(max_keys=2)
    for _ in range(100_000):
        buf.add_hit(1)
        buf.add_hit(2)
    assert (buf.dropped, buf.pending_hits) == (0, 200_000)


def test_buffer_needs_room_for_one_key() -> None:
    with pytest.raises(ValueError, match="max_keys"):
        HitBuffer(max_keys=0)
