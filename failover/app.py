"""The one composition root: `create_app(settings, *, clock=, registry=)`.

Everything with a lifetime (client sessions, the probe tasks, the Redis client) is
opened in `cleanup_ctx` and closed there in reverse order, so a SIGTERM drains
in-flight requests and then stops the probes cleanly.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from functools import partial

from aiohttp import ClientSession, web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from redis.asyncio import Redis

from cache import api as selfhelp_api
from cache import web as selfhelp
from failover import admin
from failover import web as frontdoor
from failover.admission import InFlight
from failover.appkeys import CALLBACKS, CLOCK, DATAPLANE, METRICS, POOL, REDIS, SETTINGS, WORKER
from failover.breaker import OutlierPolicy
from failover.callbacks import web as callbacks_web
from failover.callbacks.runtime import CallbackRuntime
from failover.callbacks.wiring import build_callbacks, replica_name
from failover.clock import Clock, SystemClock
from failover.configstate import CONFIG, ConfigState, Live, Policies, reload_handler
from failover.dataplane import DataPlane
from failover.eventsink import EventSink, prime_series
from failover.health import HealthPolicy
from failover.limits.limiter import Limiter
from failover.limits.wiring import ClientOf, build_limiter, client_of
from failover.monitor import Monitor, ProbeSchedule
from failover.openapi import openapi_handler
from failover.opsport import OPS_PORTS, ops_only
from failover.pool import CallCenterSpec, Pool
from failover.probes import new_probe_session
from failover.proxy import Proxy, ProxyPolicy, new_proxy_session
from failover.redisconn import RedisWatch, connect
from failover.routing import SELF_HELP
from failover.security_headers import install as install_security_headers
from failover.selfhelp_wiring import build_self_help
from failover.settings import Settings, load_settings
from failover.status import status_handler, status_page, wall_of
from failover.switches import Switches
from failover.version import VERSION
from failover.workers import WorkerInfo, gather_metrics
from monitoring.aggregate import merge
from monitoring.callbacks import BacklogCollector, CallbackMetrics
from monitoring.config import ConfigMetrics
from monitoring.degraded import DEGRADED, DegradedMetrics, DiskCollector, OverloadCollector
from monitoring.http import Handler, observed
from monitoring.limits import LimitMetrics
from monitoring.metrics import Metrics, PoolCollector

log = logging.getLogger("switchboard")

__all__ = ["CALLBACKS", "CLOCK", "METRICS", "POOL", "REDIS", "SETTINGS", "create_app"]


def health_policy(settings: Settings) -> HealthPolicy:
    h = settings.health
    return HealthPolicy(
        healthy_threshold=h.healthy_threshold,
        unhealthy_threshold=h.unhealthy_threshold,
        max_queue_wait_seconds=h.max_queue_wait_seconds,
    )


def outlier_policy(settings: Settings) -> OutlierPolicy:
    o = settings.outlier
    return OutlierPolicy(
        consecutive_5xx=o.consecutive_5xx,
        consecutive_local_failures=o.consecutive_local_failures,
        base_ejection_time=o.base_ejection_time_ms / 1000,
        max_ejection_time=o.max_ejection_time_ms / 1000,
    )


def specs_of(settings: Settings) -> tuple[CallCenterSpec, ...]:
    return tuple(
        CallCenterSpec(name=c.name, priority=c.priority, hours=c.schedule, emergency=c.emergency)
        for c in settings.callcenters
    )


def build_pool(settings: Settings) -> Pool:
    return Pool(
        specs_of(settings),
        health=health_policy(settings),
        outlier=outlier_policy(settings),
        hold_down=settings.routing.hold_down_ms / 1000,
    )


def policies_of(settings: Settings) -> Policies:
    """Everything a reload applies, from one configuration (failover/configstate.py)."""
    cc = settings.callcenters
    return Policies(
        specs=specs_of(settings), health=health_policy(settings),
        outlier=outlier_policy(settings), hold_down=settings.routing.hold_down_ms / 1000,
        proxy=proxy_policy(settings), schedule=probe_schedule(settings),
        proxy_bases={c.name: c.url for c in cc},
        health_urls={c.name: c.url.rstrip("/") + c.health_path for c in cc},
        callback_urls={c.name: c.url.rstrip("/") + c.callbacks_path for c in cc},
    )  # fmt: skip


def proxy_policy(settings: Settings) -> ProxyPolicy:
    p = settings.proxy
    return ProxyPolicy(
        connect_timeout=p.connect_timeout_ms / 1000,
        read_timeout=p.read_timeout_ms / 1000,
        budget=p.request_budget_ms / 1000,
        buffer_bytes=p.buffer_bytes,
        trusted_proxies=tuple(settings.server.trusted_proxies),
        max_connections=p.max_connections,
    )


def probe_schedule(settings: Settings) -> ProbeSchedule:
    h = settings.health
    return ProbeSchedule(interval=h.interval_ms / 1000, timeout=h.timeout_ms / 1000,
                         jitter=h.jitter)  # fmt: skip


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    registry: CollectorRegistry | None = None,
    worker: WorkerInfo | None = None,
    loader: Callable[[], Settings] | None = None,
) -> web.Application:
    """`worker`: this process's place among `server.workers` (None: the only one).
    `loader`: reads the configuration again for a reload (default: `settings.source`
    with the environment, as at start; none when the settings came from no file)."""
    clock = clock or SystemClock()
    registry = registry or CollectorRegistry()
    pool = build_pool(settings)
    metrics = Metrics(registry, now=clock.monotonic, version=VERSION)
    prime_series(metrics, [c.name for c in settings.callcenters])
    if settings.redis.url:
        metrics.track_redis()
    registry.register(PoolCollector(pool, now=clock.monotonic, wall=clock.wall))
    sink = EventSink(metrics, health_policy(settings))
    callback_metrics = CallbackMetrics(registry)
    limit_metrics = LimitMetrics(registry)

    app = web.Application(client_max_size=1024**2)
    app[POOL] = pool
    app[METRICS] = metrics
    app[SETTINGS] = settings
    app[CLOCK] = clock
    app[OPS_PORTS] = set()
    if loader is None and settings.source:
        loader = partial(load_settings, settings.source)
    app[CONFIG] = ConfigState(settings, clock=clock, metrics=ConfigMetrics(registry), loader=loader)
    if worker is not None:
        app[WORKER] = worker

    app.cleanup_ctx.append(
        lambda app: _resources(
            app, sink=sink, callback_metrics=callback_metrics, limit_metrics=limit_metrics
        )
    )
    wrap = observed(metrics)

    def ops_wrap(route: str, handler: Handler) -> Handler:  # the ops listener only
        return wrap(route, ops_only(handler))

    frontdoor.add_routes(app, wrap)
    admin.add_routes(app, settings.admin.token, ops_wrap)
    selfhelp.add_routes(app, wrap)
    selfhelp_api.add_routes(app, wrap)
    callbacks_web.add_routes(app, wrap)
    registry.register(
        BacklogCollector(lambda: app[CALLBACKS].sample if CALLBACKS in app else None,
                         wall=clock.wall)
    )  # fmt: skip
    app[DEGRADED] = DegradedMetrics(registry)
    registry.register(OverloadCollector(
        lambda: app[selfhelp.SELF_HELP].runtime.overload if selfhelp.SELF_HELP in app else None
    ))  # fmt: skip
    registry.register(DiskCollector({  # issue 14: a full disk is a metric, not an outage
        "snapshot": lambda: app[selfhelp.SELF_HELP].runtime.disk_state()
        if selfhelp.SELF_HELP in app else None,
        "spool": lambda: (app[CALLBACKS].spool.write_failures, app[CALLBACKS].spool.failing)
        if CALLBACKS in app else None,
    }))  # fmt: skip
    app.router.add_get("/api/v1/openapi.json", wrap("api_openapi", openapi_handler))
    app.router.add_get("/metrics", ops_wrap("metrics", metrics_handler))
    app.router.add_get("/api/v1/status", ops_wrap("status_api", status_handler))
    app.router.add_get("/status", ops_wrap("status_page", status_page))
    app.router.add_post("/admin/reload", ops_wrap("admin", reload_handler))
    install_security_headers(app, proxied_mount=proxy_policy(settings).mount)  # routes first
    return app


async def _resources(
    app: web.Application,
    *,
    sink: EventSink,
    callback_metrics: CallbackMetrics,
    limit_metrics: LimitMetrics,
) -> AsyncIterator[None]:
    """Everything with a lifetime, opened in order and closed in reverse."""
    settings, pool, clock, metrics = app[SETTINGS], app[POOL], app[CLOCK], app[METRICS]
    worker = app.get(WORKER)
    policy = proxy_policy(settings)
    async with (
        new_proxy_session(max_connections=settings.proxy.max_connections) as proxy_session,
        new_probe_session() as probe_session,
    ):
        monitor = Monitor(
            pool,
            {c.name: c.url.rstrip("/") + c.health_path for c in settings.callcenters},
            schedule=probe_schedule(settings),
            session=probe_session,
            clock=clock,
            observer=sink.probe,
        )
        redis = connect(settings.redis.url) if settings.redis.url else None
        if redis is not None:
            app[REDIS] = redis
        # Per-client limits (issue 14): the app's Redis client, shared by the replicas.
        limiter = build_limiter(settings, redis=redis, observer=limit_metrics)
        client = client_of(settings)
        helper = build_self_help(
            settings, redis=redis, session=proxy_session, metrics=metrics,
            outage=OutageView(pool, clock), writes_snapshot=worker is None or worker.index == 0,
            limiter=limiter, client_of=client,
            degraded=app[DEGRADED],
        )  # fmt: skip
        app[selfhelp.SELF_HELP] = helper
        sink.on_route_change = lambda e: helper.runtime.follow_routing(
            into_self_help=e.target == SELF_HELP
        )
        callbacks = _callbacks(app, redis=redis, session=proxy_session,
                               metrics=callback_metrics, helper=helper,
                               limiter=limiter, client_of=client)  # fmt: skip
        switches = app[admin.SWITCHBOARD] = Switches(
            pool, redis=redis, clock=clock, observe=sink,
            replica=replica_name(settings) + (f"/{worker.suffix}" if worker else ""),
            on_action=lambda action: metrics.admin_actions_total.labels(action).inc(),
        )  # fmt: skip
        watch = None
        if redis is not None:
            gauge = metrics.track_redis()
            watch = RedisWatch(redis, lambda ok: gauge.set(1 if ok else 0))
        proxy = Proxy(proxy_session, {c.name: c.url for c in settings.callcenters}, policy)
        app[frontdoor.FRONT_DOOR] = frontdoor.FrontDoor(
            pool=pool,
            proxy=proxy,
            policy=policy,
            clock=clock,
            metrics=metrics,
            monitor=monitor,
            observe=sink,
            note_topic=helper.service.note_arrival,
            in_flight=InFlight(limit=settings.proxy.max_in_flight_per_client),
            uploads=InFlight(limit=settings.proxy.max_uploads),
            max_body_bytes=settings.proxy.max_body_bytes,
            body_timeout=settings.proxy.body_timeout_ms / 1000,
        )
        await switches.start()  # before the first probe routes anyone
        await helper.runtime.start()
        if callbacks is not None:
            await callbacks.start()
        if watch is not None:
            watch.start()
        monitor.start()
        app[CONFIG].live = Live(
            pool=pool, monitor=monitor, proxy=proxy, sink=sink, metrics=metrics,
            callbacks=callbacks, policies_of=policies_of, clock=clock,
        )  # fmt: skip
        dataplane = None
        # Issue 18: HAProxy carries /support; one worker answers its agent checks.
        if settings.dataplane.mode == "haproxy" and (worker is None or worker.index == 0):
            dataplane = app[DATAPLANE] = DataPlane(
                settings, pool, clock, sink, outlier=outlier_policy(settings)
            )
            await dataplane.start()
        try:
            yield
        finally:
            if dataplane is not None:
                await dataplane.stop()
            await app[CONFIG].detach()
            await monitor.stop()
            if watch is not None:
                await watch.stop()
            await switches.stop()
            if callbacks is not None:
                await callbacks.stop()
            await helper.runtime.stop()
            if redis is not None:
                await redis.aclose(close_connection_pool=True)


def _callbacks(
    app: web.Application,
    *,
    redis: Redis | None,
    session: ClientSession,
    metrics: CallbackMetrics,
    helper: selfhelp.SelfHelp,
    limiter: Limiter,
    client_of: ClientOf,
) -> CallbackRuntime | None:
    settings = app[SETTINGS]
    if not settings.callbacks.enabled:
        return None
    if redis is None:
        log.warning("callbacks: off, they need [redis] url (a durable queue)")
        return None
    runtime, intake = build_callbacks(
        settings, redis=redis, session=session, pool=app[POOL], clock=app[CLOCK],
        metrics=metrics, worker=app.get(WORKER), limiter=limiter, client_of=client_of,
    )  # fmt: skip
    app[CALLBACKS] = runtime
    app[callbacks_web.INTAKE] = intake
    helper.callbacks_enabled = True
    return runtime


def outage_of(pool: Pool, clock: Clock) -> selfhelp.Outage:
    router = pool.snapshot().router
    if router.current != SELF_HELP:
        return selfhelp.Outage(active=False)
    return selfhelp.Outage(active=True, since=wall_of(router.since, clock), reason=router.reason)


class OutageView:
    """`outage_of`, computed once per pool change: self-help pages ask on every request,
    and the same object back lets them key cached pages on it by identity."""

    def __init__(self, pool: Pool, clock: Clock) -> None:
        self._pool = pool
        self._clock = clock
        self._version = -1
        self._outage = selfhelp.Outage(active=False)

    def __call__(self) -> selfhelp.Outage:
        version = self._pool.version
        if version != self._version:
            outage = outage_of(self._pool, self._clock)
            if outage != self._outage:
                self._outage = outage
            self._version = version
        return self._outage


async def metrics_handler(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS].registry)
    worker = request.app.get(WORKER)
    if worker is not None and worker.count > 1 and request.query.get("worker") != "self":
        texts, answered = await gather_metrics(worker, body)
        body = (
            merge(texts)
            + (
                "# HELP switchboard_workers_scraped Worker processes whose metrics this scrape"
                " includes.\n# TYPE switchboard_workers_scraped gauge\n"
                f"switchboard_workers_scraped {answered}\n"
                "# HELP switchboard_workers Worker processes configured.\n"
                f"# TYPE switchboard_workers gauge\nswitchboard_workers {worker.count}\n"
            ).encode()
        )
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})
