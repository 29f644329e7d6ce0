"""Integration tests for the call-center simulator's endpoints: health, pages, callbacks, echo."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio

from sims.callcenter import BIG_BODY, PAGES, CallCenterSim

TIMEOUT = aiohttp.ClientTimeout(total=2.0, sock_connect=1.0, sock_read=1.0)


@pytest_asyncio.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    # A fresh connection per request: these tests are about what a new connection meets.
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector, timeout=TIMEOUT) as session:
        yield session


async def test_health_reports_semantic_state_as_json(
    sim: CallCenterSim, client: aiohttp.ClientSession
) -> None:
    async with client.get(f"{sim.url}/health") as resp:
        assert resp.status == 200
        assert resp.headers["X-Served-By"] == "A"
        body = await resp.json()
    assert body == {"status": "ok", "agents_available": 12, "queue_wait_seconds": 30.0}


async def test_set_health_from_python_and_control_port_changes_health(
    sim: CallCenterSim, client: aiohttp.ClientSession
) -> None:
    sim.set_health(status="degraded", agents_available=1)
    async with client.get(f"{sim.url}/health") as resp:
        assert (await resp.json())["status"] == "degraded"
    change = {"status": "down", "agents_available": 0, "queue_wait_seconds": 900}
    async with client.post(f"{sim.control_url}/_sim/health", json=change) as resp:
        assert resp.status == 200
    async with client.get(f"{sim.url}/health") as resp:
        assert await resp.json() == change


async def test_control_port_rejects_invalid_health(
    sim: CallCenterSim, client: aiohttp.ClientSession
) -> None:
    async with client.post(f"{sim.control_url}/_sim/health", json={"status": "meh"}) as resp:
        assert resp.status == 400
    assert sim.state()["health"] == {
        "status": "ok",
        "agents_available": 12,
        "queue_wait_seconds": 30.0,
    }


@pytest.mark.parametrize("path", sorted(PAGES))
async def test_known_pages_mention_call_center_and_path(
    sim: CallCenterSim, client: aiohttp.ClientSession, path: str
) -> None:
    async with client.get(f"{sim.url}{path}") as resp:
        assert resp.status == 200
        assert resp.content_type == "text/html"
        text = await resp.text()
    assert "A" in text
    assert path in text


async def test_unknown_page_is_404_and_still_served_by_the_call_center(
    sim: CallCenterSim, client: aiohttp.ClientSession
) -> None:
    async with client.get(f"{sim.url}/no/such/page") as resp:
        assert resp.status == 404
        assert resp.headers["X-Served-By"] == "A"


async def test_big_page_streams_one_mebibyte_of_deterministic_bytes(
    sim: CallCenterSim, client: aiohttp.ClientSession
) -> None:
    async with client.get(f"{sim.url}/big") as resp:
        assert resp.status == 200
        body = await resp.read()
    assert len(body) == 1024 * 1024
    assert body == BIG_BODY


async def test_callback_without_idempotency_key_is_rejected(
    sim: CallCenterSim, client: aiohttp.ClientSession
) -> None:
    async with client.post(f"{sim.url}/callbacks", json={"phone": "555"}) as resp:
        assert resp.status == 400
    assert sim.callbacks == ()


async def test_callback_with_non_json_body_is_rejected(
    sim: CallCenterSim, client: aiohttp.ClientSession
) -> None:
    headers = {"Idempotency-Key": "k1"}
    async with client.post(f"{sim.url}/callbacks", data=b"{nope", headers=headers) as resp:
        assert resp.status == 400
    assert sim.callback_counts == {}


async def test_callbacks_are_idempotent_per_key(
    sim: CallCenterSim, client: aiohttp.ClientSession
) -> None:
    statuses = []
    for key, phone in [("k1", "555-1"), ("k2", "555-2"), ("k1", "555-1")]:
        headers = {"Idempotency-Key": key}
        url = f"{sim.url}/callbacks"
        async with client.post(url, json={"phone": phone}, headers=headers) as resp:
            statuses.append(resp.status)
    assert statuses == [201, 201, 200]
    assert sim.callback_counts == {"k1": 2, "k2": 1}
    assert [(d.key, d.body, d.duplicate) for d in sim.callbacks] == [
        ("k1", {"phone": "555-1"}, False),
        ("k2", {"phone": "555-2"}, False),
        ("k1", {"phone": "555-1"}, True),
    ]
    async with client.get(f"{sim.control_url}/_sim/callbacks") as resp:
        listed = await resp.json()
    assert [d["key"] for d in listed["deliveries"]] == ["k1", "k2", "k1"]
    assert listed["counts"] == {"k1": 2, "k2": 1}


async def test_echo_returns_method_path_query_headers_and_body(
    sim: CallCenterSim, client: aiohttp.ClientSession
) -> None:
    headers = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
    async with client.post(f"{sim.url}/echo?q=1", data="hello", headers=headers) as resp:
        echoed = await resp.json()
    assert echoed["method"] == "POST"
    assert echoed["path"] == "/echo"
    assert echoed["query"] == "q=1"
    assert echoed["body"] == "hello"
    assert echoed["headers"]["X-Forwarded-For"] == "203.0.113.7"
    async with client.get(f"{sim.url}/echo/router/setup?lang=en", headers=headers) as resp:
        echoed = await resp.json()
    assert (echoed["method"], echoed["path"]) == ("GET", "/echo/router/setup")
    assert echoed["query"] == "lang=en"
    assert echoed["headers"]["X-Forwarded-Proto"] == "https"


async def test_requests_are_counted_per_path_and_in_total(
    sim: CallCenterSim, client: aiohttp.ClientSession
) -> None:
    for path in ["/health", "/health", "/billing"]:
        async with client.get(f"{sim.url}{path}") as resp:
            await resp.read()
    assert sim.requests_by_path == {"/health": 2, "/billing": 1}
    assert sim.state()["requests_total"] == 3
