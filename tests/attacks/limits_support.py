"""Front doors for the limits attack tests (tests/attacks/test_limits_*.py): one or more
replicas in-process on 127.0.0.1, sharing one real redis-server and one call-center
simulator (and a community simulator, for self-help), behind a "trusted proxy" on
127.0.0.1 so that each test names its clients with X-Forwarded-For."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry, generate_latest
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from cache.web import SELF_HELP, SELF_HELP_APP, SelfHelp
from failover.callbacks.stream import STREAM
from failover.redisconn import connect
from failover.settings import load_settings
from sims.callcenter import CallCenterSim
from sims.community import CommunitySim
from switchboard.app import METRICS, create_app
from tests.support.stack import FAST_HEALTH, wait_for

TIMEOUT = aiohttp.ClientTimeout(total=20, sock_connect=5, sock_read=20)


def client(address: str) -> dict[str, str]:
    """Headers of a request from `address`, as the trusted proxy on 127.0.0.1 sends it."""
    return {"X-Forwarded-For": address}


@dataclass(frozen=True, slots=True, kw_only=True)
class Door:
    url: str
    app: web.Application

    @property
    def self_help(self) -> SelfHelp:
        return self.app[SELF_HELP_APP][SELF_HELP]

    def metric(self, name: str) -> float:
        """A sample's value: `name` with its labels as exported; 0 when not exported."""
        text = generate_latest(self.app[METRICS].registry).decode()
        for line in text.splitlines():
            if line.startswith((name + " ", name + "{")) and line.rsplit(" ", 1)[0] == name:
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def server_errors(self) -> float:
        text = generate_latest(self.app[METRICS].registry).decode()
        return sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("switchboard_requests_total{") and 'code="5' in line
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class World:
    doors: list[Door]
    callcenter: CallCenterSim
    community: CommunitySim | None


@asynccontextmanager
async def front_doors(
    tmp: Path,
    *,
    redis_url: str,
    replicas: int = 1,
    community: CommunitySim | None = None,
    limits: str = "",
) -> AsyncIterator[World]:
    """`replicas` front doors sharing Redis; `limits`: lines of [limits]. Redis gets 1 s
    for a limit check (the default is 100 ms): these tests are about limits shared
    through a healthy Redis, which a loaded machine must not turn into per-process ones
    (tests/integration/test_limits_redis.py covers a slow or absent Redis)."""
    callcenter = CallCenterSim(name="solo")
    await callcenter.start()
    runners: list[web.AppRunner] = []
    try:
        doors = []
        for i in range(replicas):
            folder = tmp / f"door-{i}"
            folder.mkdir()
            selfhelp = (
                f'[selfhelp]\norigin = "{community.url}"\norigin_timeout_ms = 500\n'
                if community is not None
                else ""
            )
            (folder / "switchboard.toml").write_text(
                '[server]\nport = 0\ndata_dir = "."\ntrusted_proxies = ["127.0.0.1/32"]\n'
                + FAST_HEALTH
                + f'[redis]\nurl = "{redis_url}"\n'
                + selfhelp
                + f'[callbacks]\nconsumer = "door-{i}"\n'
                + f"[limits]\nredis_budget_ms = 1000\n{limits}\n"
                + f'[[callcenters]]\nname = "solo"\nurl = "{callcenter.url}"\n'
            )
            app = create_app(
                load_settings(folder / "switchboard.toml", env={}), registry=CollectorRegistry()
            )
            runner = web.AppRunner(app, shutdown_timeout=1.0)
            await runner.setup()
            runners.append(runner)
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            doors.append(Door(url=f"http://127.0.0.1:{runner.addresses[0][1]}", app=app))
        if community is not None:
            for door in doors:
                started = door.self_help.runtime.started
                await wait_for(started.is_set, within=30, what="self-help warm-up")
        yield World(doors=doors, callcenter=callcenter, community=community)
    finally:
        for runner in runners:
            await runner.cleanup()
        await callcenter.stop()


async def queued(redis_url: str) -> list[str]:
    """Tickets of every callback in the Redis stream, oldest first."""
    client = connect(redis_url)
    try:
        entries = cast(list[tuple[bytes, dict[bytes, bytes]]], await client.xrange(STREAM))
    except ResponseError:
        return []
    finally:
        await client.aclose(close_connection_pool=True)
    return [json.loads(fields[b"payload"])["ticket"] for _, fields in entries]


@asynccontextmanager
async def redis_client(url: str) -> AsyncIterator[Redis]:
    client = connect(url)
    try:
        yield client
    finally:
        await client.aclose(close_connection_pool=True)
