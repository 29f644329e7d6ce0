"""L1 memory cache (bounds, TTL on an injected clock) and the on-disk snapshot."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from cache.local import L1Cache, Snapshot, SnapshotData
from cache.model import Bulletin
from tests.support.clock import FakeClock


def bulletin(bid: int, **changes: object) -> Bulletin:
    fields: dict[str, object] = {
        "id": bid,
        "title": f"Router keeps rebooting ({bid})",
        "slug": f"router-{bid}",
        "author": "ana",
        "author_name": "Ana Ñúñez",
        "category": "internet",
        "tags": ("router", "wifi"),
        "excerpt": "Unplug it for 30 s.",
        "body_html": "<p>Line one\nline two \u2028 and \u00e9 \U0001f600</p>",
        "created_at": datetime(2024, 12, 24, 9, 0, tzinfo=UTC),
        "updated_at": datetime(2024, 12, 24, 10, 30, tzinfo=UTC),
        "origin_views": 7,
        "like_count": 2,
    }
    fields.update(changes)
    return Bulletin(**fields)  # type: ignore[arg-type]


# --- L1 ---------------------------------------------------------------------------------


def test_l1_returns_the_value_with_its_stored_at() -> None:
    cache: L1Cache[int, str] = L1Cache(maxsize=4, ttl=60, clock=FakeClock())
    cache.put(1, "one", stored_at=1_700_000_000.5)
    assert cache.get(1) == ("one", 1_700_000_000.5)
    assert cache.get(2) is None
    assert 1 in cache
    assert len(cache) == 1


def test_l1_holds_at_most_maxsize_entries_evicting_the_least_recently_used() -> None:
    cache: L1Cache[int, str] = L1Cache(maxsize=3, ttl=60, clock=FakeClock())
    for key in (1, 2, 3):
        cache.put(key, str(key), stored_at=0.0)
    assert cache.get(1) is not None  # 1 is now the most recently used; 2 the least
    cache.put(4, "4", stored_at=0.0)
    assert len(cache) == 3
    assert cache.get(2) is None
    assert [k for k in (1, 3, 4) if cache.get(k) is not None] == [1, 3, 4]


def test_l1_entry_expires_after_ttl_on_the_injected_clock() -> None:
    clock = FakeClock()
    cache: L1Cache[str, int] = L1Cache(maxsize=10, ttl=30, clock=clock)
    cache.put("a", 1, stored_at=5.0)
    clock.advance(29.9)
    assert cache.get("a") == (1, 5.0)
    clock.advance(0.1)
    assert cache.get("a") is None
    assert len(cache) == 0


def test_l1_put_again_restarts_the_ttl_and_replaces_stored_at() -> None:
    clock = FakeClock()
    cache: L1Cache[str, int] = L1Cache(maxsize=10, ttl=30, clock=clock)
    cache.put("a", 1, stored_at=5.0)
    clock.advance(20)
    cache.put("a", 2, stored_at=25.0)
    clock.advance(20)
    assert cache.get("a") == (2, 25.0)


def test_l1_stored_at_is_not_the_ttl_clock() -> None:
    """A copy already old when it reaches L1 keeps its origin time for freshness."""
    cache: L1Cache[int, str] = L1Cache(maxsize=2, ttl=30, clock=FakeClock(monotonic=10**6))
    cache.put(1, "x", stored_at=42.0)
    assert cache.get(1) == ("x", 42.0)


def test_l1_discard_and_clear() -> None:
    cache: L1Cache[int, str] = L1Cache(maxsize=5, ttl=30, clock=FakeClock())
    cache.put(1, "a", stored_at=0.0)
    cache.put(2, "b", stored_at=0.0)
    cache.discard(1)
    cache.discard(99)  # absent: no error
    assert cache.get(1) is None
    cache.clear()
    assert len(cache) == 0


@pytest.mark.parametrize(("maxsize", "ttl"), [(0, 10.0), (5, 0.0), (5, -1.0)])
def test_l1_rejects_a_zero_bound(maxsize: int, ttl: float) -> None:
    with pytest.raises(ValueError, match="maxsize"):
        L1Cache(maxsize=maxsize, ttl=ttl, clock=FakeClock())


# --- snapshot ---------------------------------------------------------------------------


@pytest.fixture
def snap(tmp_path: Path) -> Snapshot:
    return Snapshot(tmp_path / "state" / "snapshot.jsonl")


def leftovers(snap: Snapshot) -> list[str]:
    return sorted(p.name for p in snap.path.parent.iterdir() if p != snap.path)


def test_snapshot_round_trip_keeps_bulletins_hits_and_written_at(snap: Snapshot) -> None:
    bulletins = [bulletin(1), bulletin(2, tags=()), bulletin(30, body_html="")]
    assert snap.save(bulletins, {1: 5, 30: 12}, written_at=1_735_000_000.25) == 3
    assert snap.load() == SnapshotData(
        bulletins=tuple(bulletins), hits={1: 5, 30: 12}, written_at=1_735_000_000.25
    )
    assert leftovers(snap) == []


def test_snapshot_of_nothing_round_trips(snap: Snapshot) -> None:
    snap.save([], {}, written_at=1.0)
    assert snap.load() == SnapshotData(bulletins=(), hits={}, written_at=1.0)


def test_snapshot_save_replaces_the_previous_one(snap: Snapshot) -> None:
    snap.save([bulletin(1)], {1: 1}, written_at=1.0)
    snap.save([bulletin(2)], {2: 9}, written_at=2.0)
    loaded = snap.load()
    assert loaded is not None
    assert [b.id for b in loaded.bulletins] == [2]
    assert loaded.hits == {2: 9}


def test_snapshot_file_is_versioned_json_lines(snap: Snapshot) -> None:
    snap.save([bulletin(1), bulletin(2)], {1: 3}, written_at=9.0)
    lines = snap.path.read_text(encoding="utf-8").split("\n")
    header = json.loads(lines[0])
    assert (header["format"], header["version"]) == ("switchboard-snapshot", 1)
    assert json.loads(lines[3]) == {"end": True, "count": 2}
    assert lines[4] == ""


def test_snapshot_writer_failing_midway_leaves_the_old_file_and_no_temp(
    snap: Snapshot,
) -> None:
    snap.save([bulletin(1)], {1: 1}, written_at=1.0)
    before = snap.path.read_bytes()

    def exploding() -> Iterator[Bulletin]:
        yield bulletin(2)
        yield bulletin(3)
        raise RuntimeError("origin iterator broke halfway")

    with pytest.raises(RuntimeError, match="halfway"):
        snap.save(exploding(), {}, written_at=2.0)
    assert snap.path.read_bytes() == before
    assert leftovers(snap) == []
    loaded = snap.load()
    assert loaded is not None
    assert loaded.written_at == 1.0


def test_snapshot_failing_fsync_or_rename_leaves_the_old_file(
    snap: Snapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    snap.save([bulletin(1)], {}, written_at=1.0)
    before = snap.path.read_bytes()

    def disk_full(*_: object) -> None:
        raise OSError(28, "No space left on device")

    for name in ("fsync", "replace"):
        with monkeypatch.context() as patch:
            patch.setattr(os, name, disk_full)  # only around this one save
            with pytest.raises(OSError, match="No space"):
                snap.save([bulletin(2)], {}, written_at=2.0)
        assert snap.path.read_bytes() == before
        assert leftovers(snap) == []


def test_snapshot_missing_file_loads_as_none(snap: Snapshot) -> None:
    assert snap.load() is None


@pytest.mark.parametrize(
    "mangle",
    [
        pytest.param(lambda text: "", id="empty"),
        pytest.param(lambda text: "not json\n" + text, id="garbage-header"),
        pytest.param(lambda text: text[: len(text) // 2], id="truncated-midway"),
        pytest.param(lambda text: text.rsplit("\n", 2)[0] + "\n", id="trailer-missing"),
        pytest.param(lambda text: text.replace('"version":1', '"version":2'), id="new-version"),
        pytest.param(lambda text: text.replace('"count": 2', '"count": 3'), id="count-wrong"),
        pytest.param(lambda text: text.replace('"title"', '"titel"'), id="bulletin-bad"),
        pytest.param(lambda text: "[1, 2]\n[]\n", id="json-but-not-objects"),
    ],
)
def test_snapshot_corrupt_file_loads_as_none_and_is_logged(
    snap: Snapshot, caplog: pytest.LogCaptureFixture, mangle: Callable[[str], str]
) -> None:
    snap.save([bulletin(1), bulletin(2)], {1: 1}, written_at=1.0)
    snap.path.write_text(mangle(snap.path.read_text(encoding="utf-8")), encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="cache.local"):
        assert snap.load() is None
    assert "snapshot" in caplog.text


def test_snapshot_undecodable_bytes_load_as_none(snap: Snapshot) -> None:
    snap.path.parent.mkdir(parents=True)
    snap.path.write_bytes(b"\xff\xfe\x00garbage")
    assert snap.load() is None
