"""Fetching for the self-help service (cache/service.py): Redis reads, origin fetches
(sanitized, then kept in memory and Redis), background refreshes, the warm-up, and the
catalog's upkeep. A part of `SelfHelpService`, kept apart from the read path's decisions.

Redis and the origin each sit behind a breaker (cache/dependency.py), so a dead
dependency costs one timeout, not one per request. A Redis read on the request path also
has its own budget (`REDIS_READ_BUDGET`): a Redis that answers, but slowly, or whose
connection pool a burst has used up, counts as failing instead of making every customer
wait for it (issue 14).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import replace
from typing import Final, Protocol

from cache.coalesce import SingleFlight
from cache.dependency import Dependency
from cache.freshness import Freshness, FreshnessPolicy, judge
from cache.listing import LookupCounter
from cache.memory import Entry, Memory
from cache.model import Bulletin
from cache.origin import OriginBadResponse, OriginError, OriginNotFound
from cache.ranking import top_all_time
from cache.sanitize import sanitize, topic_url
from cache.store import RedisStore, StoreUnavailable
from cache.text import excerpt_of
from kernel.clock import Clock
from kernel.tasks import cancel_and_wait

log = logging.getLogger("switchboard.selfhelp")

WARM_CONCURRENCY: Final = 8
# Redis answers a loopback or LAN read in about a millisecond; 100 ms is well past that
# and well inside the 250 ms p99 of the self-help SLO (loadtests/slo.toml).
REDIS_READ_BUDGET: Final = 0.1


class Origin(Protocol):
    async def topic(self, topic_id: int) -> Bulletin: ...
    async def all_topic_ids(self, max_pages: int = 50) -> list[int]: ...


class Fetching:
    """Set by `SelfHelpService.__init__`."""

    _origin: Origin | None
    _store: RedisStore | None
    _site_url: str | None
    _clock: Clock
    _flight: SingleFlight[Bulletin]
    _background: set[asyncio.Task[None]]
    policy: FreshnessPolicy
    memory: Memory
    hit_counts: dict[int, int]
    version: int
    origin_dep: Dependency
    redis_dep: Dependency
    count_lookup: LookupCounter
    count_bad_origin: Callable[[str], None]

    async def _from_redis(self, bulletin_id: int) -> Entry | None:
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
        if found is None:  # a copy's hit or miss is the caller's to count (cache/service.py)
            self.count_lookup("redis", "miss")
            return None
        entry = Entry(found[0], found[1], "redis")
        self._remember(entry)
        return entry

    async def _fetch(self, bulletin_id: int) -> Bulletin:
        if self._origin is None:
            raise OriginNotFound(bulletin_id)
        try:
            raw = await self._origin.topic(bulletin_id)
        except OriginNotFound:
            self.origin_dep.record(ok=True)
            self.count_lookup("origin", "miss")
            await self._drop(bulletin_id)
            raise
        except OriginError as exc:
            self.count_lookup("origin", "error")
            self._origin_failed(exc)
            raise
        self.origin_dep.record(ok=True)
        self.count_lookup("origin", "hit")
        site = self._site_url
        body = sanitize(raw.body_html, page_url=topic_url(site, raw.slug, raw.id) if site else None)
        bulletin = replace(raw, body_html=body, excerpt=excerpt_of(body))
        stored_at = self._clock.epoch()
        self._remember(Entry(bulletin, stored_at, "origin"))
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

    def _remember(self, entry: Entry) -> None:
        if self.memory.remember(entry, self.hit_counts):
            self.version += 1

    def forget(self, bulletin_id: int) -> None:
        """Drop a bulletin from memory (tests use it to force a miss)."""
        if self.memory.forget(bulletin_id):
            self.version += 1

    async def _drop(self, bulletin_id: int) -> None:
        """The community says no such topic (deleted, or made private: issue 19): our copies
        go too, or they would be served as stale ones for stale-if-error."""
        self.forget(bulletin_id)
        if self._store is not None and not self.redis_dep.open:
            try:
                await self._store.remove(bulletin_id)
            except StoreUnavailable:
                self.redis_dep.record(ok=False)

    def load(self, bulletins: Iterable[Bulletin], stored_at: float, source: str) -> None:
        """Put already-sanitized bulletins (Redis, snapshot) into the catalog."""
        for bulletin in bulletins:
            if bulletin.id not in self.memory:
                self._remember(Entry(bulletin, stored_at, source))

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
        ranked_set = set(ranked)
        order = ranked + [i for i in ids if i not in ranked_set]
        wanted = order[:top] if top else order
        now = self._clock.epoch()
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
        entry = self.memory.get(bulletin_id)
        return entry is not None and judge(entry.stored_at, now, self.policy) is Freshness.FRESH

    async def aclose(self) -> None:
        await cancel_and_wait(*self._background)
        await self._flight.aclose()
