"""A front door whose start fails part-way closes what it had already opened (issue 16,
lifecycle: switchboard/app.py `_resources`, one exit stack). The last part to start, the
HAProxy agent-check listener, is made to fail by taking its port first; by then the
Redis client, the switches, the self-help runtime, the callback runtime and the probe
loops are running. Real redis-server and call center on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import subprocess
from pathlib import Path

import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from failover.settings import load_settings
from sims.callcenter import CallCenterSim
from sims.harness import frontdoor
from sims.harness.ports import free_port
from sims.harness.procs import Processes, clean_env
from sims.harness.redis import start_redis
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


@pytest.mark.timeout(120)
@pytest.mark.parametrize("taken_key", ["server", "ops"])
def test_a_port_in_use_stops_the_process_naming_its_key(tmp_path: Path, taken_key: str) -> None:
    """`switchboard serve` with its customers' or ops port taken exits 1 and says which key;
    before, three background tasks outlived asyncio.Runner's cancel and the process stayed
    up with no listener (found by the harness's start-again-on-another-port)."""
    taken = socket.create_server(("127.0.0.1", 0))
    ports = {"server": free_port(), "ops": free_port(), taken_key: taken.getsockname()[1]}
    try:
        with Processes(tmp_path) as procs:
            redis = start_redis(procs, tmp_path)
            config = tmp_path / "switchboard.toml"
            config.write_text(frontdoor.config(
                port=ports["server"], ops_port=ports["ops"], redis_port=redis.port,
                centers=[("primary", "http://127.0.0.1:9")], data_dir=tmp_path))  # fmt: skip
            run = subprocess.run(  # noqa: S603 - our own module, loopback only
                frontdoor.door_argv(config), env=clean_env(), capture_output=True, text=True,
                timeout=90, check=False,
            )  # fmt: skip
    finally:
        taken.close()
    assert run.returncode == 1, run.stderr[-2000:]
    assert f"{taken_key}.host, {taken_key}.port in {config}" in run.stderr
