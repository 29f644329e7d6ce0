"""Callbacks end to end, in-process: intake over HTTP, Redis or the spool, delivery to
the call-center simulator. Real redis-server, real aiohttp servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest_asyncio
from prometheus_client import generate_latest

from failover.app import CALLBACKS, METRICS
from failover.callbacks.stream import DEAD
from tests.support.redis import RedisServer
from tests.support.stack import FAST_HEALTH, Stack, running_stack, wait_for

CALLBACK_CONFIG = """
[callbacks]
rate_per_s = 2000.0
burst = 50
max_attempts = 3
delivery_timeout_ms = 300
reclaim_idle_ms = 1000
"""


def config(redis: RedisServer, extra: str = "") -> str:
    return FAST_HEALTH + f'[redis]\nurl = "{redis.url}"\n' + CALLBACK_CONFIG + extra


@pytest_asyncio.fixture
async def redis(tmp_path: Path) -> AsyncIterator[RedisServer]:
    server = RedisServer(tmp_path / "redis", options={"appendonly": "yes", "appendfsync": "always"})
    try:
        await server.start()
        yield server
    finally:
        await server.aclose()


def body(i: int, **changes: str) -> dict[str, str]:
    return {"name": f"Customer {i}", "phone": "+14155552671", "topic": f"router {i}"} | changes


async def post(
    client: aiohttp.ClientSession, stack: Stack, fields: dict[str, Any], key: str | None
) -> tuple[int, dict[str, Any]]:
    headers = {"Idempotency-Key": key} if key is not None else {}
    async with client.post(f"{stack.url}/help/callbacks", json=fields, headers=headers) as r:
        return r.status, await r.json()


async def all_down(stack: Stack) -> None:
    for c in stack.centers.values():
        await c.sim.set_mode("down")
    await wait_for(lambda: stack.pool.snapshot().router.current == "self-help", within=5,
                   what="failover")  # fmt: skip


async def all_up(stack: Stack) -> None:
    for c in stack.centers.values():
        await c.sim.set_mode("up")


def delivered_keys(stack: Stack) -> list[str]:
    return [d.key for c in stack.centers.values() for d in c.sim.callbacks if not d.duplicate]


def metric(stack: Stack, line_start: str) -> float:
    text = generate_latest(stack.app[METRICS].registry).decode()
    for line in text.splitlines():
        if line.startswith(line_start + " ") or line.startswith(line_start + "{"):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{line_start} not in /metrics")


async def test_a_json_callback_is_accepted_with_a_ticket_and_delivered_once(
    tmp_path: Path, redis: RedisServer
) -> None:
    async with running_stack(tmp_path, extra=config(redis)) as stack, aiohttp.ClientSession() as c:
        await all_down(stack)
        status, answer = await post(c, stack, body(1), "k-1")
        assert status == 202
        assert answer["ticket"].startswith("cb_")
        again_status, again = await post(c, stack, body(1), "k-1")
        assert (again_status, again["ticket"], again["duplicate"]) == (202, answer["ticket"], True)
        await asyncio.sleep(0.3)
        assert delivered_keys(stack) == []  # nobody to deliver to during the outage
        await all_up(stack)
        await wait_for(lambda: len(delivered_keys(stack)) == 1, within=5, what="delivery")
        primary = stack.centers["primary"].sim
        (delivery,) = primary.callbacks
        assert isinstance(delivery.body, dict)
        assert delivery.body["ticket"] == answer["ticket"]
        assert delivery.body["phone"] == "+14155552671"
        assert metric(stack, "switchboard_callbacks_delivered_total") == 1
        assert metric(stack, 'switchboard_callbacks_accepted_total{store="redis"}') == 1
