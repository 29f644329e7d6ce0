"""The front door with its self-help layer wired to a real community simulator and a
real redis-server (on a free port), in-process on 127.0.0.1, for integration tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from prometheus_client import CollectorRegistry

from cache.web import SELF_HELP, SELF_HELP_APP, SelfHelp
from failover.server import runner_for
from failover.settings import load_settings
from kernel.clock import Clock
from sims.callcenter import CallCenterSim
from sims.community import CommunitySim
from switchboard.app import create_app
from tests.support.redis import RedisServer
from tests.support.stack import FAST_HEALTH, NO_SHEDDING, listen_loopback, wait_for


@dataclass(frozen=True, slots=True, kw_only=True)
class HelpStack:
    url: str
    ops_url: str  # /status, /api/v1/status, /metrics, /admin (failover/opsport.py)
    app: web.Application
    community: CommunitySim
    redis: RedisServer | None
    callcenter: CallCenterSim

    @property
    def self_help(self) -> SelfHelp:
        return self.app[SELF_HELP_APP][SELF_HELP]


@asynccontextmanager
async def help_stack(
    tmp: Path,
    *,
    redis: RedisServer | None,
    community: CommunitySim,
    extra: str = "",
    server: str = "",
    warm: bool = True,
    token: str | None = None,
    snapshot: Path | None = None,
    clock: Clock | None = None,
    origin_timeout_ms: int = 300,
    before_serving: Callable[[web.Application], None] | None = None,
) -> AsyncIterator[HelpStack]:
    """`extra`: more TOML after [selfhelp] (keys of it, or more sections); `server`:
    more keys of [server] (e.g. trusted_proxies, to tell clients apart by
    X-Forwarded-For from 127.0.0.1); `clock`: the app's (default: the system's);
    `origin_timeout_ms`: how long a request to the community site may take;
    `before_serving`: a test's change to the app before the runner is built."""
    callcenter = CallCenterSim(name="solo")
    await callcenter.start()
    runner: web.AppRunner | None = None
    try:
        config = tmp / "switchboard.toml"
        redis_part = f'[redis]\nurl = "{redis.url}"\n' if redis is not None else ""
        config.write_text(
            '[server]\nport = 0\ndata_dir = "."\n'
            + server
            + FAST_HEALTH
            + redis_part
            + f'[selfhelp]\norigin = "{community.url}"\norigin_timeout_ms = {origin_timeout_ms}\n'
            + f'snapshot_path = "{snapshot or tmp / "selfhelp.snapshot"}"\n'
            + extra
            + f'[[callcenters]]\nname = "solo"\nurl = "{callcenter.url}"\n'
        )
        env = {} if "[overload]" in extra else dict(NO_SHEDDING)
        if token:
            env["SWITCHBOARD_ADMIN_TOKEN"] = token
        app = create_app(load_settings(config, env=env), registry=CollectorRegistry(), clock=clock)
        if before_serving is not None:
            before_serving(app)
        runner = runner_for(app, shutdown_timeout=1.0)
        await runner.setup()
        port, ops_port = await listen_loopback(runner, app)
        stack = HelpStack(
            url=f"http://127.0.0.1:{port}",
            ops_url=f"http://127.0.0.1:{ops_port}",
            app=app,
            community=community,
            redis=redis,
            callcenter=callcenter,
        )
        if warm:
            await wait_for(stack.self_help.runtime.started.is_set, within=20, what="warm-up")
        yield stack
    finally:
        if runner is not None:
            await runner.cleanup()
        await callcenter.stop()


@asynccontextmanager
async def help_world(
    tmp: Path, *, warm: bool = True, clock: Clock | None = None,
    before_serving: Callable[[web.Application], None] | None = None,
) -> AsyncIterator[HelpStack]:  # fmt: skip
    """`help_stack` with its own redis-server and community simulator, all under `tmp`:
    the whole world the customer pages' tests need."""
    (tmp / "stack").mkdir()
    async with (
        RedisServer(tmp / "redis") as redis,
        CommunitySim() as community,
        help_stack(
            tmp / "stack",
            redis=redis,
            community=community,
            warm=warm,
            clock=clock,
            before_serving=before_serving,
        ) as s,  # fmt: skip
    ):
        yield s
