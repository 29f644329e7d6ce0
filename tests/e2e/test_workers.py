"""Several worker processes on one port (`server.workers`): metrics right across them,
a crashed worker started again, SIGTERM stopping them all. Real processes on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families

from sims.callcenter import CallCenterSim
from tests.support.frontdoor import FrontDoorProcess, FrontDoors
from tests.support.redis import RedisServer
from tests.support.stack import wait_for
from tests.support.workers import two_workers

REQUESTS = 120


@pytest_asyncio.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[FrontDoorProcess, CallCenterSim]]:
    sim = CallCenterSim(name="primary")
    await sim.start()
    try:
        async with RedisServer(tmp_path / "redis") as redis, FrontDoors(tmp_path) as doors:
            health = "[health]\ninterval_ms = 200\ntimeout_ms = 2000\nhealthy_threshold = 1\n"
            health += "unhealthy_threshold = 3\n"
            door = await doors.start("fd", lambda port: two_workers(
                port, redis_url=redis.url, center_url=sim.url, sections=health))  # fmt: skip
            async with aiohttp.ClientSession() as s:
                await door.wait_ready(s)

            async def both_up() -> bool:
                return (await scrape(door.ops_url)).get(("switchboard_workers_scraped", ()), 0) == 2

            await wait_for(both_up, within=10, what="both workers serving")
            yield door, sim
    finally:
        await sim.stop()


def children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


async def scrape(url: str, query: str = "") -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    connector = aiohttp.TCPConnector(force_close=True)  # a new connection: any worker
    async with (
        aiohttp.ClientSession(connector=connector) as s,
        s.get(f"{url}/metrics{query}") as r,
    ):
        text = await r.text()
    return {
        (x.name, tuple(sorted(x.labels.items()))): x.value
        for f in text_string_to_metric_families(text)
        for x in f.samples
    }


def served(metrics: dict[tuple[str, tuple[tuple[str, str], ...]], float]) -> float:
    return sum(
        v for (name, labels), v in metrics.items()
        if name == "switchboard_requests_total" and ("route", "support") in labels
    )  # fmt: skip


async def test_metrics_count_every_request_whichever_worker_took_it_or_the_scrape(
    world: tuple[FrontDoorProcess, CallCenterSim],
) -> None:
    door, sim = world
    assert len(children(door.proc.pid)) == 2
    connector = aiohttp.TCPConnector(force_close=True)  # spread over both workers
    async with aiohttp.ClientSession(connector=connector) as s:
        for i in range(REQUESTS):
            async with s.get(f"{door.url}/support/echo/{i}", allow_redirects=False) as resp:
                assert resp.status == 200, door.output()[-3000:]
    own = [served(await scrape(door.ops_url, "?worker=self")) for _ in range(6)]
    assert max(own) <= REQUESTS
    for _ in range(6):  # each scrape may land on either worker
        metrics = await scrape(door.ops_url)
        assert served(metrics) == REQUESTS
        assert metrics[("switchboard_workers_scraped", ())] == 2
        assert metrics[("switchboard_backend_up", (("backend", "primary"),))] == 1
    await wait_for(  # the simulator counts a request as it finishes it
        lambda: sum(sim.requests_by_path.get(f"/echo/{i}", 0) for i in range(REQUESTS))
        == REQUESTS, within=5, what="every request at the call center once",
    )  # fmt: skip


async def test_a_worker_killed_is_started_again_while_the_other_serves(
    world: tuple[FrontDoorProcess, CallCenterSim],
) -> None:
    door, _ = world
    before = children(door.proc.pid)
    victim = min(before)
    os.kill(victim, signal.SIGKILL)
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as s:
        for i in range(20):  # customers keep being served meanwhile
            async with s.get(f"{door.url}/support/echo/during-{i}") as resp:
                assert resp.status == 200
    await wait_for(lambda: len(children(door.proc.pid) - {victim}) == 2, within=10,
                   what="the worker started again")  # fmt: skip

    async def both_scraped() -> bool:
        return (await scrape(door.ops_url)).get(("switchboard_workers_scraped", ()), 0) == 2

    await wait_for(both_scraped, within=20, what="both workers in the metrics again")
    assert "exited with -9; starting it again" in door.output()


async def test_sigterm_stops_every_worker_and_the_master_exits_0(
    world: tuple[FrontDoorProcess, CallCenterSim],
) -> None:
    door, _ = world
    workers = children(door.proc.pid)
    door.proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(door.proc.wait(), 15) == 0
    assert all(gone(pid) for pid in workers)  # reaped by the master before it exited


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


async def test_the_workers_hear_each_other_and_share_their_health(
    world: tuple[FrontDoorProcess, CallCenterSim],
) -> None:
    door, _ = world

    async def linked() -> bool:
        series = await scrape(door.ops_url)
        return (series.get(("switchboard_shared_health_connected", ()), 0) == 1
                and series.get(("switchboard_shared_health_peers", ()), 0) == 1)  # fmt: skip

    # Each worker is a replica of its own (host:pid), hearing the other through Redis.
    await wait_for(linked, within=10, what="both workers linked, each hearing the other")


async def test_workers_drain_and_exit_when_the_master_is_killed(
    world: tuple[FrontDoorProcess, CallCenterSim],
) -> None:
    """kill -9 of the master: no worker keeps serving the inherited socket unsupervised
    (PR_SET_PDEATHSIG, and the parent-pid watch behind it)."""
    door, _ = world
    workers = children(door.proc.pid)
    assert len(workers) == 2
    door.proc.kill()
    await door.proc.wait()
    await wait_for(
        lambda: all(gone(pid) or zombie(pid) for pid in workers),
        within=10,
        what="both workers exited after their master was killed",
    )
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as s:
        try:
            async with s.get(f"{door.url}/healthz", timeout=aiohttp.ClientTimeout(total=2)):
                served = True
        except aiohttp.ClientError:
            served = False
    assert not served, "the port still answers with no master"


def zombie(pid: int) -> bool:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True
