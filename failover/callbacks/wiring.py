"""Builds the callback machinery from settings (called by `app.create_app`)."""

from __future__ import annotations

import socket
from pathlib import Path

import aiohttp
from redis.asyncio import Redis

from failover.callbacks.delivery import CallbackClient
from failover.callbacks.dispatcher import Dispatcher
from failover.callbacks.queue import CallbackQueue
from failover.callbacks.runtime import CallbackRuntime
from failover.callbacks.spool import Spool
from failover.callbacks.stream import CallbackStream
from failover.callbacks.web import Intake, new_secret
from failover.clock import Clock
from failover.limits.limiter import Limiter
from failover.limits.wiring import ClientOf
from failover.pool import Pool
from failover.routing import callback_target
from failover.settings import Settings
from failover.workers import WorkerInfo
from monitoring.callbacks import CallbackMetrics


def spool_path(settings: Settings) -> Path:
    """`callbacks.spool_path`; a relative one is read from the config file's folder."""
    path = Path(settings.callbacks.spool_path)
    if not path.is_absolute() and settings.source:
        path = Path(settings.source).parent / path
    return path


def replica_name(settings: Settings) -> str:
    """This front door's name among its replicas (callback consumer, admin log):
    `callbacks.consumer`, else host name and port."""
    return settings.callbacks.consumer or f"{socket.gethostname()}:{settings.server.port}"


def build_callbacks(
    settings: Settings,
    *,
    redis: Redis,
    session: aiohttp.ClientSession,
    pool: Pool,
    clock: Clock,
    metrics: CallbackMetrics,
    limiter: Limiter,
    client_of: ClientOf,
    worker: WorkerInfo | None = None,
) -> tuple[CallbackRuntime, Intake]:
    """Raises `SpoolError` if the spool file cannot be opened (a configuration error:
    `callbacks.spool_path`)."""
    cb = settings.callbacks
    consumer, path = replica_name(settings), spool_path(settings)
    if worker is not None:  # each worker its own consumer and spool file
        consumer = f"{consumer}/{worker.suffix}"
        path = path.with_name(f"{path.name}.{worker.suffix}")
    stream = CallbackStream(redis, consumer=consumer)
    spool = Spool(path)

    def target() -> str | None:
        snap = pool.snapshot()
        return callback_target(
            snap.views, now=clock.monotonic(), wall=clock.wall(), override=snap.override
        )

    client = CallbackClient(
        session,
        {c.name: c.url.rstrip("/") + c.callbacks_path for c in settings.callcenters},
        timeout=cb.delivery_timeout_ms / 1000,
    )
    dispatcher = Dispatcher(
        stream,
        client,
        target=target,
        clock=clock,
        observer=metrics,
        rate=cb.rate_per_s,
        burst=cb.burst,
        max_attempts=cb.max_attempts,
        reclaim_idle=cb.reclaim_idle_ms / 1000,
    )
    queue = CallbackQueue(stream, spool, clock=clock, on_stored=lambda _: dispatcher.wake.set())
    runtime = CallbackRuntime(
        redis=redis, stream=stream, spool=spool, queue=queue, dispatcher=dispatcher
    )
    intake = Intake(
        queue=queue,
        secret=cb.form_secret.encode() if cb.form_secret else new_secret(),
        form_max_age=float(cb.form_max_age_s),
        region=cb.phone_region,
        clock=clock,
        metrics=metrics,
        limiter=limiter,
        client_of=client_of,
    )
    return runtime, intake
