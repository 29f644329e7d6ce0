"""The merged `/metrics` of a real 2-worker front door across a worker's crash (no merged
counter goes down) and across a failover (counted once, not once per worker)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest_asyncio
from prometheus_client.parser import text_string_to_metric_families

from sims.callcenter import CallCenterSim
from tests.e2e.test_workers import children
from tests.support.frontdoor import FrontDoorProcess, FrontDoors
from tests.support.redis import RedisServer
from tests.support.stack import wait_for
from tests.support.workers import two_workers

Series = tuple[str, tuple[tuple[str, str], ...]]
SUPPORT_200 = ("switchboard_requests_total",
               (("code", "200"), ("destination", "primary"), ("route", "support")))  # fmt: skip
TO_SELF_HELP = ("switchboard_failover_transitions_total", (("destination", "self-help"),))
PRIMARY_DOWN = ("switchboard_health_transitions_total", (("backend", "primary"), ("state", "down")))
FAILOVER_SECONDS = ("switchboard_failover_seconds_total", ())
ACTIVE = ("switchboard_failover_active", ())
SCRAPED = ("switchboard_workers_scraped", ())
TIMEOUT = aiohttp.ClientTimeout(total=5)


@pytest_asyncio.fixture
async def world(tmp_path: Path) -> AsyncIterator[tuple[FrontDoorProcess, CallCenterSim]]:
    sim = CallCenterSim(name="primary")
    await sim.start()
    try:
        async with RedisServer(tmp_path / "redis") as redis, FrontDoors(tmp_path) as doors:
            tables = "[health]\ninterval_ms = 200\ntimeout_ms = 1000\nhealthy_threshold = 1\n"
            tables += "unhealthy_threshold = 2\n[routing]\nhold_down_ms = 0\n"
            door = await doors.start("fd", lambda port: two_workers(
                port, redis_url=redis.url, center_url=sim.url, sections=tables))  # fmt: skip
            async with aiohttp.ClientSession() as s:
                await door.wait_ready(s)
            await wait_for(lambda: both_scraped(door), within=20, what="both workers serving")
            yield door, sim
    finally:
        await sim.stop()


async def scrape(url: str, query: str = "") -> tuple[dict[Series, float], dict[Series, str]]:
    """Samples, and each sample's family type."""
    connector = aiohttp.TCPConnector(force_close=True)  # a new connection: any worker
    async with (
        aiohttp.ClientSession(connector=connector, timeout=TIMEOUT) as s,
        s.get(f"{url}/metrics{query}") as r,
    ):
        text = await r.text()
    values, types = {}, {}
    for family in text_string_to_metric_families(text):
        for x in family.samples:
            key = (x.name, tuple(sorted(x.labels.items())))
            values[key], types[key] = x.value, family.type
    return values, types


async def both_scraped(door: FrontDoorProcess) -> bool:
    return (await scrape(door.ops_url))[0].get(SCRAPED, 0) == 2


async def own_count(pid: int) -> float:
    """What worker `pid` alone counted, from its own Unix socket (its command line has
    the workers' folder and its index)."""
    argv = (Path("/proc") / str(pid) / "cmdline").read_text().split("\0")
    peers, index = argv[argv.index("--peers") + 1], argv[argv.index("--worker") + 1]
    connector = aiohttp.UnixConnector(path=f"{peers}/worker-{index.split('/')[0]}.sock")
    async with (
        aiohttp.ClientSession(connector=connector, timeout=TIMEOUT) as s,
        s.get("http://worker/metrics?worker=self") as r,
    ):
        text = await r.text()
    return sum(
        x.value for f in text_string_to_metric_families(text) for x in f.samples
        if (x.name, tuple(sorted(x.labels.items()))) == SUPPORT_200
    )  # fmt: skip


async def test_no_merged_counter_goes_down_when_a_worker_is_killed_and_started_again(
    world: tuple[FrontDoorProcess, CallCenterSim],
) -> None:
    door, _ = world
    workers = sorted(children(door.proc.pid))
    assert len(workers) == 2
    connector = aiohttp.TCPConnector(force_close=True)  # spread over both workers
    async with aiohttp.ClientSession(connector=connector, timeout=TIMEOUT) as s:
        sent = 0
        while sent < 40 or min([await own_count(pid) for pid in workers]) == 0:
            assert sent < 400, "the kernel gave every connection to one worker"
            async with s.get(f"{door.url}/support/echo/{sent}", allow_redirects=False) as r:
                assert r.status == 200
            sent += 1
    before, types = await scrape(door.ops_url)
    assert before[SUPPORT_200] == sent
    os.kill(workers[0], signal.SIGKILL)
    last, scrapes = before, 0

    async def monotonic_until_both_back() -> bool:
        nonlocal last, scrapes
        now, _ = await scrape(door.ops_url)
        scrapes += 1
        counters = (k for k in last if types[k] in ("counter", "histogram", "summary"))
        down = {k: (last[k], now.get(k)) for k in counters if now.get(k, 0.0) < last[k]}
        assert not down, f"merged counters went down after a worker's crash: {down}"
        last = now
        back = len(children(door.proc.pid) - {workers[0]}) == 2
        return back and now.get(SCRAPED) == 2 and scrapes >= 5

    await wait_for(monotonic_until_both_back, within=30, what="the worker back, no counter down")
    assert last[SUPPORT_200] == sent  # the killed worker's requests still count


async def test_a_failover_with_two_workers_counts_once(
    world: tuple[FrontDoorProcess, CallCenterSim],
) -> None:
    door, sim = world
    started = time.monotonic()
    sim.set_health(status="down")

    async def in_failover_for_3s() -> bool:
        now, _ = await scrape(door.ops_url)
        return now.get(ACTIVE) == 1 and now.get(FAILOVER_SECONDS, 0) >= 3

    await wait_for(in_failover_for_3s, within=20, what="3 s of failover counted")
    now, _ = await scrape(door.ops_url)
    assert now[FAILOVER_SECONDS] <= time.monotonic() - started  # not once per worker
    sim.set_health(status="ok")

    async def back() -> bool:
        return (await scrape(door.ops_url))[0].get(ACTIVE) == 0

    await wait_for(back, within=20, what="back to the call center")
    ended = time.monotonic()
    after, _ = await scrape(door.ops_url)
    assert after[TO_SELF_HELP] == 1
    assert after[PRIMARY_DOWN] == 1
    assert 3 <= after[FAILOVER_SECONDS] <= ended - started
