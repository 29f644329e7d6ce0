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

Redis and the origin each sit behind a breaker (the front door's Envoy-style
`Breaker`), so a dead dependency costs one timeout, not one per request. A Redis read
on the request path also has its own budget (`REDIS_READ_BUDGET`): a Redis that answers,
but slowly, or whose connection pool a burst has used up, counts as failing instead of
making every customer wait for it (issue 14).

`memory_only` (the `memory_only` load-shedding stage, failover/overload.py): answers
come from L1 and the catalog only; nothing is fetched, in the foreground or behind.

Errors::

    Exception
     └── SelfHelpError
          └── NotInCatalog      no such bulletin anywhere we can look now
               └── NotInMemory  not in memory, and memory_only forbids looking further
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Final, Protocol

from cache.coalesce import SingleFlight
from cache.freshness import Fetch, Freshness, FreshnessPolicy, judge, plan
from cache.hits import HitBuffer
from cache.local import L1Cache
from cache.model import Bulletin
from cache.origin import OriginBadResponse, OriginError, OriginNotFound
from cache.ranking import TopicBoost, top_all_time, words_of
from cache.sanitize import sanitize
from cache.search import SearchIndex, SearchResult
from cache.store import RedisStore, StoreUnavailable
from cache.views import ViewLog, counted
from failover.breaker import Breaker, Outcome, OutlierPolicy
from failover.limits.limiter import Limiter
from failover.tasks import cancel_and_wait

log = logging.getLogger("switchboard.selfhelp")

# A dependency that failed twice in a row is skipped for a while, growing on repeats.
DEPENDENCY_BREAKER: Final = OutlierPolicy(
    consecutive_5xx=2, consecutive_local_failures=2, base_ejection_time=5.0,
    max_ejection_time=60.0,
)  # fmt: skip
WARM_CONCURRENCY: Final = 8
# Redis answers a loopback or LAN read in about a millisecond; 100 ms is well past that
# and well inside the 250 ms p99 of the self-help SLO (loadtests/slo.toml).
REDIS_READ_BUDGET: Final = 0.1


class SelfHelpError(Exception):
    pass


class NotInCatalog(SelfHelpError):  # noqa: N818 - reads as the answer it is
    pass


class NotInMemory(NotInCatalog):
    """Shedding load: the bulletin may exist, but only memory is searched now."""


class Origin(Protocol):
    async def topic(self, topic_id: int) -> Bulletin: ...
    async def all_topic_ids(self, max_pages: int = 50) -> list[int]: ...


class LookupCounter(Protocol):
    def __call__(self, tier: str, result: str, amount: int = 1) -> None: ...


@dataclass(frozen=True, slots=True, kw_only=True)
class Served:
    bulletin: Bulletin
    stored_at: float
    freshness: Freshness
    source: str  # l1, redis, origin, snapshot


class Dependency:
    """A breaker around Redis or the origin, read with the monotonic clock."""

    def __init__(self, name: str, monotonic: Callable[[], float]) -> None:
        self.name = name
        self._now = monotonic
        self._breaker = Breaker()

    @property
    def open(self) -> bool:
        return self._breaker.is_ejected(self._now())

    def record(self, ok: bool) -> None:
        outcome = Outcome.SUCCESS if ok else Outcome.LOCAL_FAILURE
        before = self.open
        self._breaker, ejection = self._breaker.record(
            outcome, now=self._now(), policy=DEPENDENCY_BREAKER
        )
        if ejection is not None and not before:
            seconds = ejection.until - self._now()
            log.warning("%s unreachable: skipping it for %.0f s", self.name, seconds)


class SelfHelpService:
    def __init__(
        self,
        *,
        origin: Origin | None,
        store: RedisStore | None,
        policy: FreshnessPolicy,
        count_lookup: LookupCounter,
        hits: HitBuffer,
        count_bad_origin: Callable[[str], None] = lambda _: None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        l1_size: int = 10_000,
        catalog_size: int = 100_000,
        limiter: Limiter | None = None,
    ) -> None:
        self._origin = origin
        self._store = store
        self.policy = policy
        self.count_lookup = count_lookup
        self.hits = hits
        self.count_bad_origin = count_bad_origin
        self.memory_only = False  # set while shedding load (failover/overload.py)
        self._clock = clock
        self.origin_dep = Dependency("origin", monotonic)
        self.redis_dep = Dependency("redis", monotonic)
        # L1: bounded, TTL'd to max-age, so a replica re-reads Redis (where another
        # replica may have refreshed the bulletin) once its copy stops being fresh.
        self._l1: L1Cache[int, tuple[Bulletin, str]] = L1Cache(
            maxsize=l1_size, ttl=float(max(1, policy.max_age))
        )
        # Every bulletin we know, newest copy: lists, search, and the last-known copy to
        # serve when L1 has expired and Redis and the origin both fail. Bounded.
        self._catalog: dict[int, tuple[Bulletin, float, str]] = {}
        self._catalog_size = catalog_size
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

    def known(self) -> list[Bulletin]:
        return [b for b, _, _ in self._catalog.values()]

    @property
    def l1_size(self) -> int:
        """Bulletins in L1 now (for /status)."""
        return len(self._l1)

    def l1_has(self, bulletin_id: int) -> bool:
        """Whether L1 holds a copy now (it expires after max-age)."""
        return bulletin_id in self._l1

    async def bulletin(self, bulletin_id: int) -> Served:
        now = self._clock()
        entry = self._from_l1(bulletin_id)
        if entry is None and not self.memory_only:
            entry = await self._from_redis(bulletin_id)
        if entry is None:
            entry = self._catalog.get(bulletin_id)
            if entry is not None:
                self.count_lookup("last_known", "hit")
        freshness = Freshness.EXPIRED if entry is None else judge(entry[1], now, self.policy)
        if self.memory_only:
            if entry is None:
                raise NotInMemory(bulletin_id)
            return Served(
                bulletin=entry[0], stored_at=entry[1], freshness=freshness, source=entry[2]
            )
        todo = plan(freshness, origin_open=self._origin_unusable, have_copy=entry is not None)
        if entry is not None and todo.serve_cached_now:
            if todo.fetch is Fetch.BACKGROUND:
                self._spawn(self._refresh(bulletin_id), f"refresh:{bulletin_id}")
            if freshness is not Freshness.FRESH:
                self.count_lookup("l1", "stale")
            return Served(
                bulletin=entry[0], stored_at=entry[1], freshness=freshness, source=entry[2]
            )
        try:
            fetched = await self._flight.run(bulletin_id, lambda: self._fetch(bulletin_id))
        except OriginNotFound:
            raise NotInCatalog(bulletin_id) from None
        except OriginError:
            if entry is None:
                raise NotInCatalog(bulletin_id) from None
            self.count_lookup("origin", "stale_served")
            return Served(
                bulletin=entry[0], stored_at=entry[1], freshness=freshness, source=entry[2]
            )
        return Served(
            bulletin=fetched, stored_at=self._catalog[fetched.id][1],
            freshness=Freshness.FRESH, source="origin",
        )  # fmt: skip

    def from_memory(self, bulletin_id: int) -> Served | None:
        """The catalog's copy judged now, or None: nothing looked up elsewhere or counted."""
        entry = self._catalog.get(bulletin_id)
        if entry is None:
            return None
        freshness = judge(entry[1], self._clock(), self.policy)
        return Served(bulletin=entry[0], stored_at=entry[1], freshness=freshness, source=entry[2])

    def _from_l1(self, bulletin_id: int) -> tuple[Bulletin, float, str] | None:
        found = self._l1.get(bulletin_id)
        if found is None:
            self.count_lookup("l1", "miss")
            return None
        self.count_lookup("l1", "hit")
        (bulletin, source), stored_at = found
        return (bulletin, stored_at, source)

    @property
    def _origin_unusable(self) -> bool:
        return self._origin is None or self.origin_dep.open

    async def _from_redis(self, bulletin_id: int) -> tuple[Bulletin, float, str] | None:
        if self._store is None or self.redis_dep.open:
            return None
        try:
            async with asyncio.timeout(REDIS_READ_BUDGET):
                found = await self._store.get(bulletin_id)
        except (StoreUnavailable, TimeoutError):
            self.redis_dep.record(ok=False)
            self.count_lookup("redis", "error")
            return None
        self.redis_dep.record(ok=True)
        self.count_lookup("redis", "hit" if found else "miss")
        if found is None:
            return None
        self._remember(found[0], found[1], "redis")
        return self._catalog[bulletin_id]

    async def _fetch(self, bulletin_id: int) -> Bulletin:
        if self._origin is None:
            raise OriginNotFound(bulletin_id)
        try:
            raw = await self._origin.topic(bulletin_id)
        except OriginNotFound:
            self.origin_dep.record(ok=True)
            self.count_lookup("origin", "miss")
            raise
        except OriginError as exc:
            self.count_lookup("origin", "error")
            self._origin_failed(exc)
            raise
        self.origin_dep.record(ok=True)
        self.count_lookup("origin", "hit")
        bulletin = replace(raw, body_html=sanitize(raw.body_html))
        stored_at = self._clock()
        self._remember(bulletin, stored_at, "origin")
        if self._store is not None and not self.redis_dep.open:
            try:
                await self._store.put(bulletin, stored_at)
                self.redis_dep.record(ok=True)
            except StoreUnavailable:
                self.redis_dep.record(ok=False)
        return bulletin

    def _origin_failed(self, exc: OriginError) -> None:
        self.origin_dep.record(ok=False)
        if isinstance(exc, OriginBadResponse):
            self.count_bad_origin(exc.reason)
            log.warning("community site answer refused (%s), our copy serves: %s",
                        exc.reason, exc)  # fmt: skip

    async def _refresh(self, bulletin_id: int) -> None:
        # Failures are counted in _fetch; the stale copy keeps serving meanwhile.
        try:
            await self._flight.run(bulletin_id, lambda: self._fetch(bulletin_id))
        except OriginError:
            pass
        except Exception:  # a bug must not end as "Task exception was never retrieved"
            log.exception("refreshing bulletin %s failed", bulletin_id)

    def _remember(self, bulletin: Bulletin, stored_at: float, source: str) -> None:
        old = self._catalog.get(bulletin.id)
        if old is None and len(self._catalog) >= self._catalog_size:
            self._forget_least_read()
        self._catalog[bulletin.id] = (bulletin, stored_at, source)
        self._l1.put(bulletin.id, (bulletin, source), stored_at)
        if old is None or old[0] != bulletin:
            self.version += 1

    def _forget_least_read(self) -> None:
        counts = self.hit_counts
        victim = min(self._catalog, key=lambda i: (counts.get(i, 0), i))
        del self._catalog[victim]
        self._l1.discard(victim)

    def forget(self, bulletin_id: int) -> None:
        """Drop a bulletin from memory (tests use it to force a miss)."""
        self._catalog.pop(bulletin_id, None)
        self._l1.discard(bulletin_id)

    def load(self, bulletins: Iterable[Bulletin], stored_at: float, source: str) -> None:
        """Put already-sanitized bulletins (Redis, snapshot) into the catalog."""
        for bulletin in bulletins:
            if bulletin.id not in self._catalog:
                self._remember(bulletin, stored_at, source)

    # -- lists and search ---------------------------------------------------------

    def top(self, n: int) -> list[Bulletin]:
        ids = top_all_time(self.hit_counts, n) if self.hit_counts else []
        ids += [i for i in sorted(self._catalog) if i not in ids][: max(0, n - len(ids))]
        return [self._catalog[i][0] for i in ids if i in self._catalog][:n]

    def trending(self, n: int) -> list[Bulletin]:
        ids = [i for i in self.trending_ids if i in self._catalog]
        if len(ids) < n:
            ids += [b.id for b in self.top(n) if b.id not in ids]
        return [self._catalog[i][0] for i in ids[:n]]

    def related(self, bulletin: Bulletin, n: int) -> list[Bulletin]:
        words = " ".join(sorted(words_of(bulletin.title))[:6])
        found = self.index.search(words, limit=n + 1).hits if words else []
        return [
            self._catalog[h.id][0] for h in found if h.id != bulletin.id and h.id in self._catalog
        ][:n]

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
        self.boost = self.boost.record(words, self._clock())

    def is_known(self, bulletin_id: int) -> bool:
        """Whether the catalog holds it now (no I/O; see `bulletin` for a full lookup)."""
        return bulletin_id in self._catalog

    def record_view(self, bulletin_id: int, client: str) -> None:
        """A view by `client` (failover/limits/identity); counted by `fold_views`."""
        self.views.note(bulletin_id, client)

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

    # -- background ---------------------------------------------------------------

    def _spawn(self, coro: Coroutine[None, None, None], name: str) -> None:
        task = asyncio.create_task(coro, name=name)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def warm(self, *, top: int | None = None) -> int:
        """Fetch what we do not have fresh from the origin; the top ones first."""
        origin = self._origin
        if origin is None or self.origin_dep.open:
            return 0
        try:
            ids = await origin.all_topic_ids()
        except OriginError as exc:
            self._origin_failed(exc)
            return 0
        ranked = top_all_time(self.hit_counts, len(ids)) if self.hit_counts else []
        order = ranked + [i for i in ids if i not in set(ranked)]
        wanted = order[:top] if top else order
        now = self._clock()
        stale = [i for i in wanted if not self._fresh(i, now)]
        gate = asyncio.Semaphore(WARM_CONCURRENCY)

        async def one(i: int) -> bool:
            async with gate:
                if self.origin_dep.open:
                    return False
                try:
                    await self._flight.run(i, lambda: self._fetch(i))
                except OriginError:
                    return False
                except Exception:  # one bulletin's surprise must not stop the warm-up
                    log.exception("warming bulletin %s failed", i)
                    return False
                return True

        done = await asyncio.gather(*(one(i) for i in stale))
        return sum(done)

    def _fresh(self, bulletin_id: int, now: float) -> bool:
        entry = self._catalog.get(bulletin_id)
        return entry is not None and judge(entry[1], now, self.policy) is Freshness.FRESH

    async def aclose(self) -> None:
        await cancel_and_wait(*self._background)
        await self._flight.aclose()
