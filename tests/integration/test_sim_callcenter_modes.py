"""Integration tests for the call-center simulator's modes (down, hang, slow, error, flap), CLI."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time

import aiohttp
import pytest

from sims.callcenter import CallCenterSim, Mode
from tests.integration.test_sim_callcenter_endpoints import TIMEOUT, client

__all__ = ["client"]  # the shared per-request-connection fixture

SHORT = aiohttp.ClientTimeout(total=0.3, sock_connect=0.3, sock_read=0.3)


async def wait_for_requests(sim: CallCenterSim, path: str, count: int) -> None:
    """Poll (bounded, 1 s) until the simulator has received ``count`` requests for ``path``."""
    for _ in range(100):
        if sim.requests_by_path.get(path, 0) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{sim.name} never received {count} request(s) for {path}")


async def test_down_mode_refuses_new_connections(
    sim: CallCenterSim, client: aiohttp.ClientSession
) -> None:
    await sim.set_mode("down")
    assert not sim.listening
    with pytest.raises(aiohttp.ClientConnectorError):
        await client.get(f"{sim.url}/health")


async def test_going_back_up_serves_on_the_same_port(
    sim: CallCenterSim, client: aiohttp.ClientSession
) -> None:
    url = sim.url
    await sim.set_mode(Mode.DOWN)
    await sim.set_mode(Mode.UP)
    assert sim.url == url
    async with client.get(f"{url}/health") as resp:
        assert resp.status == 200


async def test_hang_mode_never_answers(sim: CallCenterSim, client: aiohttp.ClientSession) -> None:
    await sim.set_mode("hang")
    with pytest.raises(TimeoutError):
        await client.get(f"{sim.url}/health", timeout=SHORT)
    assert sim.requests_by_path["/health"] == 1


async def test_hanging_request_is_answered_once_mode_returns_to_up(
    sim: CallCenterSim, client: aiohttp.ClientSession
) -> None:
    await sim.set_mode("hang")

    async def fetch() -> int:
        async with client.get(f"{sim.url}/billing") as resp:
            return resp.status

    pending = asyncio.create_task(fetch(), name="test-hanging-fetch")
    await wait_for_requests(sim, "/billing", 1)
    assert not pending.done()
    await sim.set_mode("up")
    assert await pending == 200


async def test_going_down_cuts_hanging_requests(
    sim: CallCenterSim, client: aiohttp.ClientSession
) -> None:
    await sim.set_mode("hang")
    # POST, because aiohttp retries an idempotent request once after a disconnect.
    pending = asyncio.create_task(client.post(f"{sim.url}/echo"), name="test-hanging-post")
    await wait_for_requests(sim, "/echo", 1)
    await sim.set_mode("down")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await pending


async def test_stop_cancels_hanging_handlers(client: aiohttp.ClientSession) -> None:
    sim = CallCenterSim(name="B")
    await sim.start()
    await sim.set_mode("hang")
    pending = asyncio.create_task(client.post(f"{sim.url}/echo"), name="test-hanging-post")
    await wait_for_requests(sim, "/echo", 1)
    await sim.stop()
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await pending


async def test_slow_mode_delays_every_response(
    sim: CallCenterSim, client: aiohttp.ClientSession
) -> None:
    await sim.set_mode("slow", delay_ms=200)
    for path in ["/health", "/billing"]:
        started = time.monotonic()
        async with client.get(f"{sim.url}{path}") as resp:
            assert resp.status == 200
        assert time.monotonic() - started >= 0.2


async def test_error_mode_answers_every_request_with_the_status(
    sim: CallCenterSim, client: aiohttp.ClientSession
) -> None:
    await sim.set_mode("error")
    for path in ["/health", "/billing", "/no/such/page"]:
        async with client.get(f"{sim.url}{path}") as resp:
            assert resp.status == 503
            assert resp.headers["X-Served-By"] == "A"
    await sim.set_mode("error", status=500)
    async with client.post(f"{sim.url}/callbacks", json={}, headers={"Idempotency-Key": "k"}) as r:
        assert r.status == 500
    assert sim.callbacks == ()


async def test_flap_mode_alternates_between_up_and_down(
    sim: CallCenterSim, client: aiohttp.ClientSession
) -> None:
    await sim.set_mode("flap", period_ms=100)
    outcomes: set[str] = set()
    async with asyncio.timeout(1.5):
        while outcomes != {"up", "refused"}:
            try:
                async with client.get(f"{sim.url}/health") as resp:
                    outcomes.add("up" if resp.status == 200 else str(resp.status))
            except aiohttp.ClientConnectorError:
                outcomes.add("refused")
            await asyncio.sleep(0.02)
    await sim.set_mode("up")
    assert sim.listening


async def test_control_port_switches_modes_while_service_is_down(
    sim: CallCenterSim, client: aiohttp.ClientSession
) -> None:
    async with client.post(f"{sim.control_url}/_sim/mode", json={"mode": "down"}) as resp:
        assert resp.status == 200
        assert (await resp.json())["listening"] is False
    with pytest.raises(aiohttp.ClientConnectorError):
        await client.get(f"{sim.url}/health")
    async with client.get(f"{sim.control_url}/_sim/state") as resp:
        state = await resp.json()
    assert (state["mode"], state["name"]) == ("down", "A")
    change = {"mode": "slow", "delay_ms": 50}
    async with client.post(f"{sim.control_url}/_sim/mode", json=change) as resp:
        assert (await resp.json())["delay_ms"] == 50
    async with client.get(f"{sim.url}/health") as resp:
        assert resp.status == 200


@pytest.mark.parametrize(
    "change",
    [{"mode": "sideways"}, {"mode": "slow", "status": 500}, {"mode": "error", "status": 200}, {}],
)
async def test_control_port_rejects_unknown_modes_and_params(
    sim: CallCenterSim, client: aiohttp.ClientSession, change: dict[str, object]
) -> None:
    async with client.post(f"{sim.control_url}/_sim/mode", json=change) as resp:
        assert resp.status == 400
    assert sim.settings.mode is Mode.UP


async def test_cli_serves_until_sigterm_and_prints_its_urls() -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sims.callcenter", "--name", "CLI", "--port", "0",
        "--control-port", "0", stdout=asyncio.subprocess.PIPE, env=env,
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 10)).decode()
        service_url = line.split("service ")[1].split()[0]
        assert "control http://127.0.0.1:" in line
        async with (
            aiohttp.ClientSession(timeout=TIMEOUT) as session,
            session.get(f"{service_url}/health") as resp,
        ):
            assert resp.headers["X-Served-By"] == "CLI"
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 5) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
