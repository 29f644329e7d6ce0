"""The self-help layer's life cycle: cold start, background loops, shutdown.

Start-up never waits on a dependency: the on-disk snapshot is loaded first (customers
are served from it at once, even with Redis and the origin both down), then Redis and
the origin fill in from a background task. Loops, each a named task:

- rankings, every `rankings_every` s: all-time hits and trending (with the failover
  topic boost) from Redis, and a search index rebuild when bulletins changed;
- snapshot, every `snapshot_every` s: the last-known-good set written atomically;
- the hit flusher (cache/hits.py): counted views and votes, one pipeline a second;
- jobs others add (`add_job`): the pages kept rendered for the shedding stages.

Load shedding (kernel/overload.py; `apply_stage` is told each change): from
shed_background on, the rankings and snapshot loops skip their turns and views and votes
are flushed every `shed_flush_every` s; from memory_only on, nothing is fetched from the
community site when the front door fails over, and the service answers from memory.

A snapshot that cannot be written (disk full, read-only, I/O error) is logged once per
run of failures, naming the file and the error, and counted (`disk_state`, for the
metrics); customers are served from memory meanwhile, and the previous snapshot stays whole.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Final

from cache.hits import HitFlusher
from cache.local import Snapshot
from cache.model import Bulletin
from cache.ranking import TopicBoost, TrendingGate, trending, words_of
from cache.service import SelfHelpService
from cache.store import RedisStore, StoreUnavailable
from cache.text import html_to_text
from kernel.clock import Clock
from kernel.overload import Stage
from kernel.overload_monitor import OverloadMonitor
from kernel.tasks import cancel_and_wait

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
        clock: Clock,
        overload: OverloadMonitor | None = None,
        shed_flush_every: float = 5.0,
        gate: TrendingGate | None = None,
    ) -> None:
        self.service = service
        self._store = store
        self._snapshot = snapshot
        self._flusher = flusher
        self._rankings_every = rankings_every
        self._snapshot_every = snapshot_every
        self._writes_snapshot = writes_snapshot
        self._warm_top = warm_top
        self.clock = clock  # the pages read it too, the hot path included
        self._tasks: list[asyncio.Task[None]] = []
        self._jobs: list[tuple[str, float, Callable[[], Coroutine[None, None, None]]]] = []
        self._index_version = -1
        self.recovered_at: float | None = None
        self.started = asyncio.Event()
        self.overload = overload
        self.stage = Stage.NORMAL
        self._flush_every = flusher.interval if flusher is not None else 1.0
        self._shed_flush_every = shed_flush_every
        self.gate = gate or TrendingGate()
        self.snapshot_error: str | None = None  # the last write's error, None once it works
        self.snapshot_failures = 0
        if overload is not None:
            overload.listen(self.apply_stage)

    def disk_state(self) -> tuple[int, bool] | None:
        """(failed snapshot writes, failing now) for the metrics; None when this front
        door writes no snapshot."""
        if self._snapshot is None or not self._writes_snapshot:
            return None
        return self.snapshot_failures, self.snapshot_error is not None

    def add_job(
        self, name: str, every: float, job: Callable[[], Coroutine[None, None, None]]
    ) -> None:
        """Run `job` every `every` s from `start` on (call before `start`)."""
        self._jobs.append((name, every, job))

    def apply_stage(self, stage: Stage) -> None:
        self.stage = stage
        self.service.memory_only = stage.at_least(Stage.MEMORY_ONLY)
        if self._flusher is not None:
            shedding = stage.at_least(Stage.SHED_BACKGROUND)
            self._flusher.interval = self._shed_flush_every if shedding else self._flush_every

    @property
    def _shedding(self) -> bool:
        return self.stage.at_least(Stage.SHED_BACKGROUND)

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
        if self.overload is not None:
            self.overload.start()
        self._run(self._every(HOT_FOLD_EVERY, self._fold), "fold-views")
        self._run(self._fill(), "fill")
        self._run(self._every(self._rankings_every, self.rankings_turn), "rankings")
        if self._snapshot is not None and self._writes_snapshot:
            self._run(self._every(self._snapshot_every, self.snapshot_turn), "snapshot")
        for name, every, job in self._jobs:
            self._run(self._every(every, job), name)

    async def rankings_turn(self) -> None:
        """The rankings loop's turn: skipped while shedding (trending, all-time and
        search-index rebuilds are the first work to drop)."""
        if not self._shedding:
            await self.refresh_rankings()

    async def snapshot_turn(self) -> None:
        """The snapshot loop's turn: skipped while shedding (it is redone next turn)."""
        if not self._shedding:
            await self.save_snapshot()

    @property
    def flush_every(self) -> float | None:
        """How often views and votes are flushed to Redis now (None: no Redis)."""
        return None if self._flusher is None else self._flusher.interval

    async def _fold(self) -> None:
        await self.service.fold_views()

    async def stop(self) -> None:
        if self.overload is not None:
            await self.overload.stop()
        await cancel_and_wait(*self._tasks)
        self._tasks.clear()
        await self.service.fold_views()  # the last second's views go out with the flush
        if self._flusher is not None:
            await self._flusher.stop(final_flush=True)
        if self._snapshot is not None and self._writes_snapshot and self.service.known():
            await self.save_snapshot()
        await self.service.aclose()

    async def _fill(self) -> None:
        await self.rewarm()
        for name, _, job in self._jobs:  # once now, so that their work is ready early
            try:
                await job()
            except Exception:
                log.exception("self-help job %s failed at start; going on", name)
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
            if not self.stage.at_least(Stage.MEMORY_ONLY):  # no community site now
                self._run(self._warm_top_now(), "warm-on-failover")
        elif self.recovered_at is None:
            self.recovered_at = self.clock.epoch()  # the boost fades from here

    async def _warm_top_now(self) -> None:
        if await self.service.warm(top=self._warm_top):
            await self._rebuild_index()

    async def refresh_rankings(self) -> None:
        service = self.service
        await service.fold_views()
        if self._store is not None and not service.redis_dep.open:
            try:
                top = await self._store.top(TOP_SIZE)
                scores = dict(await self._store.trending(TRENDING_SIZE * 2, now=self.clock.epoch()))
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
        # Only what enough customers read, and that says something, may trend (issue 19).
        scores = {i: v for i, v in scores.items() if i in catalog and self._admits(catalog[i], v)}
        now = self.clock.epoch()
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

    def _admits(self, bulletin: Bulletin, views: float) -> bool:
        return self.gate.admits(views, lambda: len(html_to_text(bulletin.body_html)))

    async def _rebuild_index(self) -> None:
        version = self.service.version  # what this build sees; a failed build is tried again
        await self.service.rebuild_index()
        self._index_version = version

    async def save_snapshot(self) -> None:
        snapshot = self._snapshot
        if snapshot is None:
            return
        bulletins = self.service.known()
        if not bulletins:
            return
        try:
            await asyncio.to_thread(
                snapshot.save, bulletins, dict(self.service.hit_counts), self.clock.epoch()
            )
        except OSError as exc:
            self.snapshot_failures += 1
            if self.snapshot_error is None:  # once per run of failures, not every minute
                log.error(  # noqa: TRY400 - the cause is the message; a traceback adds nothing
                    "self-help snapshot: cannot write %s: %s; the previous snapshot stays, "
                    "customers are served from memory; retrying every %.0f s",
                    snapshot.path, exc.strerror or exc, self._snapshot_every,
                    extra={"event": "disk_write_failed", "file": "snapshot",
                           "path": str(snapshot.path), "errno": exc.errno},
                )  # fmt: skip
            self.snapshot_error = f"{snapshot.path}: {exc.strerror or exc}"
            return
        if self.snapshot_error is not None:
            log.warning("self-help snapshot: written to %s again", snapshot.path)
            self.snapshot_error = None

    async def _every(self, seconds: float, job: Callable[[], Coroutine[None, None, None]]) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await job()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("self-help background job %s failed; going on", job.__name__)
