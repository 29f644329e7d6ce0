"""What the front door sees and does: `/api/v1/status` (JSON) and `/status` (HTML).

Both come from one `gather`: every fact collected once, as JSON-ready values. The JSON
answer is that dict, and the page is a template over the same dict, so the two cannot
drift. Customer outcome first: where customers go, since when and why; an override and
the operator switches; each call center's state and last probe; cache and Redis; the
callback backlog; recent admin actions and the transition timeline, newest first.

Each part is gathered on its own under a time limit: one that fails or hangs (Redis
down, a bug) is named in `unknown` and shows as "unknown" while the rest still shows.
A fault in what the page reports on never makes it a 5xx. Lists are capped at `LIMIT`.

Who sees what: without the admin token, the public view (`failover.statusview`). The
page is failover/status_page.py. Self-help's facts come through `SELF_HELP_FACTS`, which
the composition root sets (switchboard/app.py): cache/ is failover's sibling, not below it.

Errors: none raised to callers; a failing part is logged and listed in `unknown`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import math
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, Final, Protocol

from aiohttp import web

from failover.admin import SWITCHBOARD
from failover.appkeys import CALLBACKS, CLOCK, POOL, REDIS
from failover.callbacks.runtime import CallbackRuntime
from failover.configstate import CONFIG
from failover.pool import Ejected, Event, HealthChange, PoolSnapshot
from failover.redisconn import reachable
from failover.routing import SELF_HELP, Override, RouteChange
from failover.shared_wiring import SHARED_HEALTH
from failover.statusview import viewer
from kernel.clock import Clock
from kernel.overload_monitor import OverloadMonitor

log = logging.getLogger("switchboard.status")

LIMIT: Final = 50  # timeline and audit entries shown
PART_TIMEOUT: Final = 1.5  # s; Redis calls give up sooner (redisconn.SOCKET_TIMEOUT)
NO_STORE: Final = {"Cache-Control": "no-store"}

Json = dict[str, Any]
Stamp = Callable[[float | None], str | None]
ROUTING_UNKNOWN: Final[Json] = dict.fromkeys(
    ("destination", "failover_active", "since", "since_age_s", "reason", "override")
)


class SelfHelpFacts(Protocol):
    """Self-help as the status shows it."""

    def cache(self) -> Json: ...

    @property
    def overload(self) -> OverloadMonitor | None: ...


SELF_HELP_FACTS: Final[web.AppKey[SelfHelpFacts]] = web.AppKey("self_help_facts")


def wall_of(t: float, clock: Clock) -> datetime | None:
    """The wall-clock moment of monotonic time `t` (None for +-inf: never)."""
    if not math.isfinite(t):
        return None
    return clock.wall() - timedelta(seconds=clock.monotonic() - t)


async def gather(app: web.Application) -> Json:
    """Every fact both answers show, from one pool snapshot and one reading of the clock."""
    clock = app[CLOCK]
    snap = app[POOL].snapshot()
    now, wall = clock.monotonic(), clock.wall()

    def at(t: float | None) -> str | None:
        if t is None or not math.isfinite(t):
            return None
        return (wall - timedelta(seconds=now - t)).isoformat()

    unknown: list[str] = []
    parts = {
        "routing": _routing(snap, now, at),
        "switches": _switches(app),
        "callcenters": _callcenters(snap, now, wall, at),
        "redis": _redis(app),
        "cache": _cache(app),
        "overload": _overload(app, at),
        "callbacks": _callbacks(app.get(CALLBACKS), wall.timestamp()),
        "admin_log": _admin_log(app),
        "timeline": _timeline(snap, at),
        "peers": _peers(app),  # issue 15; operator view only (not in statusview's TOP)
    }
    values = await asyncio.gather(*(_part(k, v, unknown) for k, v in parts.items()))
    found = dict(zip(parts, values, strict=True))
    # The routing facts sit at the top level, where JSON clients have always read them.
    facts: Json = {"generated_at": wall.isoformat(), **(found.pop("routing") or ROUTING_UNKNOWN)}
    facts |= found
    # The configuration in force (issue 17): its version changes with each reload.
    facts["config"] = app[CONFIG].describe() if CONFIG in app else None
    facts["unknown"] = sorted(unknown)
    _credit_override(facts)
    return facts


async def _part(name: str, make: Awaitable[Any], unknown: list[str]) -> Any:
    try:
        async with asyncio.timeout(PART_TIMEOUT):
            return await make
    except Exception as exc:  # a status page must show the rest: this part is "unknown"
        log.warning("status: %s unknown: %r", name, exc)
        unknown.append(name)
        return None


async def _routing(snap: PoolSnapshot, now: float, at: Stamp) -> Json:
    router, o = snap.router, snap.override
    return {
        "destination": router.current,
        "failover_active": router.current == SELF_HELP,
        "since": at(router.since) if router.current else None,
        "since_age_s": round(now - router.since, 1) if router.current else None,
        "reason": router.reason,
        "override": None if o is None else _override_json(o),
    }


def _override_json(o: Override) -> Json:
    return {"kind": o.kind.value, "callcenter": o.callcenter, "reason": o.reason, "set_by": None}


async def _switches(app: web.Application) -> Json:
    d = app[SWITCHBOARD].describe()
    return {k: d[k] for k in ("emergency", "drained", "shared", "in_sync")}


async def _callcenters(snap: PoolSnapshot, now: float, wall: datetime, at: Stamp) -> list[Json]:
    out: list[Json] = []
    for member, view in zip(snap.members, snap.views, strict=True):
        probe = member.last_probe
        out.append(
            {
                "name": view.name,
                "priority": view.priority,
                "health": view.health.value,
                "availability": view.availability(now=now, wall=wall).value,
                "health_since": at(member.machine.since) if member.machine.checks else None,
                "ejected": view.breaker.is_ejected(now),
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
                    "failure": None if probe.failure is None else probe.failure.value,
                    "detail": probe.detail,
                },
            }
        )
    return out


async def _redis(app: web.Application) -> Json:
    redis = app.get(REDIS)
    if redis is None:
        return {"configured": False}
    return {"configured": True, "reachable": await reachable(redis)}


async def _cache(app: web.Application) -> Json:
    return app[SELF_HELP_FACTS].cache()


async def _overload(app: web.Application, at: Stamp) -> Json:
    """The load-shedding stage in force and what it was decided from (issue 14)."""
    monitor = app[SELF_HELP_FACTS].overload
    if monitor is None:
        return {"stage": "normal", "level": 0, "measured": False}
    return {
        "stage": monitor.stage.value,
        "level": monitor.stage.level,
        "since": at(monitor.state.since),
        "forced": monitor.policy.forced is not None,
        "measured": monitor.measure,
        "lag_ms": round(monitor.lag * 1000, 1),
        "in_flight": monitor.last.in_flight,
        "capacity": monitor.policy.capacity,
        "recent": [
            {"at": at(t.at), "from": t.source.value, "to": t.target.value, "reason": t.reason}
            for t in reversed(monitor.recent)
        ],
    }


async def _callbacks(runtime: CallbackRuntime | None, now: float) -> Json:
    if runtime is None:
        return {"enabled": False}
    s = runtime.sample
    body: Json = {"enabled": True, "durability": runtime.durability}
    body |= dict.fromkeys(
        ("pending", "spooled", "dead_lettered", "oldest_pending_age_s", "redis_ok")
    )  # not sampled yet
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


async def _peers(app: web.Application) -> Json | None:
    shared = app.get(SHARED_HEALTH)
    return None if shared is None else shared.describe()


async def _admin_log(app: web.Application) -> list[Json]:
    return [dataclasses.asdict(e) for e in await app[SWITCHBOARD].recent(LIMIT)]


async def _timeline(snap: PoolSnapshot, at: Stamp) -> list[Json]:
    return [_event_json(e, at) for e in reversed(snap.timeline[-LIMIT:])]


def _event_json(event: Event, at: Stamp) -> Json:
    if isinstance(event, HealthChange):
        t = event.transition
        return {"at": at(t.at), "kind": "health", "callcenter": event.callcenter,
                "from": t.source.value, "to": t.target.value, "reason": t.reason}  # fmt: skip
    if isinstance(event, Ejected):
        # The pool does not record when an ejection began; its end is what an SRE needs.
        return {"at": None, "kind": "ejected", "callcenter": event.callcenter,
                "until": at(event.ejection.until), "reason": event.ejection.reason}  # fmt: skip
    if isinstance(event, RouteChange):
        return {"at": at(event.at), "kind": "route", "from": event.source, "to": event.target,
                "reason": event.reason}  # fmt: skip
    return {"at": at(event.at), "kind": "switch", "callcenter": event.callcenter,
            "switch": event.switch, "value": event.value}  # fmt: skip


def _credit_override(facts: Json) -> None:
    """Who set the override in force: the newest override action in the audit log."""
    override, entries = facts["override"], facts["admin_log"]
    if not override or not entries:
        return
    entry = next((e for e in entries if e["action"] == "override"), None)
    if entry is not None and not entry["target"].startswith("automatic"):
        override["set_by"] = {k: entry[k] for k in ("actor", "at", "remote", "replica")}


async def status_handler(request: web.Request) -> web.Response:
    if isinstance(view := viewer(request), web.Response):
        return view
    try:
        body = view(await gather(request.app))
    except Exception as exc:  # never a 5xx for what we report on; say what is unknown
        log.exception("status: gathering failed")
        body = {"unknown": ["all"], "error": type(exc).__name__}
    return web.json_response(body, headers=NO_STORE)
