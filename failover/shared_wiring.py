"""Wiring of health shared among replicas (issue 15) into the app: switchboard/app.py calls
`install_shared_health` once; the sharing itself is failover/shared_health.py."""

from __future__ import annotations

import itertools
import os
import socket
from collections.abc import AsyncIterator
from typing import Final

from aiohttp import web

from failover.appkeys import CLOCK, METRICS, POOL, SETTINGS, WORKER
from failover.eventsink import EventSink
from failover.redisconn import connect
from failover.settings import Settings
from failover.shared_health import SharedHealth
from failover.workers import WorkerInfo
from monitoring.shared_health import SharedHealthMetrics

_APPS: Final = itertools.count(1)  # front doors built in this process


def replica_id(settings: Settings, worker: WorkerInfo | None, *, nth: int = 1) -> str:
    """`[sharing] replica_id` (plus /w<i> per worker), else host name and process id
    (plus #n for the n-th front door of one process, n > 1: tests run several)."""
    configured = settings.sharing.replica_id
    if configured is None:
        return f"{socket.gethostname()}:{os.getpid()}" + (f"#{nth}" if nth > 1 else "")
    return configured + (f"/{worker.suffix}" if worker is not None else "")


SHARED_HEALTH: Final = web.AppKey("shared_health", SharedHealth)


def install_shared_health(app: web.Application, sink: EventSink) -> None:
    """Wire sharing into `app` if Redis is configured and `[sharing] enabled`."""
    settings = app[SETTINGS]
    url = settings.redis.url
    if not url or not settings.sharing.enabled:
        return
    metrics = SharedHealthMetrics(app[METRICS].registry, [c.name for c in settings.callcenters])

    async def lifetime(app: web.Application) -> AsyncIterator[None]:
        # A client (and connection pool) of its own: the subscription holds a connection
        # for good, and sharing must never wait for one behind customers' requests.
        redis = connect(url)
        shared = app[SHARED_HEALTH] = SharedHealth(
            app[POOL], redis=redis, clock=app[CLOCK], settings=settings, observe=sink,
            replica=replica_id(settings, app.get(WORKER), nth=next(_APPS)), metrics=metrics,
        )  # fmt: skip
        sink.on_events, sink.on_probe = shared.on_events, shared.on_probe
        shared.start()
        try:
            yield
        finally:
            sink.on_events, sink.on_probe = (lambda _: None), (lambda *_: None)
            try:
                await shared.stop()
            finally:
                await redis.aclose(close_connection_pool=True)

    app.cleanup_ctx.append(lifetime)
