"""Building the self-help layer (cache/) from the front door's settings.

Kept apart from app.py so that the composition root stays readable: this is the one
place that knows how the self-help parts fit together.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import aiohttp
from redis.asyncio import Redis

from cache.freshness import FreshnessPolicy
from cache.hits import HitBuffer, HitFlusher
from cache.local import Snapshot
from cache.origin import DiscourseClient
from cache.prerender import PRERENDER_EVERY, ShedPages, prerender
from cache.runtime import SelfHelpRuntime
from cache.service import SelfHelpService
from cache.store import RedisStore
from cache.web import ROUTE, Outage, SelfHelp
from failover.limits.limiter import Limiter
from failover.limits.wiring import ClientOf
from failover.overload_monitor import OverloadMonitor
from failover.settings import Settings
from monitoring.degraded import DegradedMetrics
from monitoring.http import FRONT_DOOR
from monitoring.metrics import Metrics


def build_self_help(
    settings: Settings,
    *,
    redis: Redis | None,
    session: aiohttp.ClientSession,
    metrics: Metrics,
    outage: Callable[[], Outage],
    limiter: Limiter,
    client_of: ClientOf,
    writes_snapshot: bool = True,
    degraded: DegradedMetrics | None = None,
) -> SelfHelp:
    s = settings.selfhelp
    origin = None
    if s.origin:
        seconds = s.origin_timeout_ms / 1000
        origin = DiscourseClient(
            session,
            s.origin,
            timeout=aiohttp.ClientTimeout(
                total=seconds * 2, sock_connect=seconds, sock_read=seconds
            ),
        )
    degraded = degraded or DegradedMetrics(metrics.registry)
    store = RedisStore(redis) if redis is not None else None
    hits = HitBuffer()
    o = settings.overload
    overload = OverloadMonitor(
        o.policy(), interval=o.sample_interval_ms / 1000, measure=o.enabled,
        on_transition=degraded.count_transition,
    )  # fmt: skip
    service = SelfHelpService(
        origin=origin,
        store=store,
        policy=FreshnessPolicy(
            max_age=s.max_age_s,
            stale_while_revalidate=s.stale_while_revalidate_s,
            stale_if_error=s.stale_if_error_s,
        ),
        count_lookup=metrics.count_cache_lookup,
        hits=hits,
        limiter=limiter,
        count_bad_origin=degraded.count_bad_response,
    )
    runtime = SelfHelpRuntime(
        service,
        store=store,
        snapshot=Snapshot(Path(s.snapshot_path)) if s.snapshot_path else None,
        flusher=HitFlusher(store, hits, clock=time.time) if store is not None else None,
        snapshot_every=float(s.snapshot_every_s),
        warm_top=s.warm_top,
        writes_snapshot=writes_snapshot,
        overload=overload,
        shed_flush_every=o.flush_every_ms / 1000,
    )
    helper = SelfHelp(
        runtime=runtime,
        outage=outage,
        client_of=client_of,
        limiter=limiter,
        on_helped=metrics.count_helped,
        observe=metrics.observe_request,
        observe_hot=metrics.timer(ROUTE, FRONT_DOOR, 200).observe,
        shed=ShedPages(prerender_top=o.prerender_top, static_top=o.static_top),
        in_flight=overload.in_flight,
    )
    overload.listen(helper.set_stage)

    async def prerender_pages() -> None:
        await prerender(helper)

    runtime.add_job("prerender", PRERENDER_EVERY, prerender_pages)
    return helper
