"""The configuration in force, and reloading it (issue 17): SIGHUP or `POST /admin/reload`.

`ConfigState` is made before the app freezes (`app[CONFIG]`) and changes in place:
aiohttp's app keys must not be reassigned once the app runs. `app[SETTINGS]` stays the
configuration the process started with (what restart-only parts were built from);
what a reload may change is read through the live objects it reconfigures.

A reload: read and validate the file (as at start: file plus `SWITCHBOARD_*`); on an
error keep everything and say why; refuse it if a restart-only key changed
(`failover.reload`); else build all that can fail (the policies, the proxy's URLs: a
failure there is an "error" and nothing is applied), then apply it in one step with no
await in between, so that no request sees half of it: the pool (members added UNKNOWN
and not serving until probed, removed ones gone, kept ones with their state), the proxy
(URLs and timeouts for attempts that start from now on: one under way keeps its URL),
the callbacks' URLs, the health policy of the metrics, the new call centers' metric
series; then the probe tasks (removed ones stopped, added ones started at once).
Reloads run one at a time.

Outcomes: "ok" (applied, or nothing changed), "invalid", "refused", "error".
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from aiohttp import web

from failover.admin import SWITCHBOARD, authorize
from failover.callbacks.runtime import CallbackRuntime
from failover.eventsink import EventSink, prime_series
from failover.health import HealthPolicy
from failover.monitor import Monitor, ProbeSchedule
from failover.pool import CallCenterSpec, Pool
from failover.proxy import Proxy, ProxyPolicy
from failover.reload import ConfigDiff, diff, fingerprint
from failover.settings import ConfigError, Settings
from failover.target import parse_base
from kernel.breaker import OutlierPolicy
from kernel.clock import Clock
from monitoring.config import ConfigMetrics
from monitoring.metrics import Metrics

log = logging.getLogger("switchboard.config")


@dataclass(frozen=True, slots=True, kw_only=True)
class Policies:
    """What the live objects are built from, derived from settings (`app.policies_of`)."""

    specs: tuple[CallCenterSpec, ...]
    health: HealthPolicy
    outlier: OutlierPolicy
    hold_down: float
    proxy: ProxyPolicy
    schedule: ProbeSchedule
    proxy_bases: Mapping[str, str]
    health_urls: Mapping[str, str]
    callback_urls: Mapping[str, str]


@dataclass(slots=True, kw_only=True)
class Live:
    """The running objects a reload reconfigures (set in `app._resources`)."""

    pool: Pool
    monitor: Monitor
    proxy: Proxy
    sink: EventSink
    metrics: Metrics
    callbacks: CallbackRuntime | None
    clock: Clock
    policies_of: Callable[[Settings], Policies]


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    result: str  # ok, invalid, refused, error
    version: str  # in force after this reload
    generation: int
    detail: str
    change: ConfigDiff = field(default_factory=ConfigDiff)
    problems: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"result": self.result, "version": self.version,
                               "generation": self.generation, "detail": self.detail}  # fmt: skip
        if self.result == "ok":
            out["applied"] = self.change.as_json()
        if self.problems:
            out["problems"] = list(self.problems)
        if self.change.restart_only:
            out["restart_required"] = list(self.change.restart_only)
        return out


STATUS: Final = {"ok": 200, "invalid": 422, "refused": 409, "error": 500}


class ConfigState:
    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock,
        metrics: ConfigMetrics,
        loader: Callable[[], Settings] | None,
    ) -> None:
        self.settings = settings
        self.version = fingerprint(settings)
        self.generation = 1
        self.loaded_at = clock.wall()
        self.last: Outcome | None = None
        self._clock = clock
        self._metrics = metrics
        self._loader = loader
        self._lock = asyncio.Lock()
        self.live: Live | None = None
        metrics.in_force(self.version, self.generation, self.loaded_at.timestamp())

    def describe(self) -> dict[str, Any]:
        """For /status: the version in force, and how the last reload went."""
        out: dict[str, Any] = {
            "version": self.version,
            "generation": self.generation,
            "loaded_at": self.loaded_at.isoformat(),
        }
        if self.last is not None:
            out["last_reload"] = {"result": self.last.result, "detail": self.last.detail}
        return out

    async def detach(self) -> None:
        """At shutdown: after a reload under way, none more (the probes stop next)."""
        async with self._lock:
            self.live = None

    async def reload(self, trigger: str) -> Outcome:
        async with self._lock:
            outcome = await self._reload()
        self.last = outcome
        self._metrics.reloads_total.labels(outcome.result).inc()
        level = logging.WARNING if outcome.result == "ok" else logging.ERROR
        log.log(
            level, "config reload (%s): %s: %s", trigger, outcome.result, outcome.detail,
            extra={"event": "config_reload", "trigger": trigger, "result": outcome.result,
                   "version": outcome.version, "generation": outcome.generation,
                   "problems": list(outcome.problems),
                   "restart_required": list(outcome.change.restart_only),
                   **outcome.change.as_json()},
        )  # fmt: skip
        return outcome

    def _outcome(self, result: str, detail: str, **kw: Any) -> Outcome:
        return Outcome(result=result, version=self.version, generation=self.generation,
                       detail=detail, **kw)  # fmt: skip

    async def _reload(self) -> Outcome:
        live, loader = self.live, self._loader
        if live is None or loader is None:
            why = "not running yet" if loader else "no configuration file to reload from"
            return self._outcome("error", why)
        try:
            new = await asyncio.to_thread(loader)  # a file read: off the event loop
        except ConfigError as exc:
            problems = tuple(exc.problems)
            return self._outcome("invalid", f"{exc.source}: does not validate, nothing "
                                 f"applied: {'; '.join(problems)}", problems=problems)  # fmt: skip
        except Exception as exc:  # never stop serving over a reload
            log.exception("config reload: reading the file failed")
            return self._outcome("error", f"reading the file failed: {type(exc).__name__}")
        change = diff(self.settings, new)
        if change.restart_only:
            keys = ", ".join(change.restart_only)
            return self._outcome(
                "refused", f"nothing applied: these keys need a restart: {keys}", change=change
            )
        if change.empty:
            return self._outcome("ok", "nothing changed")
        try:
            await _apply(live, new, change)
        except Exception as exc:
            log.exception("config reload: applying failed")
            return self._outcome("error", f"applying failed: {type(exc).__name__}")
        self.settings = new
        self.version = fingerprint(new)
        self.generation += 1
        self.loaded_at = self._clock.wall()
        self._metrics.in_force(self.version, self.generation, self.loaded_at.timestamp())
        return self._outcome("ok", f"applied generation {self.generation}", change=change)


async def _apply(live: Live, new: Settings, change: ConfigDiff) -> None:
    # Everything that can fail is built first: a failed reload leaves the old
    # configuration whole (before, a URL the proxy could not parse raised after the pool
    # had taken the new call centers). The policies, then the call centers' URLs as the
    # proxy takes them apart (`Proxy.reconfigure` does the same, so it cannot fail next).
    p = live.policies_of(new)
    for base in p.proxy_bases.values():
        parse_base(base)
    # From here to the monitor, no await: a request sees the old state or the new one.
    events = live.pool.reconfigure(
        p.specs, health=p.health, outlier=p.outlier, hold_down=p.hold_down,
        reset=change.readdressed, now=live.clock.monotonic(),
    )  # fmt: skip
    live.proxy.reconfigure(p.proxy_bases, p.proxy)
    if live.callbacks is not None:
        live.callbacks.dispatcher.client.set_urls(p.callback_urls)
    live.sink.health = p.health
    prime_series(live.metrics, change.added)
    live.sink(events)
    await live.monitor.reconfigure(p.health_urls, p.schedule)


CONFIG: Final = web.AppKey("config", ConfigState)


async def reload_handler(request: web.Request) -> web.Response:
    """`POST /admin/reload`: reload the configuration file; the answer says what changed,
    or why nothing did (422 invalid, 409 a restart-only key changed)."""
    if (denied := authorize(request)) is not None:
        return denied
    outcome = await request.app[CONFIG].reload("admin")
    switches = request.app.get(SWITCHBOARD)
    if switches is not None:  # who asked, in the audit log with the other admin actions
        actor = "".join(ch for ch in request.headers.get("X-Actor", "") if ch.isprintable())
        await switches.note(
            actor=actor[:64].strip() or "unknown", remote=request.remote or "?",
            action="reload", target="config", detail=f"{outcome.result}: {outcome.detail}"[:200],
        )  # fmt: skip
    return web.json_response(outcome.as_json(), status=STATUS[outcome.result])
