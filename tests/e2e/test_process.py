"""The front door as a real process: `python -m failover serve --config FILE`.

A `CallCenterSim` runs in the test's own event loop on loopback as its only call center;
the front door is a child process on a free port. Every process is stopped in a fixture.
"""

from __future__ import annotations

import asyncio
import signal
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from sims.callcenter import CallCenterSim
from tests.support.processes import clean_env, free_port, stop_process
from tests.support.stack import wait_for

REPO = Path(__file__).resolve().parents[2]
GRACE_MS = 3000
SLOW_MS = 2000  # under GRACE_MS, with room for a slow machine either side
TIMEOUT = aiohttp.ClientTimeout(total=10, sock_connect=2, sock_read=10)


@dataclass(frozen=True, slots=True, kw_only=True)
class FrontDoorProcess:
    proc: asyncio.subprocess.Process
    url: str
    port: int
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def config(port: int, callcenter_url: str) -> str:
    # Probe timeout above the slow mode's delay: the call center stays UP while slow, so
    # the request under test is proxied to it rather than sent to self-help.
    return f"""
[server]
host = "127.0.0.1"
port = {port}
shutdown_grace_ms = {GRACE_MS}
[ops]
port = 0

[health]
interval_ms = 100
timeout_ms = {SLOW_MS * 2}
healthy_threshold = 1
unhealthy_threshold = 2
jitter = 0.0

[[callcenters]]
name = "primary"
url = "{callcenter_url}"
"""


@pytest.fixture
async def callcenter() -> AsyncIterator[CallCenterSim]:
    sim = CallCenterSim(name="primary")
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


@pytest.fixture
async def front_door(tmp_path: Path, callcenter: CallCenterSim) -> AsyncIterator[FrontDoorProcess]:
    port = free_port()
    path = tmp_path / "switchboard.toml"
    path.write_text(config(port, callcenter.url))
    log = tmp_path / "front-door.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "failover", "serve", "--config", str(path),
            stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out,
            env=clean_env(), cwd=REPO,
        )  # fmt: skip
    try:
        yield FrontDoorProcess(proc=proc, url=f"http://127.0.0.1:{port}", port=port, log=log)
    finally:
        await stop_process(proc, grace=GRACE_MS / 1000 + 2)


async def wait_ready(fd: FrontDoorProcess, session: aiohttp.ClientSession) -> None:
    async def ready() -> bool:
        if fd.proc.returncode is not None:
            raise AssertionError(f"front door exited {fd.proc.returncode}:\n{fd.output()}")
        try:
            async with session.get(f"{fd.url}/readyz", timeout=TIMEOUT) as resp:
                return resp.status == 200
        except aiohttp.ClientConnectionError:
            return False  # not listening yet

    await wait_for(ready, within=20, what="/readyz to answer 200")


async def refused(port: int) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 2)
    except ConnectionRefusedError:
        return True
    except ConnectionResetError:
        # The SYN met the listener as it closed (taken into its backlog, then reset): not
        # refused yet; the next look is.
        return False
    writer.close()
    await writer.wait_closed()
    return False


async def test_readyz_answers_200_once_the_first_probes_ran(
    front_door: FrontDoorProcess, callcenter: CallCenterSim
) -> None:
    async with aiohttp.ClientSession() as s:
        await wait_ready(front_door, s)
        assert callcenter.requests_by_path.get("/health", 0) >= 1
        async with s.get(f"{front_door.url}/readyz", timeout=TIMEOUT) as resp:
            assert resp.status == 200
            assert await resp.json() == {"ready": True}
        async with s.get(f"{front_door.url}/support/billing", timeout=TIMEOUT) as resp:
            assert (resp.status, resp.headers["X-Served-By"]) == (200, "primary")


async def test_sigterm_drains_the_request_in_flight_then_exits_0_and_refuses_new_connections(
    front_door: FrontDoorProcess, callcenter: CallCenterSim
) -> None:
    async with aiohttp.ClientSession() as s:
        await wait_ready(front_door, s)
        await callcenter.set_mode("slow", delay_ms=SLOW_MS)

        async def customer() -> tuple[int, str, bytes]:
            url = f"{front_door.url}/support/router/setup"
            async with s.get(url, allow_redirects=False, timeout=TIMEOUT) as resp:
                return resp.status, resp.headers.get("X-Served-By", ""), await resp.read()

        in_flight = asyncio.create_task(customer(), name="customer-in-flight")
        await wait_for(
            lambda: callcenter.requests_by_path.get("/router/setup", 0) >= 1,
            within=5,
            what="the request reaches the call center",
        )
        assert not in_flight.done()
        front_door.proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        # Draining: the listener is closed at once (well before the call center answers,
        # at 2 s), the request in flight goes on.
        await wait_for(lambda: refused(front_door.port), within=1.0, what="listener closed")
        assert not in_flight.done()
        status, served_by, body = await in_flight
        assert (status, served_by) == (200, "primary")
        assert b"Setting up your router" in body
        code = await asyncio.wait_for(front_door.proc.wait(), GRACE_MS / 1000 + 2)
        took = time.monotonic() - signalled
        assert code == 0, front_door.output()
        assert took < GRACE_MS / 1000, f"exited {took:.2f} s after SIGTERM"
        assert "draining" in front_door.output()
    assert await refused(front_door.port)
