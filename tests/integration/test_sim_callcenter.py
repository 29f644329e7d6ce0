"""Integration tests for the call-center simulator: real listeners on 127.0.0.1."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio

from sims.callcenter import BIG_BODY, PAGES, CallCenterSim, Mode

TIMEOUT = aiohttp.ClientTimeout(total=2.0, sock_connect=1.0, sock_read=1.0)
SHORT = aiohttp.ClientTimeout(total=0.3, sock_connect=0.3, sock_read=0.3)


@pytest_asyncio.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    # A fresh connection per request: these tests are about what a new connection meets.
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector, timeout=TIMEOUT) as session:
        yield session


async def wait_for_requests(sim: CallCenterSim, path: str, count: int) -> None:
    """Poll (bounded, 1 s) until the simulator has received ``count`` requests for ``path``."""
    for _ in range(100):
        if sim.requests_by_path.get(path, 0) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{sim.name} never received {count} request(s) for {path}")


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


async def post_callback(
    sim: CallCenterSim, client: aiohttp.ClientSession, key: str, body: dict[str, object]
) -> tuple[int, object]:
    headers = {"Idempotency-Key": key}
    async with client.post(f"{sim.url}/callbacks", json=body, headers=headers) as resp:
        return resp.status, await resp.json()


async def test_poisoned_callback_fails_every_time_and_is_not_recorded(
    sim: CallCenterSim, client: aiohttp.ClientSession
) -> None:
    assert sim.set_poison("POISON") == ("POISON", 500)
    for _ in range(3):
        status, body = await post_callback(sim, client, "bad", {"note": "xx POISON xx"})
        assert (status, body) == (500, {"error": "poison callback"})
    assert await post_callback(sim, client, "good", {"note": "fine"}) == (
        201,
        {"key": "good", "status": "accepted"},
    )
    assert sim.poisoned == {"bad": 3}
    assert sim.callback_counts == {"good": 1}
    assert [d.key for d in sim.callbacks] == ["good"]
    async with client.get(f"{sim.control_url}/_sim/callbacks") as resp:
        listed = await resp.json()
    assert listed["poisoned"] == {"bad": 3}
    assert listed["counts"] == {"good": 1}
    assert [d["key"] for d in listed["deliveries"]] == ["good"]


async def test_poison_matches_the_raw_body_text_not_just_values(
    sim: CallCenterSim, client: aiohttp.ClientSession
) -> None:
    sim.set_poison('"topic":', status=422)
    status, _ = await post_callback(sim, client, "k", {"topic": "billing"})
    assert status == 422
    status, _ = await post_callback(sim, client, "k2", {"name": "topic"})
    assert status == 201


async def test_poison_applies_only_after_the_key_and_json_checks(
    sim: CallCenterSim, client: aiohttp.ClientSession
) -> None:
    sim.set_poison("{")
    async with client.post(f"{sim.url}/callbacks", json={"a": 1}) as resp:
        assert resp.status == 400  # no Idempotency-Key
    headers = {"Idempotency-Key": "k"}
    async with client.post(f"{sim.url}/callbacks", data=b"{nope", headers=headers) as resp:
        assert resp.status == 400  # not JSON
    assert sim.poisoned == {}


async def test_clearing_the_poison_lets_the_same_callback_through(
    sim: CallCenterSim, client: aiohttp.ClientSession
) -> None:
    sim.set_poison("555")
    assert (await post_callback(sim, client, "k", {"phone": "555"}))[0] == 500
    assert sim.set_poison(None) is None
    assert (await post_callback(sim, client, "k", {"phone": "555"}))[0] == 201
    assert sim.poisoned == {"k": 1}
    assert sim.callback_counts == {"k": 1}
    assert [d.duplicate for d in sim.callbacks] == [False]


async def test_control_port_sets_and_clears_the_poison(
    sim: CallCenterSim, client: aiohttp.ClientSession
) -> None:
    url = f"{sim.control_url}/_sim/callbacks/poison"
    async with client.post(url, json={"contains": "boom", "status": 503}) as resp:
        assert resp.status == 200
        assert await resp.json() == {"poison": {"contains": "boom", "status": 503}}
    assert sim.poison == ("boom", 503)
    assert (await post_callback(sim, client, "k", {"note": "boom"}))[0] == 503
    async with client.post(url, json={"contains": "boom"}) as resp:
        assert (await resp.json())["poison"] == {"contains": "boom", "status": 500}
    async with client.get(f"{sim.control_url}/_sim/state") as resp:
        state = await resp.json()
    assert state["poison"] == {"contains": "boom", "status": 500}
    assert state["callbacks_poisoned"] == 1
    async with client.post(url, json={"contains": None}) as resp:
        assert resp.status == 200
        assert await resp.json() == {"poison": None}
    assert sim.state()["poison"] is None  # (sim.poison is narrowed to a tuple above)
    assert (await post_callback(sim, client, "k", {"note": "boom"}))[0] == 201


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({}, "contains"),
        ({"contains": ""}, "contains"),
        ({"contains": 5}, "contains"),
        ({"contains": ["x"]}, "contains"),
        ({"contains": "x", "status": 200}, "status"),
        ({"contains": "x", "status": 600}, "status"),
        ({"contains": "x", "status": "500"}, "status"),
        ({"contains": "x", "status": True}, "status"),
        ({"contains": "x", "status": 500.5}, "status"),
        ({"contains": None, "status": 500}, "status"),
        ({"contains": "x", "colour": "red"}, "colour"),
    ],
)
async def test_control_port_rejects_invalid_poison_naming_the_field(
    sim: CallCenterSim, client: aiohttp.ClientSession, change: dict[str, object], field: str
) -> None:
    sim.set_poison("keep", 502)
    url = f"{sim.control_url}/_sim/callbacks/poison"
    async with client.post(url, json=change) as resp:
        assert resp.status == 400
        assert field in (await resp.json())["error"]
    assert sim.poison == ("keep", 502)


@pytest.mark.parametrize("body", [b"[1]", b"not json"])
async def test_control_port_rejects_poison_body_that_is_not_a_json_object(
    sim: CallCenterSim, client: aiohttp.ClientSession, body: bytes
) -> None:
    url = f"{sim.control_url}/_sim/callbacks/poison"
    async with client.post(url, data=body) as resp:
        assert resp.status == 400
        assert "body" in (await resp.json())["error"]
    assert sim.poison is None


@pytest.mark.parametrize(("contains", "status"), [("", 500), ("x", 399), ("x", 600)])
def test_set_poison_from_python_rejects_invalid_rules(contains: str, status: int) -> None:
    sim = CallCenterSim(name="P")
    with pytest.raises(ValueError, match=r"contains|status"):
        sim.set_poison(contains, status)
    assert sim.poison is None
