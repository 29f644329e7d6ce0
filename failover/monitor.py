"""The probe loop: one named task per call center feeding the pool.

`interval` runs start to start, spread by +-`jitter` so that replicas and call
centers do not probe in lock-step (Envoy's `interval_jitter_percent`). The first probe
goes out at once, so a fresh front door knows where to send customers within one
`timeout`.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import aiohttp

from failover.clock import Clock
from failover.health import ProbeResult
from failover.pool import Event, Pool
from failover.probes import probe
from failover.tasks import cancel_and_wait

log = logging.getLogger(__name__)

ProbeObserver = Callable[[str, ProbeResult, Sequence[Event]], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class ProbeSchedule:
    interval: float
    timeout: float
    jitter: float = 0.1


class Monitor:
    def __init__(
        self,
        pool: Pool,
        health_urls: Mapping[str, str],
        *,
        schedule: ProbeSchedule,
        session: aiohttp.ClientSession,
        clock: Clock,
        observer: ProbeObserver,
        rng: random.Random | None = None,
    ) -> None:
        self._pool = pool
        self._urls = dict(health_urls)
        self._schedule = schedule
        self._session = session
        self._clock = clock
        self._observer = observer
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not a secret
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._probed: set[str] = set()

    @property
    def ready(self) -> bool:
        """Every call center answered (or failed) a first probe and no loop has died."""
        running = bool(self._tasks) and all(not t.done() for t in self._tasks.values())
        return running and self._probed == set(self._urls)

    def start(self) -> None:
        for name in self._urls:
            self._tasks[name] = asyncio.create_task(self._run(name), name=f"probe:{name}")

    async def stop(self) -> None:
        await cancel_and_wait(*self._tasks.values())
        self._tasks.clear()

    async def probe_once(self, name: str) -> ProbeResult:
        s = self._schedule
        result = await probe(self._session, self._urls[name], budget=s.timeout, clock=self._clock)
        now = self._clock.monotonic()
        events = self._pool.observe_probe(name, result, now=now)
        self._pool.settle(now=now)
        # Route now rather than at the next customer request, so that the routing
        # state, its log line and `failover_active` follow the probes even when idle.
        _, change = self._pool.route(now=now, wall=self._clock.wall())
        if change is not None:
            events.append(change)
        self._probed.add(name)
        self._observer(name, result, events)
        return result

    async def _run(self, name: str) -> None:
        s = self._schedule
        while True:
            started = self._clock.monotonic()
            try:
                await self.probe_once(name)
            except asyncio.CancelledError:
                raise
            except Exception:
                # A bug in an observer must not silently stop the probing of a call center.
                log.exception("probe loop of %s failed; going on", name)
            spread = 1.0 + self._rng.uniform(-s.jitter, s.jitter)
            elapsed = self._clock.monotonic() - started
            await asyncio.sleep(max(0.0, s.interval * spread - elapsed))
