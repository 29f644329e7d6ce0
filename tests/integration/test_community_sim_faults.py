"""Integration tests for the community simulator's fault modes, control port and CLI."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from typing import Any

import aiohttp
import pytest

from sims.community import CommunitySim, Mode
from tests.integration.test_community_sim_api import TIMEOUT, client, community, get_json
from tests.support.processes import free_port

__all__ = ["client", "community"]  # fixtures, shared with the API tests

SHORT = aiohttp.ClientTimeout(total=0.3, sock_connect=0.3, sock_read=0.3)

# --- fault modes -----------------------------------------------------------------------------


async def test_down_refuses_connections_and_up_serves_again_on_the_same_port(
    community: CommunitySim, client: aiohttp.ClientSession
) -> None:
    url = community.url
    await community.set_mode("down")
    with pytest.raises(aiohttp.ClientConnectorError):
        await get_json(client, f"{url}/latest.json")
    await community.set_mode("up")
    assert community.url == url
    status, _ = await get_json(client, f"{url}/latest.json")
    assert status == 200


async def test_slow_delays_every_answer(
    community: CommunitySim, client: aiohttp.ClientSession
) -> None:
    await community.set_mode("slow", delay_ms=200)
    started = time.monotonic()
    status, _ = await get_json(client, f"{community.url}/categories.json")
    assert status == 200
    assert 0.2 <= time.monotonic() - started < 1.5


async def test_error_answers_with_the_status_and_count_limits_it_to_the_next_requests(
    community: CommunitySim, client: aiohttp.ClientSession
) -> None:
    await community.set_mode("error", status=503, count=2)
    statuses = []
    for _ in range(3):
        async with client.get(f"{community.url}/latest.json") as resp:
            statuses.append(resp.status)
    assert statuses == [503, 503, 200]
    assert community.settings.mode is Mode.UP


async def test_hang_never_answers_until_the_mode_changes(
    community: CommunitySim, client: aiohttp.ClientSession
) -> None:
    await community.set_mode("hang")
    with pytest.raises(asyncio.TimeoutError):
        async with client.get(f"{community.url}/latest.json", timeout=SHORT):
            pass
    fetch = asyncio.create_task(get_json(client, f"{community.url}/categories.json"))
    for _ in range(100):
        if community.requests_for("/categories.json"):
            break
        await asyncio.sleep(0.01)
    assert not fetch.done()
    await community.set_mode("up")
    status, _ = await asyncio.wait_for(fetch, 1.0)
    assert status == 200


async def test_control_port_switches_modes_and_reports_state(
    community: CommunitySim, client: aiohttp.ClientSession
) -> None:
    change = {"mode": "error", "status": 500, "count": 1}
    status, state = await _post(client, f"{community.control_url}/_sim/mode", change)
    assert status == 200
    assert (state["mode"], state["status"], state["count"], state["remaining"]) == (
        "error",
        500,
        1,
        1,
    )
    async with client.get(f"{community.url}/latest.json") as resp:
        assert resp.status == 500
    status, state = await get_json(client, f"{community.control_url}/_sim/state")
    assert (state["mode"], state["requests_total"], state["topics"]) == ("up", 1, 300)
    status, state = await _post(client, f"{community.control_url}/_sim/reset", {})
    assert state["requests_total"] == 0


async def test_control_port_works_while_the_service_is_down(
    community: CommunitySim, client: aiohttp.ClientSession
) -> None:
    await _post(client, f"{community.control_url}/_sim/mode", {"mode": "down"})
    assert not community.listening
    status, state = await _post(client, f"{community.control_url}/_sim/mode", {"mode": "up"})
    assert (status, state["listening"]) == (200, True)


@pytest.mark.parametrize(
    "change",
    [
        {"mode": "flap"},
        {"mode": "slow", "status": 500},
        {"mode": "error", "status": 200},
        {"mode": "error", "count": 0},
        {"mode": "up", "count": 1},
        {"mode": "slow", "delay_ms": -5},
    ],
)
async def test_control_port_rejects_unknown_modes_and_params(
    community: CommunitySim, client: aiohttp.ClientSession, change: dict[str, object]
) -> None:
    status, body = await _post(client, f"{community.control_url}/_sim/mode", change)
    assert status == 400
    assert body["error"]
    assert community.settings.mode is Mode.UP


async def _post(
    client: aiohttp.ClientSession, url: str, body: dict[str, object]
) -> tuple[int, Any]:
    async with client.post(url, json=body) as resp:
        return resp.status, await resp.json()


async def test_cli_serves_on_the_given_ports_until_sigterm() -> None:
    port, control_port = free_port(), free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "sims.community", "--port", str(port),
        "--control-port", str(control_port), "--topics", "40",
        stdout=asyncio.subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 10)).decode()
        assert f"service http://127.0.0.1:{port}" in line
        assert f"control http://127.0.0.1:{control_port}" in line
        async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
            status, body = await get_json(session, f"http://127.0.0.1:{port}/latest.json?page=1")
            assert (status, len(body["topic_list"]["topics"])) == (200, 13)  # 40 + 3, 30 a page
            status, state = await get_json(session, f"http://127.0.0.1:{control_port}/_sim/state")
            assert (status, state["topics"]) == (200, 40)
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 5) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
