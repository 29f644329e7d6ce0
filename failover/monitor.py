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

from failover.health import ProbeResult
from failover.pool import Event, Pool
from failover.probes import probe
from kernel.clock import Clock
from kernel.tasks import cancel_and_wait

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
        self._was_ready = False

    @property
    def ready(self) -> bool:
        """Every call center answered (or failed) a first probe and no loop has died.
        Once true, a call center added by a reload does not make it false again while
        its first probe is under way: the load balancer must not pull a replica that
        is serving (issue 17)."""
        running = bool(self._tasks) and all(not t.done() for t in self._tasks.values())
        if running and not self._was_ready:
            self._was_ready = self._probed >= set(self._urls)
        return running and self._was_ready

    def start(self) -> None:
        for name in self._urls:
            self._start(name)

    def _start(self, name: str) -> None:
        self._tasks[name] = asyncio.create_task(self._run(name), name=f"probe:{name}")

    async def reconfigure(self, health_urls: Mapping[str, str], schedule: ProbeSchedule) -> None:
        """A configuration reload (issue 17): stop the probes of call centers removed
        (or whose health URL changed), start those added (or changed), at once. The new
        schedule applies to every loop from its next round on."""
        urls = dict(health_urls)
        gone = [n for n in self._urls if urls.get(n) != self._urls[n]]
        await cancel_and_wait(*(self._tasks.pop(n) for n in gone if n in self._tasks))
        self._probed.difference_update(gone)
        self._schedule = schedule
        fresh = [n for n in urls if self._urls.get(n) != urls[n]]
        self._urls = urls
        for name in fresh:  # called on a running monitor only (failover/reload.py)
            self._start(name)

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
        while True:
            s = self._schedule  # read each round: a reload may change it
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
