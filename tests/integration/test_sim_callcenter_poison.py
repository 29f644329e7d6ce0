"""Integration tests for the call-center simulator's poisoned callbacks (Python, control port)."""

from __future__ import annotations

import aiohttp
import pytest

from sims.callcenter import CallCenterSim
from tests.integration.test_sim_callcenter_endpoints import client

__all__ = ["client"]  # the shared per-request-connection fixture


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
