"""`/api/v1/status`: what the front door sees and does, as JSON.

Each call center's health and last probe, where customers are sent and why since
when, an override in force, Redis, the callback backlog, and the recent timeline.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web

from failover.appkeys import CALLBACKS, CLOCK, POOL, REDIS
from failover.callbacks.runtime import CallbackRuntime
from failover.clock import Clock
from failover.pool import Ejected, Event, HealthChange
from failover.redisconn import reachable
from failover.routing import SELF_HELP, RouteChange


def wall_of(t: float, clock: Clock) -> datetime | None:
    """The wall-clock moment of monotonic time `t` (None for +-inf: never)."""
    if not math.isfinite(t):
        return None
    return clock.wall() - timedelta(seconds=clock.monotonic() - t)


async def status_handler(request: web.Request) -> web.Response:
    pool, clock = request.app[POOL], request.app[CLOCK]
    snap = pool.snapshot()
    now, wall = clock.monotonic(), clock.wall()

    def at(t: float | None) -> str | None:
        moment = None if t is None else wall_of(t, clock)
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
        "callbacks": _callbacks_json(request.app.get(CALLBACKS), wall.timestamp()),
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


def _callbacks_json(runtime: CallbackRuntime | None, now: float) -> dict[str, Any]:
    if runtime is None:
        return {"enabled": False}
    s = runtime.sample
    body: dict[str, Any] = {"enabled": True, "durability": runtime.durability}
    if s is not None:
        body |= {
            "pending": s.pending + s.spooled,
            "spooled": s.spooled,
            "dead_lettered": s.dead,
            "oldest_pending_age_s": None
            if s.oldest_created_at is None
            else round(max(0.0, now - s.oldest_created_at), 1),
            "redis_ok": s.redis_ok,
        }
    return body
