"""The one composition root: `create_app(settings, *, clock=, registry=)`. It joins the
front door (failover/) and self-help (cache/), which never import each other
(docs/architecture.md "Layers").

Everything with a lifetime (client sessions, the probe tasks, the Redis client) is
opened in `cleanup_ctx` and closed there in reverse order, so a SIGTERM drains
in-flight requests and then stops the probes cleanly.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from functools import partial

from aiohttp import ClientSession, web
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from cache import api as selfhelp_api
from cache import bulletin_route
from cache import web as selfhelp
from failover import admin
from failover import web as frontdoor
from failover.admission import InFlight
from failover.appkeys import (
    AHEAD,
    CALLBACKS,
    CLOCK,
    DATAPLANE,
    METRICS,
    POOL,
    REDIS,
    SETTINGS,
    WORKER,
)
from failover.callbacks.intake import INTAKE
from failover.callbacks.runtime import CallbackRuntime
from failover.callbacks.wiring import build_callbacks, replica_name
from failover.configstate import CONFIG, ConfigState, Live, reload_handler
from failover.dataplane import DataPlane
from failover.eventsink import EventSink, prime_series
from failover.limits_wiring import ClientOf, build_limiter, client_of
from failover.metrics_endpoint import metrics_handler
from failover.monitor import Monitor
from failover.openapi import openapi_handler
from failover.opsport import OPS_PORTS, ops_only
from failover.policies import (
    build_pool,
    health_policy,
    outlier_policy,
    policies_of,
    probe_schedule,
    proxy_policy,
)
from failover.pool_metrics import PoolCollector
from failover.probes import new_probe_session
from failover.proxy import Proxy, new_proxy_session
from failover.redisconn import RedisWatch, connect
from failover.routing import SELF_HELP
from failover.settings import Settings, load_settings
from failover.shared_wiring import install_shared_health
from failover.status import SELF_HELP_FACTS, status_handler
from failover.status_page import status_page
from failover.switches import Switches
from failover.version import VERSION
from failover.workers import WorkerInfo
from kernel.clock import Clock, SystemClock
from kernel.limits.limiter import Limiter
from monitoring.callbacks import BacklogCollector, CallbackMetrics
from monitoring.config import ConfigMetrics
from monitoring.degraded import DEGRADED, DegradedMetrics, DiskCollector, OverloadCollector
from monitoring.http import Handler, observed
from monitoring.limits import LimitMetrics
from monitoring.metrics import Metrics
from switchboard import callbacks_web
from switchboard.outage import OutageView
from switchboard.security_headers import PAGES
from switchboard.security_headers import install as install_security_headers
from switchboard.selfhelp_mount import mount
from switchboard.selfhelp_wiring import SelfHelpFacts, build_self_help

log = logging.getLogger("switchboard")

__all__ = ["CALLBACKS", "CLOCK", "METRICS", "POOL", "REDIS", "SETTINGS", "create_app"]


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

    app.cleanup_ctx.append(partial(_resources, sink=sink, callback_metrics=callback_metrics,
                                   limit_metrics=limit_metrics))  # fmt: skip
    install_shared_health(app, sink)  # issue 15: replicas share health (docs/replicas.md)
    wrap = observed(metrics, clock)

    def ops_wrap(route: str, handler: Handler) -> Handler:  # the ops listener only
        return wrap(route, ops_only(handler))

    frontdoor.add_routes(app, wrap)
    admin.add_routes(app, settings.admin.token, ops_wrap)
    help_app = selfhelp.new_app(wrap)
    mount(app, selfhelp.PREFIX, help_app)  # the self-help app, at /help
    # The cached bulletin page, answered by the server before routing (issue 18).
    hot = bulletin_route.hot_ahead(help_app, selfhelp.PREFIX)
    app[AHEAD] = wrap.ahead(bulletin_route.ROUTE, hot)
    selfhelp_api.add_routes(app, wrap)
    callbacks_web.add_routes(app, wrap)
    registry.register(
        BacklogCollector(lambda: app[CALLBACKS].sample if CALLBACKS in app else None,
                         wall=clock.wall)
    )  # fmt: skip
    app[DEGRADED] = DegradedMetrics(registry)
    registry.register(OverloadCollector(
        lambda: sh.runtime.overload if (sh := selfhelp.self_help_of(app)) else None
    ))  # fmt: skip
    registry.register(DiskCollector({  # issue 14: a full disk is a metric, not an outage
        "snapshot": lambda: sh.runtime.disk_state() if (sh := selfhelp.self_help_of(app)) else None,
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
    """Everything with a lifetime, opened in order and closed in reverse through one exit
    stack: a start that fails part-way closes what was already opened (the Redis client,
    the loops already started) before the error goes on."""
    settings, pool, clock, metrics = app[SETTINGS], app[POOL], app[CLOCK], app[METRICS]
    worker = app.get(WORKER)
    policy = proxy_policy(settings)
    async with (
        new_proxy_session(max_connections=settings.proxy.max_connections) as proxy_session,
        new_probe_session() as probe_session,
        contextlib.AsyncExitStack() as opened,
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
            opened.push_async_callback(redis.aclose, close_connection_pool=True)
        # Per-client limits (issue 14): the app's Redis client, shared by the replicas.
        limiter = build_limiter(settings, redis=redis, clock=clock, observer=limit_metrics)
        client = client_of(settings)
        switches = app[admin.SWITCHBOARD] = Switches(
            pool, redis=redis, clock=clock, observe=sink,
            replica=replica_name(settings) + (f"/{worker.suffix}" if worker else ""),
            on_action=lambda action: metrics.admin_actions_total.labels(action).inc(),
        )  # fmt: skip
        helper = build_self_help(
            settings, redis=redis, session=proxy_session, metrics=metrics,
            outage=OutageView(pool, clock, partial(switches.message, settings.branding.message)),
            writes_snapshot=worker is None or worker.index == 0,
            limiter=limiter, client_of=client, clock=clock,
            degraded=app[DEGRADED],
            callbacks_enabled=_callbacks_on(settings, redis),
        )  # fmt: skip
        # Under the self-help app's own key; the CSP of this brand's pages under the main
        # app's, for the security-headers hook. Opened and closed here, not in a
        # cleanup_ctx of the self-help app: aiohttp closes a sub-app's after the main
        # app's, when the Redis client its last flush writes through is closed.
        app[selfhelp.SELF_HELP_APP][selfhelp.SELF_HELP], app[PAGES] = helper, helper.page_headers
        app[SELF_HELP_FACTS], app[admin.REWARM] = SelfHelpFacts(helper), helper.runtime.rewarm
        sink.on_route_change = lambda e: helper.runtime.follow_routing(
            into_self_help=e.target == SELF_HELP
        )
        callbacks = _callbacks(app, redis=redis, session=proxy_session,
                               metrics=callback_metrics, limiter=limiter,
                               client_of=client)  # fmt: skip
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
            ipv6_prefix=settings.limits.ipv6_prefix,
            uploads=InFlight(limit=settings.proxy.max_uploads),
            max_body_bytes=settings.proxy.max_body_bytes,
            body_timeout=settings.proxy.body_timeout_ms / 1000,
        )
        await switches.start()  # before the first probe routes anyone
        opened.push_async_callback(switches.stop)
        await helper.runtime.start()
        opened.push_async_callback(helper.runtime.stop)
        if callbacks is not None:
            await callbacks.start()
            opened.push_async_callback(callbacks.stop)
        if watch is not None:
            watch.start()
            opened.push_async_callback(watch.stop)
        monitor.start()
        opened.push_async_callback(monitor.stop)
        app[CONFIG].live = Live(
            pool=pool, monitor=monitor, proxy=proxy, sink=sink, metrics=metrics,
            callbacks=callbacks, policies_of=policies_of, clock=clock,
        )  # fmt: skip
        opened.push_async_callback(app[CONFIG].detach)
        # Issue 18: HAProxy carries /support; one worker answers its agent checks.
        if settings.dataplane.mode == "haproxy" and (worker is None or worker.index == 0):
            dataplane = app[DATAPLANE] = DataPlane(
                settings, pool, clock, sink, outlier=outlier_policy(settings)
            )
            await dataplane.start()
            opened.push_async_callback(dataplane.stop)
        yield


def _callbacks(
    app: web.Application,
    *,
    redis: Redis | None,
    session: ClientSession,
    metrics: CallbackMetrics,
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
    app[INTAKE] = intake
    return runtime


def _callbacks_on(settings: Settings, redis: Redis | None) -> bool:
    """Callbacks run when enabled and Redis is configured (a durable queue): self-help
    pages offer the form only then."""
    return settings.callbacks.enabled and redis is not None
