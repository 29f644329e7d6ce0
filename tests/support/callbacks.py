"""Shared parts of the end-to-end callback tests (test_callbacks_delivery_end_to_end.py,
test_callbacks_storage.py, and others that count deliveries): the config, posting a
callback, taking the call centers down and up, and reading what arrived and /metrics."""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp import web
from prometheus_client import generate_latest

from sims.callcenter import CallCenterSim
from switchboard.app import METRICS
from tests.support.redis import RedisServer
from tests.support.stack import FAST_HEALTH, Stack, wait_for

CALLBACK_CONFIG = """
[callbacks]
rate_per_s = 2000.0
burst = 50
max_attempts = 3
delivery_timeout_ms = 1000
reclaim_idle_ms = 7000
# These tests send hundreds of callbacks from one address (127.0.0.1) to test delivery;
# per-client limits have their own tests (tests/attacks/test_limits_*.py).
[limits]
callbacks_burst = 100000
"""


def config(redis: RedisServer, extra: str = "") -> str:
    return FAST_HEALTH + f'[redis]\nurl = "{redis.url}"\n' + CALLBACK_CONFIG + extra


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
    return app_metric(stack.app, line_start)


def delivered_by(app: web.Application) -> float:
    return app_metric(app, "switchboard_callbacks_delivered_total")


def app_metric(app: web.Application, line_start: str) -> float:
    text = generate_latest(app[METRICS].registry).decode()
    for line in text.splitlines():
        if line.startswith((line_start + " ", line_start + "{")):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{line_start} not in /metrics")


def arrivals(stack: Stack) -> list[str]:
    """Tickets in the order the stack's call centers first received them."""
    return first_arrivals([c.sim for c in stack.centers.values()], [stack.app])


def first_arrivals(sims: list[CallCenterSim], doors: list[web.Application]) -> list[str]:
    """Tickets in the order the call centers first received them. Delivery is at least
    once: asserted here, an entry is POSTed again only after a POST that timed out or lost
    its connection (the call center may have had it; the Idempotency-Key makes it once
    there), never for nothing."""
    tickets = [str(d.body["ticket"]) for sim in sims for d in sim.callbacks
               if isinstance(d.body, dict)]  # fmt: skip
    firsts = list(dict.fromkeys(tickets))
    again = len(tickets) - len(firsts)
    resent = sum(
        app_metric(app, f'switchboard_callback_delivery_failures_total{{kind="{kind}"}}')
        for app in doors
        for kind in ("retried", "unreachable")
    )
    assert again <= resent, f"{again} POSTs repeated, {resent} after a failed one"
    return firsts
