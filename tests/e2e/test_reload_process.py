"""SIGHUP reloads a real front door process (issue 17): rewrite its config file, send
SIGHUP, read /api/v1/status on the ops listener. Before, SIGHUP killed the process."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from sims.callcenter import CallCenterSim
from tests.support.frontdoor import FrontDoorProcess, FrontDoors
from tests.support.redis import RedisServer
from tests.support.stack import wait_for

TOKEN = "reload-e2e-token-" + "x" * 20
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def config(
    port: int,
    ops_port: int | None,
    centers: list[tuple[str, str]],
    extra: str = "",
    server: str = "",
) -> str:
    """`ops_port` None at start: `FrontDoors.start` adds its own [ops]; a rewrite must
    name the same one (the ops listener is restart-only: a change would be refused)."""
    text = f"""
[server]
host = "127.0.0.1"
port = {port}
{server}
{extra}
[health]
interval_ms = 100
timeout_ms = 1000
healthy_threshold = 1
unhealthy_threshold = 2
jitter = 0.0
[routing]
hold_down_ms = 0
"""
    if ops_port is not None:
        text += f"[ops]\nport = {ops_port}\n"
    for priority, (name, url) in enumerate(centers, start=1):
        text += f'\n[[callcenters]]\nname = "{name}"\nurl = "{url}"\npriority = {priority}\n'
    return text


async def status(door: FrontDoorProcess) -> dict[str, Any]:
    async with aiohttp.ClientSession() as s, s.get(f"{door.ops_url}/api/v1/status",
                                                   headers=AUTH) as r:  # fmt: skip
        assert r.status == 200
        body: dict[str, Any] = await r.json()
        return body


@asynccontextmanager
async def sims(*names: str) -> AsyncIterator[dict[str, CallCenterSim]]:
    started = {n: CallCenterSim(name=n) for n in names}
    try:
        for sim in started.values():
            await sim.start()
        yield started
    finally:
        for sim in started.values():
            await sim.stop()


async def test_sighup_reloads_the_file_under_load_and_the_process_lives_on(
    tmp_path: Path,
) -> None:
    async with (
        sims("a", "b") as cc,
        FrontDoors(tmp_path, env={"SWITCHBOARD_ADMIN_TOKEN": TOKEN}) as doors,
    ):
        a_only = [("a", cc["a"].url)]
        door = await doors.start("fd", lambda port: config(port, None, a_only))
        statuses: list[int] = []
        stop = asyncio.Event()

        async def customer(session: aiohttp.ClientSession) -> None:
            while not stop.is_set():
                async with session.get(f"{door.url}/support/echo", allow_redirects=False) as r:
                    await r.read()
                    statuses.append(r.status)

        async with aiohttp.ClientSession() as s:
            await door.wait_ready(s)
            before = await status(door)
            assert before["config"]["generation"] == 1
            load = [asyncio.create_task(customer(s), name=f"customer-{i}") for i in range(3)]
            try:
                await wait_for(lambda: len(statuses) >= 20, within=10, what="load")
                # b, preferred, added by a SIGHUP
                door.config.write_text(
                    config(door.port, door.ops_port, [("b", cc["b"].url), ("a", cc["a"].url)])
                )
                door.proc.send_signal(signal.SIGHUP)

                async def b_in_use() -> bool:
                    return bool((await status(door))["destination"] == "b")

                await wait_for(b_in_use, within=10, what="b in use after SIGHUP")
                served_b = len(statuses)
                await wait_for(lambda: len(statuses) >= served_b + 20, within=10, what="load")
                # an invalid file: kept running on the config in force
                door.config.write_text("[[callcenters]]\nname = 'BAD NAME'\n")
                door.proc.send_signal(signal.SIGHUP)
                await wait_for(lambda: "config reload (SIGHUP): invalid" in door.output(),
                               within=10, what="the invalid reload logged")  # fmt: skip
            finally:
                stop.set()
                await asyncio.wait_for(asyncio.gather(*load), timeout=15)
            after = await status(door)
        assert door.proc.returncode is None, door.output()[-3000:]
        assert set(statuses) == {200}, sorted(set(statuses))
        assert cc["b"].requests_by_path.get("/echo", 0) > 0
        assert after["config"]["generation"] == 2
        assert after["config"]["version"] != before["config"]["version"]
        assert after["config"]["last_reload"]["result"] == "invalid"
        assert [c["name"] for c in after["callcenters"]] == ["b", "a"]
        assert "callcenters" in door.output().split("config reload (SIGHUP): invalid")[1][:2000]


async def test_the_master_forwards_sighup_to_every_worker(tmp_path: Path) -> None:
    async with (
        sims("a", "b") as cc,
        RedisServer(tmp_path / "redis") as redis,
        FrontDoors(tmp_path) as doors,
    ):
        extra = f'[redis]\nurl = "{redis.url}"\n'

        def text(port: int, ops: int | None, centers: list[tuple[str, str]]) -> str:
            return config(port, ops, centers, extra, server="workers = 2")

        door = await doors.start("fd", lambda port: text(port, None, [("a", cc["a"].url)]))
        async with aiohttp.ClientSession() as s:
            await door.wait_ready(s)

        async def reloads_ok() -> float:
            """Reloads applied, summed over the workers; -1 until both answer a scrape."""
            connector = aiohttp.TCPConnector(force_close=True)
            async with aiohttp.ClientSession(connector=connector) as s:
                try:
                    async with s.get(f"{door.ops_url}/metrics") as r:
                        body = await r.text()
                except aiohttp.ClientError:
                    return -1
            samples = {
                (x.name, tuple(sorted(x.labels.items()))): x.value
                for family in text_string_to_metric_families(body)
                for x in family.samples
            }
            if samples.get(("switchboard_workers_scraped", ())) != 2:
                return -1
            return samples.get(("switchboard_config_reloads_total", (("result", "ok"),)), -1)

        await wait_for(lambda: _eq(reloads_ok(), 0), within=15, what="both workers serving")
        door.config.write_text(
            text(door.port, door.ops_port, [("a", cc["a"].url), ("b", cc["b"].url)])
        )
        door.proc.send_signal(signal.SIGHUP)
        # Counters add up across workers: 2 means each worker reloaded once.
        await wait_for(lambda: _eq(reloads_ok(), 2), within=15, what="both workers reloaded")
        assert door.proc.returncode is None
        assert "exited with" not in door.output()  # no worker died of the SIGHUP


async def _eq(value: Any, expected: float) -> bool:
    return bool(await value == expected)
