"""Use cases of the self-help layer: read a bulletin, list, search, count, warm.

Tiers, nearest first: the in-process catalog (L1: every bulletin we know, with when it
was stored), Redis (L2, shared by replicas), the community origin, and the on-disk
last-known-good snapshot for a cold start with both down. Freshness decisions are
`freshness.plan`'s (RFC 5861); this module only carries them out:

- serve now, refresh in the background (stale-while-revalidate);
- while the origin's breaker is open, serve the stale copy at once: no waiting for an
  origin timeout first;
- fetch in the foreground (coalesced: one origin fetch per key however many customers
  miss at once), falling back to the copy when the origin fails.

Fetching (Redis, the origin, refreshes, warm-up) is `Fetching`'s (cache/fetching.py);
lists, search and views are `Listings`' (cache/listing.py); the memory tiers are
cache/memory.py's.

`memory_only` (the `memory_only` load-shedding stage, kernel/overload.py): answers
come from L1 and the catalog only; nothing is fetched, in the foreground or behind.

Errors::

    Exception
     └── SelfHelpError
          └── NotInCatalog      no such bulletin anywhere we can look now
               └── NotInMemory  not in memory, and memory_only forbids looking further
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from cache.coalesce import SingleFlight
from cache.dependency import Dependency
from cache.fetching import Fetching, Origin
from cache.freshness import Fetch, Freshness, FreshnessPolicy, judge, plan
from cache.hits import HitBuffer
from cache.listing import Listings, LookupCounter
from cache.memory import Entry, Memory
from cache.model import Bulletin
from cache.origin import OriginError, OriginNotFound
from cache.ranking import TopicBoost
from cache.search import SearchIndex
from cache.store import RedisStore
from cache.views import ViewLog
from kernel.clock import Clock
from kernel.limits.limiter import Limiter

__all__ = ["NotInCatalog", "NotInMemory", "Origin", "SelfHelpError", "SelfHelpService", "Served"]


class SelfHelpError(Exception):
    pass


class NotInCatalog(SelfHelpError):  # noqa: N818 - reads as the answer it is
    pass


class NotInMemory(NotInCatalog):
    """Shedding load: the bulletin may exist, but only memory is searched now."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Served:
    bulletin: Bulletin
    stored_at: float
    freshness: Freshness
    source: str  # l1, redis, origin, snapshot


def served(entry: Entry, freshness: Freshness) -> Served:
    return Served(
        bulletin=entry.bulletin, stored_at=entry.stored_at, freshness=freshness,
        source=entry.source,
    )  # fmt: skip


class SelfHelpService(Fetching, Listings):
    """The read path through the tiers; see the module docstring for the rest."""

    def __init__(
        self,
        *,
        origin: Origin | None,
        store: RedisStore | None,
        policy: FreshnessPolicy,
        count_lookup: LookupCounter,
        hits: HitBuffer,
        clock: Clock,
        count_bad_origin: Callable[[str], None] = lambda _: None,
        l1_size: int = 10_000,
        catalog_size: int = 100_000,
        limiter: Limiter | None = None,
        site_url: str | None = None,
    ) -> None:
        self._origin = origin
        # The community site's address: a bulletin's links are made absolute against its
        # page there (cache/sanitize.py); None drops the relative ones to their text.
        self._site_url = site_url
        self._store = store
        self.policy = policy
        self.count_lookup = count_lookup
        self.hits = hits
        self.count_bad_origin = count_bad_origin
        self.memory_only = False  # set while shedding load (kernel/overload.py)
        self._clock = clock
        self.origin_dep = Dependency("origin", clock)
        self.redis_dep = Dependency("redis", clock)
        # L1 TTL'd to max-age; the catalog bounded (cache/memory.py).
        self.memory = Memory(
            l1_size=l1_size, l1_ttl=float(max(1, policy.max_age)), catalog_size=catalog_size,
            clock=clock,
        )  # fmt: skip
        self._flight: SingleFlight[Bulletin] = SingleFlight("origin-fetch")
        self._background: set[asyncio.Task[None]] = set()
        self.hit_counts: dict[int, int] = {}
        # Views as (bulletin, client) pairs, noted by the pages (a set insert);
        # `fold_views` counts each once per client per window (cache/views.py) into
        # buffered hits and view counts twice a second. `limiter` decides what counts
        # (None: each distinct pair of a fold, for unit tests).
        self.views = ViewLog()
        self.limiter = limiter
        self.trending_ids: list[int] = []
        self.boost = TopicBoost()
        self.index = SearchIndex.build((), {})
        self.version = 0  # bumps whenever a bulletin changes: rendered pages key on it

    # -- reading ------------------------------------------------------------------

    @property
    def l1_size(self) -> int:
        """Bulletins in L1 now (for /status)."""
        return self.memory.l1_size

    def l1_has(self, bulletin_id: int) -> bool:
        """Whether L1 holds a copy now (it expires after max-age)."""
        return self.memory.l1_has(bulletin_id)

    async def bulletin(self, bulletin_id: int) -> Served:
        now = self._clock.epoch()
        entry, tier = await self._nearest_copy(bulletin_id)
        freshness = Freshness.EXPIRED if entry is None else judge(entry.stored_at, now, self.policy)
        if self.memory_only:
            if entry is None:
                raise NotInMemory(bulletin_id)
            self._count_copy(tier, answers=True)
            return served(entry, freshness)
        todo = plan(freshness, origin_open=self._origin_unusable, have_copy=entry is not None)
        if entry is not None:
            self._count_copy(tier, answers=todo.serve_cached_now)
        if entry is not None and todo.serve_cached_now:
            if todo.fetch is Fetch.BACKGROUND:
                self._spawn(self._refresh(bulletin_id), f"refresh:{bulletin_id}")
            if freshness is not Freshness.FRESH:
                self.count_lookup("l1", "stale")
            return served(entry, freshness)
        try:
            fetched = await self._flight.run(bulletin_id, lambda: self._fetch(bulletin_id))
        except OriginNotFound:
            raise NotInCatalog(bulletin_id) from None
        except OriginError:
            if entry is None:
                raise NotInCatalog(bulletin_id) from None
            self.count_lookup("origin", "stale_served")
            return served(entry, freshness)
        stored = self.memory.get(fetched.id)  # as _fetch remembered it
        stored_at = stored.stored_at if stored is not None else now
        return served(Entry(fetched, stored_at, "origin"), Freshness.FRESH)

    def from_memory(self, bulletin_id: int) -> Served | None:
        """The catalog's copy judged now, or None: nothing looked up elsewhere or counted."""
        entry = self.memory.get(bulletin_id)
        if entry is None:
            return None
        return served(entry, judge(entry.stored_at, self._clock.epoch(), self.policy))

    async def _nearest_copy(self, bulletin_id: int) -> tuple[Entry | None, str]:
        """The nearest tier's copy and that tier (l1, redis, last_known); the misses on
        the way are counted, the copy's hit or miss is `_count_copy`'s."""
        entry = self.memory.from_l1(bulletin_id)
        if entry is not None:
            return entry, "l1"
        self.count_lookup("l1", "miss")
        if not self.memory_only:
            entry = await self._from_redis(bulletin_id)
            if entry is not None:
                return entry, "redis"
        return self.memory.get(bulletin_id), "last_known"

    def _count_copy(self, tier: str, *, answers: bool) -> None:
        """A hit only for a copy that answers without waiting for the community site
        (switchboard:cache_hit:ratio_rate5m's promise); a copy too old for that (past
        stale-while-revalidate, the site reachable) is a miss of its tier (of last_known,
        which counts its answers only, nothing). What the customer then gets is
        counted by the origin: hit, or error and stale_served."""
        if answers:
            self.count_lookup(tier, "hit")
        elif tier != "last_known":
            self.count_lookup(tier, "miss")

    @property
    def _origin_unusable(self) -> bool:
        return self._origin is None or self.origin_dep.open
