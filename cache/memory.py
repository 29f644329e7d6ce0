"""The self-help layer's memory: the catalog (every bulletin we know, newest copy, with
when it was stored and where it came from) and L1 (the same, TTL'd to max-age).

The catalog serves lists, search, and the last-known copy when L1 has expired and Redis
and the origin both fail; it is bounded, and a full one forgets the least read. L1 makes
a replica re-read Redis (where another replica may have refreshed the bulletin) once its
copy stops being fresh.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from cache.local import L1Cache
from cache.model import Bulletin
from kernel.clock import Clock


@dataclass(frozen=True, slots=True)
class Entry:
    """One copy of a bulletin: `stored_at` in epoch seconds, when it came from the
    community site; `source` where this process got it (l1, redis, origin, snapshot)."""

    bulletin: Bulletin
    stored_at: float
    source: str


class Memory:
    def __init__(self, *, l1_size: int, l1_ttl: float, catalog_size: int, clock: Clock) -> None:
        self._l1: L1Cache[int, tuple[Bulletin, str]] = L1Cache(
            maxsize=l1_size, ttl=l1_ttl, clock=clock
        )
        self._catalog: dict[int, Entry] = {}
        self._catalog_size = catalog_size

    def __len__(self) -> int:
        return len(self._catalog)

    def __contains__(self, bulletin_id: int) -> bool:
        return bulletin_id in self._catalog

    def __iter__(self) -> Iterator[int]:
        return iter(self._catalog)

    def get(self, bulletin_id: int) -> Entry | None:
        """The catalog's copy, whatever its age."""
        return self._catalog.get(bulletin_id)

    def bulletins(self) -> list[Bulletin]:
        return [entry.bulletin for entry in self._catalog.values()]

    @property
    def l1_size(self) -> int:
        return len(self._l1)

    def l1_has(self, bulletin_id: int) -> bool:
        return bulletin_id in self._l1

    def from_l1(self, bulletin_id: int) -> Entry | None:
        found = self._l1.get(bulletin_id)
        if found is None:
            return None
        (bulletin, source), stored_at = found
        return Entry(bulletin, stored_at, source)

    def remember(self, entry: Entry, hit_counts: Mapping[int, int]) -> bool:
        """Keep `entry` in both tiers (a full catalog forgets its least read bulletin
        first); True when the bulletin is new or changed."""
        bulletin = entry.bulletin
        old = self._catalog.get(bulletin.id)
        if old is None and len(self._catalog) >= self._catalog_size:
            victim = min(self._catalog, key=lambda i: (hit_counts.get(i, 0), i))
            self.forget(victim)
        self._catalog[bulletin.id] = entry
        self._l1.put(bulletin.id, (bulletin, entry.source), entry.stored_at)
        return old is None or old.bulletin != bulletin

    def forget(self, bulletin_id: int) -> bool:
        """Drop it from both tiers; True if the catalog had it."""
        self._l1.discard(bulletin_id)
        return self._catalog.pop(bulletin_id, None) is not None
