"""What the self-help service answers from memory: lists, search, and the views that
rank them. A part of `SelfHelpService` (cache/service.py), kept apart from the tiers and
the fetching."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Protocol

from cache.hits import HitBuffer
from cache.memory import Memory
from cache.model import Bulletin
from cache.ranking import TopicBoost, top_all_time, words_of
from cache.search import SearchIndex, SearchResult
from cache.views import ViewLog, counted
from kernel.clock import Clock
from kernel.limits.limiter import Limiter


class LookupCounter(Protocol):
    def __call__(self, tier: str, result: str, amount: int = 1) -> None: ...


class Listings:
    """Set by `SelfHelpService.__init__`."""

    memory: Memory
    hit_counts: dict[int, int]
    trending_ids: list[int]
    boost: TopicBoost
    index: SearchIndex
    views: ViewLog
    limiter: Limiter | None
    hits: HitBuffer
    count_lookup: LookupCounter
    _clock: Clock

    def known(self) -> list[Bulletin]:
        return self.memory.bulletins()

    def top(self, n: int) -> list[Bulletin]:
        ids = top_all_time(self.hit_counts, n) if self.hit_counts else []
        ranked = set(ids)
        ids += [i for i in sorted(self.memory) if i not in ranked][: max(0, n - len(ids))]
        return self._bulletins(ids)[:n]

    def trending(self, n: int) -> list[Bulletin]:
        """Only what passed the runtime's `TrendingGate`: possibly none (issue 19: the
        most read, padded in before, is "Most read"'s to show)."""
        return self._bulletins(self.trending_ids)[:n]

    def related(self, bulletin: Bulletin, n: int) -> list[Bulletin]:
        words = " ".join(sorted(words_of(bulletin.title))[:6])
        found = self.index.search(words, limit=n + 1).hits if words else []
        return self._bulletins(h.id for h in found if h.id != bulletin.id)[:n]

    def _bulletins(self, ids: Iterable[int]) -> list[Bulletin]:
        memory = self.memory
        return [e.bulletin for i in ids if (e := memory.get(i)) is not None]

    def search(self, query: str, limit: int = 20) -> SearchResult:
        return self.index.search(query, limit=limit)

    async def rebuild_index(self) -> None:
        """The search index of what is known now, built in a worker thread from copies
        taken here. A few thousand bulletins take a few hundred ms to index (see
        loadtests/bench_index.py); on the event loop that would stall every customer and
        every probe meanwhile, and a probe that misses its timeout at start-up sends
        customers to self-help for the hold-down."""
        known, hits = self.known(), dict(self.hit_counts)
        self.index = await asyncio.to_thread(SearchIndex.build, known, hits)

    def note_arrival(self, words: Sequence[str]) -> None:
        """A customer came through /support/<topic> during a failover."""
        self.boost = self.boost.record(words, self._clock.epoch())

    def is_known(self, bulletin_id: int) -> bool:
        """Whether the catalog holds it now (no I/O; see `bulletin` for a full lookup)."""
        return bulletin_id in self.memory

    def record_view(self, bulletin_id: int, client: str) -> None:
        """A view by `client` (kernel/limits/identity); counted by `fold_views`."""
        self.views.note(bulletin_id, client)

    def record_hot_view(self, bulletin_id: int, client: str) -> None:
        """A view answered with a page rendered before: also an L1 hit."""
        views = self.views
        views.hot += 1
        views.note(bulletin_id, client)

    async def fold_views(self) -> None:
        """Count the views noted since the last fold: cached pages served as L1 hits,
        and each (bulletin, client) pair the limiter allows as one hit (issue 14).
        Authors' views for the leaderboard are summed from their bulletins' views
        (cache/web.py author_rows), so only the bulletin is counted."""
        pairs, hot = self.views.drain()
        if hot:
            self.count_lookup("l1", "hit", hot)
        if not pairs:
            return
        counts = self.hit_counts
        for bulletin_id, n in (await counted(self.limiter, pairs)).items():
            self.hits.add_hit(bulletin_id, count=n)
            counts[bulletin_id] = counts.get(bulletin_id, 0) + n
