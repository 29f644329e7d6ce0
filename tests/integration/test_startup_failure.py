"""A front door whose start fails part-way closes what it had already opened (issue 16,
lifecycle: switchboard/app.py `_resources`, one exit stack). The last part to start, the
HAProxy agent-check listener, is made to fail by taking its port first; by then the
Redis client, the switches, the self-help runtime, the callback runtime and the probe
loops are running. Real redis-server and call center on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from failover.settings import load_settings
from sims.callcenter import CallCenterSim
from switchboard.app import create_app
from tests.support.redis import RedisServer


async def connected_clients(url: str) -> int:
    client = Redis.from_url(url)
    try:
        info = await client.info("clients")
        return int(info["connected_clients"]) - 1  # less this one
    finally:
        await client.aclose()


async def test_a_start_that_fails_part_way_closes_what_it_opened(tmp_path: Path) -> None:
    taken = socket.create_server(("127.0.0.1", 0))  # the agent-check port, already in use
    agent_port = taken.getsockname()[1]
    center = CallCenterSim(name="primary")
    await center.start()
    try:
        async with RedisServer(tmp_path / "redis") as redis:
            config = tmp_path / "switchboard.toml"
            config.write_text(
                f'[server]\nport = 0\ndata_dir = "."\n[redis]\nurl = "{redis.url}"\n'
                f'[dataplane]\nmode = "haproxy"\nagent_host = "127.0.0.1"\n'
                f'agent_port = {agent_port}\nstats_socket = "{tmp_path / "haproxy.sock"}"\n'
                f'[[callcenters]]\nname = "primary"\nurl = "{center.url}"\n'
            )
            app = create_app(load_settings(config), registry=CollectorRegistry())
            runner = web.AppRunner(app)
            with pytest.raises(OSError, match="address already in use"):
                await runner.setup()
            await asyncio.sleep(0.3)  # a probe loop left running would probe again by now

            left = sorted(
                t.get_name() for t in asyncio.all_tasks() if t is not asyncio.current_task()
            )
            assert left == [], f"still running after the failed start: {left}"
            assert await connected_clients(redis.url) == 0
            await runner.cleanup()
    finally:
        taken.close()
        await center.stop()
