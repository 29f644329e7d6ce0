"""Builds the callback machinery from settings (called by `switchboard.app.create_app`)."""

from __future__ import annotations

import socket
from pathlib import Path

import aiohttp
from redis.asyncio import Redis

from failover.callbacks.adopt import Adopted, orphans
from failover.callbacks.delivery import CallbackClient
from failover.callbacks.dispatcher import Dispatcher
from failover.callbacks.formsecret import FormSecrets
from failover.callbacks.intake import Intake
from failover.callbacks.queue import CallbackQueue
from failover.callbacks.runtime import CallbackRuntime
from failover.callbacks.spool import Spool, SpoolError
from failover.callbacks.stream import CallbackStream
from failover.limits_wiring import ClientOf
from failover.pool import Pool
from failover.redisconn import SOCKET_TIMEOUT, connect
from failover.routing import callback_target
from failover.settings import Settings
from failover.workers import WorkerInfo
from kernel.clock import Clock
from kernel.limits.limiter import Limiter
from monitoring.callbacks import CallbackMetrics


def data_dir(settings: Settings) -> Path:
    """`server.data_dir`; a relative one is read from the config file's folder."""
    path = Path(settings.server.data_dir)
    if not path.is_absolute() and settings.source:
        path = Path(settings.source).parent / path
    return path


def spool_path(settings: Settings) -> Path:
    """`callbacks.spool_path`; a relative one is read from `data_dir` (never from the
    config file's folder: in a container that is a read-only ConfigMap mount)."""
    path = Path(settings.callbacks.spool_path)
    return path if path.is_absolute() else data_dir(settings) / path


def replicas_to_ack(settings: Settings) -> int:
    """`callbacks.replicas_to_ack`, else 1 behind Sentinel (a primary with a replica) and
    0 otherwise (a lone Redis has no replica to wait for)."""
    configured = settings.callbacks.replicas_to_ack
    if configured is not None:
        return configured
    return 1 if settings.redis.sentinel is not None else 0


def wait_client(settings: Settings) -> Redis | None:
    """A client of its own for the callbacks' add + WAIT (stream.py): WAIT blocks up to
    `replica_ack_timeout_ms` by design, so its reply may take that long plus the usual
    socket budget. On the app's client (0.5 s) the socket timed out first: the pooled
    connection was dropped, Sentinel asked again, and the log blamed Redis."""
    if not settings.redis.url:
        return None
    wait_s = settings.callbacks.replica_ack_timeout_ms / 1000
    return connect(settings.redis.url, read_timeout=wait_s + SOCKET_TIMEOUT)


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
    base = path
    if worker is not None:  # each worker its own consumer and spool file
        consumer = f"{consumer}/{worker.suffix}"
        path = path.with_name(f"{path.name}.{worker.suffix}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SpoolError(
            f"cannot create {path.parent} for the spool (set [server] data_dir to a "
            f"writable folder, e.g. a volume): {exc}"
        ) from exc
    replicas = replicas_to_ack(settings)
    stream = CallbackStream(
        redis,
        consumer=consumer,
        replicas=replicas,
        replica_timeout_ms=cb.replica_ack_timeout_ms,
        writer=wait_client(settings) if replicas else None,
    )
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
        on_retry=lambda: metrics.failed("retried"),
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
    # Slot 0 (or the only process) adopts the spool files of another `workers` layout.
    slot, count = (None, 1) if worker is None else (worker.index, worker.count)
    adopted = Adopted(orphans(base, slot, count), stream, clock=clock)
    secrets = FormSecrets(cb.form_secret.encode() if cb.form_secret else None)
    runtime = CallbackRuntime(
        redis=redis, stream=stream, spool=spool, queue=queue, dispatcher=dispatcher,
        secrets=secrets, adopted=adopted,
    )  # fmt: skip
    intake = Intake(
        queue=queue,
        secrets=secrets,
        form_max_age=float(cb.form_max_age_s),
        region=cb.phone_region,
        clock=clock,
        metrics=metrics,
        limiter=limiter,
        client_of=client_of,
    )
    return runtime, intake
