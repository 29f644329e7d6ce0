"""A front door and its world, in-process on 127.0.0.1, for integration tests.

Each call center is a real `CallCenterSim` behind a `FaultProxy`, so a test can break
the network (refuse, blackhole, reset, slow) or the application (5xx, hang, degraded).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from aiohttp import web
from prometheus_client import CollectorRegistry

from failover.health import HealthState
from failover.opsport import listen_ops
from failover.pool import HealthChange, Pool
from failover.server import runner_for
from failover.settings import Settings, load_settings
from failover.workers import WorkerInfo
from sims.callcenter import CallCenterSim
from switchboard.app import POOL, create_app
from tests.support.faultproxy import FaultProxy

log = logging.getLogger("tests.stack")

# How many times the front door is started when a first probe fails (see running_stack).
START_TRIES = 3

# Load shedding reacts to event-loop lag, and a stall of the test process (other tests,
# other processes on the machine) is lag: left on, it could pause rankings or stop Redis
# reads in the middle of a test about them. Tests of shedding set [overload] themselves
# (tests/attacks/test_faults_overload.py); the stacks here turn measuring off otherwise.
NO_SHEDDING = {"SWITCHBOARD_OVERLOAD__ENABLED": "false"}

FAST_HEALTH = """
[health]
interval_ms = 50
timeout_ms = 100
healthy_threshold = 2
unhealthy_threshold = 2
jitter = 0.0
"""


@dataclass(frozen=True, slots=True, kw_only=True)
class Center:
    sim: CallCenterSim
    fault: FaultProxy

    @property
    def name(self) -> str:
        return self.sim.name


@dataclass(frozen=True, slots=True, kw_only=True)
class Stack:
    url: str
    ops_url: str  # /status, /api/v1/status, /metrics, /admin (failover/opsport.py)
    app: web.Application
    centers: dict[str, Center]
    settings: Settings
    config: Path | None = None  # the TOML file; POST /admin/reload reads it again

    @property
    def pool(self) -> Pool:
        return self.app[POOL]


def write_config(
    tmp: Path, centers: dict[str, Center], extra: str = FAST_HEALTH, token: str | None = None
) -> Path:
    lines = ['[server]\nhost = "127.0.0.1"\nport = 0\ndata_dir = "."\n', extra]
    for priority, c in enumerate(centers.values(), start=1):
        lines.append(
            f'[[callcenters]]\nname = "{c.name}"\nurl = "{c.fault.url}"\npriority = {priority}\n'
        )
    path = tmp / "switchboard.toml"
    path.write_text("\n".join(lines))
    return path


@asynccontextmanager
async def running_stack(
    tmp: Path, *, names: tuple[str, ...] = ("primary", "backup"), extra: str = FAST_HEALTH,
    token: str | None = None, env: dict[str, str] | None = None, worker: WorkerInfo | None = None,
) -> AsyncIterator[Stack]:  # fmt: skip
    centers: dict[str, Center] = {}
    runner: web.AppRunner | None = None
    try:
        for name in names:
            sim = CallCenterSim(name=name)
            await sim.start()
            fault = FaultProxy("127.0.0.1", int(sim.url.rsplit(":", 1)[1]))
            centers[name] = Center(sim=sim, fault=fault)
            await fault.start()
        overrides = ({} if "[overload]" in extra else NO_SHEDDING) | dict(env or {})
        if token:
            overrides["SWITCHBOARD_ADMIN_TOKEN"] = token
        config = write_config(tmp, centers, extra)
        settings = load_settings(config, env=overrides)
        # A reload reads the file with the same environment overrides (issue 17).
        loader = partial(load_settings, config, env=overrides)
        for attempt in range(1, START_TRIES + 1):
            app = create_app(settings, registry=CollectorRegistry(), loader=loader, worker=worker)
            runner = runner_for(app, shutdown_timeout=1.0)
            await runner.setup()
            port, ops_port = await listen_loopback(runner, app)
            stack = Stack(
                url=f"http://127.0.0.1:{port}", ops_url=f"http://127.0.0.1:{ops_port}", app=app,
                centers=centers, settings=settings, config=config,
            )  # fmt: skip
            await wait_for(partial(_ready, stack), within=5, what="first probes")
            if _first_probes_answered(stack) or attempt == START_TRIES:
                break
            # Every call center is up and passing here, so a failed first probe is a stall
            # of this test process or the machine longer than FAST_HEALTH's 100 ms (seen
            # twice in full runs): it would start the test in self-help, for the 5 s
            # hold-down. Start the front door again rather than fail the test.
            log.warning("stack: a first probe failed on a passing call center; restarting")
            await runner.cleanup()
            runner = None
        yield stack
    finally:
        if runner is not None:
            await runner.cleanup()
        for c in centers.values():
            await c.fault.stop()
            await c.sim.stop()


def _ready(stack: Stack) -> bool:
    return all(m.last_probe is not None for m in stack.pool.snapshot().members)


def _first_probes_answered(stack: Stack) -> bool:
    """No call center went anywhere but UP since the start. (Its last probe is not
    enough: a failed one can already be followed by an answered one, too late.)"""
    return not any(
        isinstance(event, HealthChange) and event.transition.target is not HealthState.UP
        for event in stack.pool.snapshot().timeline
    )


async def listen_loopback(runner: web.BaseRunner, app: web.Application) -> tuple[int, int]:
    """Serve `app` on two free loopback ports, the customers' and the ops listener's
    (failover/opsport.py), as `switchboard serve` does on its configured ones; both."""
    ops_port = await listen_ops(runner, app, "127.0.0.1", 0)
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    port = next(a[1] for a in runner.addresses if a[1] != ops_port)
    return port, ops_port


async def wait_for(
    predicate: Callable[[], bool | Awaitable[bool]], *, within: float, what: str
) -> float:
    """Poll until `predicate` holds; return how long it took. Fails the test on timeout."""
    started = time.monotonic()
    while True:
        result = predicate()
        if not isinstance(result, bool):
            result = await result
        if result:
            return time.monotonic() - started
        if time.monotonic() - started > within:
            raise AssertionError(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.01)
