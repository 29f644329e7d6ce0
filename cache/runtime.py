"""The self-help layer's life cycle: cold start, background loops, shutdown.

Start-up never waits on a dependency: the on-disk snapshot is loaded first (customers
are served from it at once, even with Redis and the origin both down), then Redis and
the origin fill in from a background task. Loops, each a named task:

- rankings, every `rankings_every` s: all-time hits and trending (with the failover
  topic boost) from Redis, and a search index rebuild when bulletins changed;
- snapshot, every `snapshot_every` s: the last-known-good set written atomically;
- the hit flusher (cache/hits.py): counted views and votes, one pipeline a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Final

from cache.hits import HitFlusher
from cache.local import Snapshot
from cache.ranking import TopicBoost, trending, words_of
from cache.service import SelfHelpService
from cache.store import RedisStore, StoreUnavailable
from failover.tasks import cancel_and_wait

log = logging.getLogger("switchboard.selfhelp")

TRENDING_SIZE: Final = 50
HOT_FOLD_EVERY: Final = 0.5  # seconds: views of cached pages reach counters this late
TOP_SIZE: Final = 500


class SelfHelpRuntime:
    def __init__(
        self,
        service: SelfHelpService,
        *,
        store: RedisStore | None,
        snapshot: Snapshot | None,
        flusher: HitFlusher | None,
        rankings_every: float = 5.0,
        snapshot_every: float = 60.0,
        warm_top: int = 100,
        writes_snapshot: bool = True,  # one writer per host: worker 0 of several
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.service = service
        self._store = store
        self._snapshot = snapshot
        self._flusher = flusher
        self._rankings_every = rankings_every
        self._snapshot_every = snapshot_every
        self._writes_snapshot = writes_snapshot
        self._warm_top = warm_top
        self.clock = clock  # wall-clock seconds; pages call it directly, the hot path too
        self._tasks: list[asyncio.Task[None]] = []
        self._index_version = -1
        self.recovered_at: float | None = None
        self.started = asyncio.Event()

    def _run(self, coro: Coroutine[None, None, None], name: str) -> None:
        self._tasks.append(asyncio.create_task(coro, name=f"selfhelp:{name}"))

    async def start(self) -> None:
        if self._snapshot is not None:
            data = await asyncio.to_thread(self._snapshot.load)
            if data is not None:
                self.service.load(data.bulletins, data.written_at, "snapshot")
                self.service.hit_counts.update(data.hits)
                await self._rebuild_index()
                log.info("self-help: %d bulletins from the snapshot", len(data.bulletins))
        if self._flusher is not None:
            self._flusher.start()
        self._run(self._every(HOT_FOLD_EVERY, self._fold), "fold-views")
        self._run(self._fill(), "fill")
        self._run(self._every(self._rankings_every, self.refresh_rankings), "rankings")
        if self._snapshot is not None and self._writes_snapshot:
            self._run(self._every(self._snapshot_every, self.save_snapshot), "snapshot")

    async def _fold(self) -> None:
        await self.service.fold_views()

    async def stop(self) -> None:
        await cancel_and_wait(*self._tasks)
        self._tasks.clear()
        await self.service.fold_views()  # the last second's views go out with the flush
        if self._flusher is not None:
            await self._flusher.stop(final_flush=True)
        if self._snapshot is not None and self._writes_snapshot and self.service.known():
            with contextlib.suppress(OSError):
                await self.save_snapshot()
        await self.service.aclose()

    async def _fill(self) -> None:
        await self.rewarm()
        self.started.set()

    async def rewarm(self) -> int:
        """Redis first (fast, shared), then the origin for what is missing or old; how
        many were fetched from the origin. At start, and on an operator's request."""
        if self._store is not None:
            try:
                ids = await self._store.all_ids()
                found = await self._store.get_many(ids)
            except StoreUnavailable:
                log.warning("self-help: Redis unavailable at start-up; serving from snapshot")
            else:
                for bulletin, stored_at in found.values():
                    self.service.load([bulletin], stored_at, "redis")
        await self.refresh_rankings()
        warmed = await self.service.warm()
        await self._rebuild_index()
        log.info("self-help: %d bulletins known, %d fetched", len(self.service.known()), warmed)
        return warmed

    def follow_routing(self, *, into_self_help: bool) -> None:
        """The front door changed where customers go."""
        if into_self_help:
            # Customers are arriving now: make sure the top bulletins are warm, and
            # start a fresh topic boost for this outage.
            self.recovered_at = None
            self.service.boost = TopicBoost()
            self._run(self._warm_top_now(), "warm-on-failover")
        elif self.recovered_at is None:
            self.recovered_at = self.clock()  # the boost fades from here

    async def _warm_top_now(self) -> None:
        if await self.service.warm(top=self._warm_top):
            await self._rebuild_index()

    async def refresh_rankings(self) -> None:
        service = self.service
        await service.fold_views()
        if self._store is not None and not service.redis_dep.open:
            try:
                top = await self._store.top(TOP_SIZE)
                scores = dict(await self._store.trending(TRENDING_SIZE * 2, now=self.clock()))
            except StoreUnavailable:
                service.redis_dep.record(ok=False)
            else:
                service.redis_dep.record(ok=True)
                # Views counted here but not yet flushed (a second at most) show up
                # at the next refresh.
                service.hit_counts = dict(top)
                service.trending_ids = self._boosted(scores)
        if service.version != self._index_version:
            await self._rebuild_index()

    def _boosted(self, scores: dict[int, float]) -> list[int]:
        catalog = {b.id: b for b in self.service.known()}
        now = self.clock()
        factors = {
            i: self.service.boost.factor(
                words_of(f"{catalog[i].title} {' '.join(catalog[i].tags)}"),
                now,
                recovered_at=self.recovered_at,
                fade_half_life=600.0,
            )
            for i in scores
            if i in catalog
        }
        return trending(scores, factors, TRENDING_SIZE)

    async def _rebuild_index(self) -> None:
        self._index_version = self.service.version
        await self.service.rebuild_index()

    async def save_snapshot(self) -> None:
        if self._snapshot is None:
            return
        bulletins = self.service.known()
        if bulletins:
            await asyncio.to_thread(
                self._snapshot.save, bulletins, dict(self.service.hit_counts), self.clock()
            )

    async def _every(self, seconds: float, job: Callable[[], Coroutine[None, None, None]]) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("self-help background job %s failed; going on", job.__name__)
