"""The one composition root: `create_app(settings, *, clock=, registry=)`.

Everything with a lifetime (client sessions, the probe tasks, the Redis client) is
opened in `cleanup_ctx` and closed there in reverse order, so a SIGTERM drains
in-flight requests and then stops the probes cleanly.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from redis.asyncio import Redis

from cache import web as selfhelp
from failover import admin
from failover import web as frontdoor
from failover.breaker import OutlierPolicy
from failover.clock import Clock, SystemClock
from failover.health import HealthPolicy, ProbeResult, classify
from failover.monitor import Monitor, ProbeSchedule
from failover.pool import CallCenterSpec, Ejected, Event, HealthChange, Pool, SwitchChanged
from failover.probes import new_probe_session
from failover.proxy import Proxy, ProxyPolicy, new_proxy_session
from failover.redisconn import connect, reachable
from failover.routing import SELF_HELP, RouteChange
from failover.selfhelp_wiring import build_self_help
from failover.settings import Settings
from monitoring.http import observed
from monitoring.metrics import Metrics, PoolCollector

log = logging.getLogger("switchboard")

POOL: Final = web.AppKey("pool", Pool)
METRICS: Final = web.AppKey("metrics", Metrics)
SETTINGS: Final = web.AppKey("settings", Settings)
CLOCK: Final = web.AppKey("clock", Clock)
REDIS: Final = web.AppKey("redis", Redis)


def health_policy(settings: Settings) -> HealthPolicy:
    h = settings.health
    return HealthPolicy(
        healthy_threshold=h.healthy_threshold,
        unhealthy_threshold=h.unhealthy_threshold,
        max_queue_wait_seconds=h.max_queue_wait_seconds,
    )


def build_pool(settings: Settings) -> Pool:
    o = settings.outlier
    specs = [
        CallCenterSpec(name=c.name, priority=c.priority, hours=c.schedule, emergency=c.emergency)
        for c in settings.callcenters
    ]
    return Pool(
        specs,
        health=health_policy(settings),
        outlier=OutlierPolicy(
            consecutive_5xx=o.consecutive_5xx,
            consecutive_local_failures=o.consecutive_local_failures,
            base_ejection_time=o.base_ejection_time_ms / 1000,
            max_ejection_time=o.max_ejection_time_ms / 1000,
        ),
        hold_down=settings.routing.hold_down_ms / 1000,
    )


class EventSink:
    """Logs and counts what the pool reports: one line per transition, with its reason."""

    def __init__(self, metrics: Metrics, health: HealthPolicy) -> None:
        self._metrics = metrics
        self._health = health
        self.on_route_change: Callable[[RouteChange], None] = lambda _: None

    def __call__(self, events: Sequence[Event]) -> None:
        m = self._metrics
        for event in events:
            if isinstance(event, HealthChange):
                t = event.transition
                m.health_transitions_total.labels(event.callcenter, t.target.value).inc()
                log.warning(
                    "health %s: %s -> %s (%s)", event.callcenter, t.source, t.target, t.reason
                )
            elif isinstance(event, Ejected):
                m.ejections_total.labels(event.callcenter).inc()
                log.warning("ejected %s: %s", event.callcenter, event.ejection.reason)
            elif isinstance(event, RouteChange):
                m.failover_transitions_total.labels(event.target).inc()
                self.on_route_change(event)
                log.warning(
                    "routing: %s -> %s (%s)", event.source or "start", event.target, event.reason
                )
            elif isinstance(event, SwitchChanged):
                log.warning("switch %s %s = %s", event.callcenter or "*", event.switch, event.value)

    def probe(self, name: str, result: ProbeResult, events: Sequence[Event]) -> None:
        self._metrics.probe_duration.labels(name).observe(result.latency)
        obs = classify(result, self._health)
        self._metrics.probes_total.labels(name, obs.value).inc()
        self(events)


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    registry: CollectorRegistry | None = None,
) -> web.Application:
    clock = clock or SystemClock()
    registry = registry or CollectorRegistry()
    pool = build_pool(settings)
    metrics = Metrics(registry)
    registry.register(PoolCollector(pool, now=clock.monotonic, wall=clock.wall))
    sink = EventSink(metrics, health_policy(settings))

    app = web.Application(client_max_size=1024**2)
    app[POOL] = pool
    app[METRICS] = metrics
    app[SETTINGS] = settings
    app[CLOCK] = clock

    async def resources(app: web.Application) -> AsyncIterator[None]:
        p = settings.proxy
        policy = ProxyPolicy(
            connect_timeout=p.connect_timeout_ms / 1000,
            read_timeout=p.read_timeout_ms / 1000,
            budget=p.request_budget_ms / 1000,
            buffer_bytes=p.buffer_bytes,
            trusted_proxies=tuple(settings.server.trusted_proxies),
        )
        async with (
            new_proxy_session(max_connections=p.max_connections) as proxy_session,
            new_probe_session() as probe_session,
        ):
            monitor = Monitor(
                pool,
                {c.name: c.url.rstrip("/") + c.health_path for c in settings.callcenters},
                schedule=ProbeSchedule(
                    interval=settings.health.interval_ms / 1000,
                    timeout=settings.health.timeout_ms / 1000,
                    jitter=settings.health.jitter,
                ),
                session=probe_session,
                clock=clock,
                observer=sink.probe,
            )
            redis = connect(settings.redis.url) if settings.redis.url else None
            if redis is not None:
                app[REDIS] = redis
            helper = build_self_help(
                settings, redis=redis, session=proxy_session, metrics=metrics,
                outage=OutageView(pool, clock),
            )  # fmt: skip
            app[selfhelp.SELF_HELP] = helper
            sink.on_route_change = lambda e: helper.runtime.follow_routing(
                into_self_help=e.target == SELF_HELP
            )
            app[frontdoor.FRONT_DOOR] = frontdoor.FrontDoor(
                pool=pool,
                proxy=Proxy(proxy_session, {c.name: c.url for c in settings.callcenters}, policy),
                policy=policy,
                clock=clock,
                metrics=metrics,
                monitor=monitor,
                observe=sink,
                note_topic=helper.service.note_arrival,
            )
            await helper.runtime.start()
            monitor.start()
            try:
                yield
            finally:
                await monitor.stop()
                await helper.runtime.stop()
                if redis is not None:
                    await redis.aclose(close_connection_pool=True)

    app.cleanup_ctx.append(resources)
    wrap = observed(metrics)
    frontdoor.add_routes(app, wrap)
    admin.add_routes(app, settings.admin.token, wrap)
    selfhelp.add_routes(app, wrap)
    app.router.add_get("/metrics", wrap("metrics", metrics_handler))
    app.router.add_get("/api/v1/status", wrap("status_api", status_handler))
    return app


def _wall_of(t: float, clock: Clock) -> datetime | None:
    if not math.isfinite(t):
        return None
    return clock.wall() - timedelta(seconds=clock.monotonic() - t)


def outage_of(pool: Pool, clock: Clock) -> selfhelp.Outage:
    router = pool.snapshot().router
    if router.current != SELF_HELP:
        return selfhelp.Outage(active=False)
    return selfhelp.Outage(active=True, since=_wall_of(router.since, clock), reason=router.reason)


class OutageView:
    """`outage_of`, computed once per pool change: self-help pages ask on every request,
    and the same object back lets them key cached pages on it by identity."""

    def __init__(self, pool: Pool, clock: Clock) -> None:
        self._pool = pool
        self._clock = clock
        self._version = -1
        self._outage = selfhelp.Outage(active=False)

    def __call__(self) -> selfhelp.Outage:
        version = self._pool.snapshot().version
        if version != self._version:
            outage = outage_of(self._pool, self._clock)
            if outage != self._outage:
                self._outage = outage
            self._version = version
        return self._outage


async def metrics_handler(request: web.Request) -> web.Response:
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def status_handler(request: web.Request) -> web.Response:
    pool, clock = request.app[POOL], request.app[CLOCK]
    snap = pool.snapshot()
    now, wall = clock.monotonic(), clock.wall()

    def at(t: float | None) -> str | None:
        moment = None if t is None else _wall_of(t, clock)
        return None if moment is None else moment.isoformat()

    callcenters: list[dict[str, Any]] = []
    for member, view in zip(snap.members, snap.views, strict=True):
        probe = member.last_probe
        callcenters.append(
            {
                "name": view.name,
                "priority": view.priority,
                "health": view.health.value,
                "availability": view.availability(now=now, wall=wall).value,
                "health_since": at(member.machine.since) if member.machine.checks else None,
                "ejected_until": at(view.breaker.ejected_until),
                "ejections": view.breaker.ejections_total,
                "emergency": view.emergency,
                "drained": view.drained,
                "last_probe": None
                if probe is None
                else {
                    "at": at(member.last_probe_at),
                    "latency_ms": round(probe.latency * 1000, 1),
                    "http_status": probe.http_status,
                    "status": probe.reported_status,
                    "agents_available": probe.agents_available,
                    "queue_wait_seconds": probe.queue_wait_seconds,
                    "detail": probe.detail,
                },
            }
        )
    redis = request.app.get(REDIS)
    body = {
        "destination": snap.router.current,
        "failover_active": snap.router.current == SELF_HELP,
        "since": at(snap.router.since) if snap.router.current else None,
        "reason": snap.router.reason,
        "override": None
        if snap.override is None
        else {"kind": snap.override.kind.value, "callcenter": snap.override.callcenter},
        "callcenters": callcenters,
        "redis": {"configured": redis is not None, "reachable": await reachable(redis)}
        if redis is not None
        else {"configured": False},
        "timeline": [_event_json(e, at) for e in snap.timeline[-50:]],
    }
    return web.json_response(body)


def _event_json(event: Event, at: Any) -> dict[str, Any]:
    if isinstance(event, HealthChange):
        t = event.transition
        return {
            "at": at(t.at),
            "kind": "health",
            "callcenter": event.callcenter,
            "from": t.source.value,
            "to": t.target.value,
            "reason": t.reason,
        }
    if isinstance(event, Ejected):
        return {"kind": "ejected", "callcenter": event.callcenter, "reason": event.ejection.reason}
    if isinstance(event, RouteChange):
        return {
            "at": at(event.at),
            "kind": "route",
            "from": event.source,
            "to": event.target,
            "reason": event.reason,
        }
    return {
        "at": at(event.at),
        "kind": "switch",
        "callcenter": event.callcenter,
        "switch": event.switch,
        "value": event.value,
    }
