"""The in-process tiers of the self-help layer: L1 memory and the on-disk snapshot.

`L1Cache` keeps ``(value, stored_at)`` per key, bounded by entry count (least recently
used goes first) and by a TTL on its own clock. The TTL only bounds how long L1 holds
an entry; whether a copy is fresh, stale or only good for stale-if-error is decided
from `stored_at` (when the copy came from the origin) by cache/freshness.py, so the TTL
should cover the whole stale-if-error window.

`Snapshot` is the last-known-good set of bulletins, for a cold start with the origin and
Redis both down. It is written whole and atomically: a temp file in the same directory,
fsync, `os.replace`, fsync of the directory (so the rename itself survives a power cut;
see rename(2) and fsync(2), and the "Ensuring data reaches disk" LWN article, 2011). A
reader sees the old file or the new one, never a mix. The methods block: from asyncio,
call them through `asyncio.to_thread`.

Format, version 1, JSON lines (UTF-8)::

    {"format": "switchboard-snapshot", "version": 1, "written_at": <epoch s>,
     "hits": {"<id>": <n>, ...}}
    <Bulletin.to_json()>            one line per bulletin
    {"end": true, "count": <number of bulletin lines>}

`load` returns None, and logs why, for a missing file, another format or version, bad
JSON, a bulletin that does not parse, or a missing or wrong trailer: never raises.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Generic, TextIO, TypeVar

from cachetools import TTLCache

from cache.model import Bulletin
from kernel.clock import Clock

log = logging.getLogger(__name__)

K = TypeVar("K")
V = TypeVar("V")

FORMAT: Final = "switchboard-snapshot"
VERSION: Final = 1


class L1Cache(Generic[K, V]):
    """Bounded, TTL-aware memory cache of ``(value, stored_at)``; not thread-safe (one
    event loop)."""

    def __init__(self, *, maxsize: int, ttl: float, clock: Clock) -> None:
        if maxsize < 1 or not ttl > 0:
            raise ValueError("need maxsize >= 1 and ttl > 0")
        self._entries: TTLCache[K, tuple[V, float], float] = TTLCache(
            maxsize=maxsize, ttl=ttl, timer=clock.monotonic
        )

    @property
    def maxsize(self) -> int:
        return int(self._entries.maxsize)

    @property
    def ttl(self) -> float:
        return float(self._entries.ttl)

    def __len__(self) -> int:
        return len(self._entries)  # TTLCache expires before counting

    def __contains__(self, key: K) -> bool:
        return key in self._entries

    def get(self, key: K) -> tuple[V, float] | None:
        """``(value, stored_at)``, or None if absent or past the TTL."""
        return self._entries.get(key)

    def put(self, key: K, value: V, stored_at: float) -> None:
        self._entries[key] = (value, stored_at)

    def discard(self, key: K) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()


@dataclass(frozen=True, slots=True, kw_only=True)
class SnapshotData:
    bulletins: tuple[Bulletin, ...]
    hits: Mapping[int, int] = field(default_factory=dict)
    written_at: float


class _CorruptSnapshotError(ValueError):
    """The file exists but is not a complete version-1 snapshot."""


class Snapshot:
    """The last-known-good bulletins at `path`."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def save(
        self, bulletins: Iterable[Bulletin], hits: Mapping[int, int], written_at: float
    ) -> int:
        """Replace the snapshot atomically; return the number of bulletins written.

        If anything fails (the bulletins iterable, encoding, disk full) the temp file is
        removed, the previous snapshot stays as it was, and the error propagates."""
        directory = self.path.parent
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as out:
                count = _write(out, bulletins, hits, written_at)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _fsync_dir(directory)
        return count

    def load(self) -> SnapshotData | None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            log.info("no snapshot at %s yet", self.path)
            return None
        except (OSError, UnicodeDecodeError) as exc:
            log.warning("snapshot %s unreadable, ignored: %s", self.path, exc)
            return None
        try:
            return _parse(text)
        except (ValueError, KeyError, TypeError, AttributeError) as exc:  # ours too
            log.warning("snapshot %s is corrupt, ignored: %r", self.path, exc)
            return None


def _write(
    out: TextIO, bulletins: Iterable[Bulletin], hits: Mapping[int, int], written_at: float
) -> int:
    header = {
        "format": FORMAT,
        "version": VERSION,
        "written_at": written_at,
        "hits": {str(k): int(v) for k, v in hits.items()},
    }
    out.write(json.dumps(header, separators=(",", ":")) + "\n")
    count = 0
    for bulletin in bulletins:
        out.write(bulletin.to_json() + "\n")
        count += 1
    out.write(json.dumps({"end": True, "count": count}) + "\n")
    return count


def _parse(text: str) -> SnapshotData:
    # split on "\n" only: str.splitlines also splits on U+2028 and friends.
    lines = text.split("\n")
    if len(lines) < 3 or lines.pop() != "":
        raise _CorruptSnapshotError("truncated")
    header = json.loads(lines[0])
    if header.get("format") != FORMAT or header.get("version") != VERSION:
        raise _CorruptSnapshotError(f"not a {FORMAT} v{VERSION}: {header.get('version')!r}")
    trailer = json.loads(lines[-1])
    body = lines[1:-1]
    if trailer.get("end") is not True or trailer.get("count") != len(body):
        raise _CorruptSnapshotError("missing or wrong trailer")
    return SnapshotData(
        bulletins=tuple(Bulletin.from_json(line) for line in body),
        hits={int(k): int(v) for k, v in header["hits"].items()},
        written_at=float(header["written_at"]),
    )


def _fsync_dir(directory: Path) -> None:
    """Make the rename durable (POSIX: the directory entry lives in the directory)."""
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
