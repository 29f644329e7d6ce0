"""Several front doors (replicas) in-process on 127.0.0.1 sharing one real redis-server
and one real call center, for the shared-health tests (issue 15).

Each replica reaches the call center through a `FaultProxy` of its own, so a test can
break one replica's path alone (`replica.fault`), or the call center for all of them
(`replicas.sim.set_mode("down")`). Customers are real HTTP clients (`Customers`); when
each replica moved is read from its pool's timeline (`RouteChange.at`, one monotonic
clock for all, since they share this process).
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry

from failover.pool import Pool
from failover.routing import RouteChange
from failover.server import runner_for
from failover.settings import Settings, load_settings
from failover.shared_health import SharedHealth
from failover.shared_wiring import SHARED_HEALTH
from sims.callcenter import CallCenterSim
from switchboard.app import CLOCK, POOL, create_app
from tests.support.faultproxy import FaultProxy
from tests.support.stack import NO_SHEDDING, listen_loopback, wait_for

CENTER = "primary"
TIMEOUT = aiohttp.ClientTimeout(total=5, sock_connect=2, sock_read=5)


@dataclass(frozen=True, slots=True, kw_only=True)
class Replica:
    name: str
    url: str
    ops_url: str  # /api/v1/status, /metrics (failover/opsport.py)
    app: web.Application
    fault: FaultProxy  # this replica's own path to the call center
    settings: Settings

    @property
    def pool(self) -> Pool:
        return self.app[POOL]

    @property
    def shared(self) -> SharedHealth | None:
        return self.app.get(SHARED_HEALTH)

    @property
    def destination(self) -> str | None:
        return self.pool.snapshot().router.current

    def moved_to(self, target: str, *, after: float) -> float | None:
        """When this replica's routing first went to `target` at or after `after`."""
        return next(
            (e.at for e in self.pool.snapshot().timeline
             if isinstance(e, RouteChange) and e.target == target and e.at >= after),
            None,
        )  # fmt: skip


@dataclass(slots=True, kw_only=True)
class Replicas:
    sim: CallCenterSim
    members: list[Replica]

    def __iter__(self) -> Iterator[Replica]:
        return iter(self.members)

    def all_at(self, target: str) -> bool:
        return all(r.destination == target for r in self.members)

    def moves(self, target: str, *, after: float) -> list[float | None]:
        return [r.moved_to(target, after=after) for r in self.members]

    def connected(self, peers: int) -> bool:
        """Every replica is linked to Redis and hears `peers` others."""
        return all(
            r.shared is not None and r.shared.connected
            and len(r.shared.book.peers(now=r.app[CLOCK].monotonic())) == peers
            for r in self.members
        )  # fmt: skip


def spread(moments: list[float | None]) -> float:
    """Last minus first; every replica must have moved."""
    assert all(m is not None for m in moments), moments
    known = [m for m in moments if m is not None]
    return max(known) - min(known)


@asynccontextmanager
async def running_replicas(
    tmp: Path, *, redis_url: str, count: int = 3, extra: str = "", sharing: bool = True,
    stagger: float = 0.0, token: str | None = None,
) -> AsyncIterator[Replicas]:  # fmt: skip
    """`count` front doors on one call center (named CENTER) and one Redis, started
    `stagger` seconds apart (so that their probes are out of phase, as in production)."""
    async with AsyncExitStack() as stack:
        sim = CallCenterSim(name=CENTER)
        await sim.start()
        stack.push_async_callback(sim.stop)
        members: list[Replica] = []
        for i in range(count):
            await asyncio.sleep(stagger if i else 0.0)
            fault = FaultProxy("127.0.0.1", int(sim.url.rsplit(":", 1)[1]))
            await fault.start()
            stack.push_async_callback(fault.stop)
            home = tmp / f"r{i}"
            home.mkdir(parents=True)
            config = home / "switchboard.toml"
            config.write_text(
                f'[server]\nhost = "127.0.0.1"\nport = 0\ndata_dir = "."\n\n{extra}\n'
                f'[[callcenters]]\nname = "{CENTER}"\nurl = "{fault.url}"\n'
            )
            env = (
                NO_SHEDDING
                | {
                    "SWITCHBOARD_REDIS__URL": redis_url,
                    "SWITCHBOARD_SHARING__ENABLED": str(sharing).lower(),
                    "SWITCHBOARD_SHARING__REPLICA_ID": f"r{i}",
                    "SWITCHBOARD_CALLBACKS__ENABLED": "false",
                }
                | ({"SWITCHBOARD_ADMIN_TOKEN": token} if token else {})
            )
            settings = load_settings(config, env=env)
            app = create_app(settings, registry=CollectorRegistry())
            runner = runner_for(app, shutdown_timeout=1.0)
            await runner.setup()
            stack.push_async_callback(runner.cleanup)
            port, ops = await listen_loopback(runner, app)
            members.append(Replica(name=f"r{i}", url=f"http://127.0.0.1:{port}", app=app,
                                   ops_url=f"http://127.0.0.1:{ops}", fault=fault,
                                   settings=settings))  # fmt: skip
        replicas = Replicas(sim=sim, members=members)
        await wait_for(lambda: replicas.all_at(CENTER), within=10, what="all on the call center")
        if sharing:
            await wait_for(lambda: replicas.connected(count - 1), within=10, what="peers heard")
        yield replicas


@dataclass(slots=True, kw_only=True)
class Customers:
    """One customer per replica asking /support/billing every `every` seconds; every
    answer's status counted per replica, and where a 303 sent them."""

    replicas: Replicas
    every: float = 0.02
    codes: dict[str, Counter[int]] = field(default_factory=dict)
    locations: set[str] = field(default_factory=set)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Customers:
        session = aiohttp.ClientSession()
        for r in self.replicas:
            self.codes[r.name] = Counter()
            self._tasks.append(asyncio.create_task(self._run(session, r), name=f"cust-{r.name}"))
        self._session = session
        return self

    async def _run(self, session: aiohttp.ClientSession, r: Replica) -> None:
        while True:
            try:
                async with session.get(f"{r.url}/support/billing", allow_redirects=False,
                                       timeout=TIMEOUT) as resp:  # fmt: skip
                    await resp.read()
                    self.codes[r.name][resp.status] += 1
                    if resp.status == 303:
                        self.locations.add(resp.headers["Location"])
            except (aiohttp.ClientError, TimeoutError):
                self.codes[r.name][0] += 1  # no answer at all: as bad as a 5xx
            await asyncio.sleep(self.every)

    async def __aexit__(self, *exc: object) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    def failures(self) -> dict[str, dict[int, int]]:
        bad = {n: {c: k for c, k in codes.items() if c >= 500 or c == 0}
               for n, codes in self.codes.items()}  # fmt: skip
        return {n: b for n, b in bad.items() if b}
