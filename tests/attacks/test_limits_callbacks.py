"""Callback requests are limited per client, shared by replicas through Redis and per
process without it (issue 14, point 6). Before: 1,000 callbacks from one client in
0.5 s were all accepted, and agents would have called every one of them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest_asyncio

from tests.attacks.limits_support import TIMEOUT, Door, client, front_doors, queued
from tests.support.callback_form import Rendered, browser_like
from tests.support.redis import RedisServer

CGNAT = "100.64.7.9"  # RFC 6598 shared address space: many customers, one address
RATE_LIMITED = 'switchboard_callbacks_refused_total{reason="rate_limited"}'
LIMITED = 'switchboard_rate_limited_total{action="callback"}'


@pytest_asyncio.fixture
async def redis_server(tmp_path: Path) -> AsyncIterator[RedisServer]:
    async with RedisServer(tmp_path / "redis") as server:
        yield server


def fields(i: int) -> dict[str, str]:
    return {"name": f"Customer {i}", "phone": "+14155552671", "topic": f"router {i}"}


async def ask(
    s: aiohttp.ClientSession, door: Door, i: int, address: str
) -> tuple[int, dict[str, str], dict[str, object]]:
    headers = client(address) | {"Idempotency-Key": f"k-{address}-{i}"}
    async with s.post(f"{door.url}/help/callbacks", json=fields(i), headers=headers) as r:
        return r.status, dict(r.headers), await r.json()


async def test_a_thousand_callbacks_from_one_address_take_only_its_burst(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    async with (
        front_doors(tmp_path, redis_url=redis_server.url) as world,
        aiohttp.ClientSession(timeout=TIMEOUT) as s,
    ):
        (door,) = world.doors
        await world.callcenter.set_mode("down")  # an outage: callbacks wait in the queue
        gate = asyncio.Semaphore(100)

        async def one(i: int) -> tuple[int, dict[str, str], dict[str, object]]:
            async with gate:
                return await ask(s, door, i, CGNAT)

        started = time.monotonic()
        answers = await asyncio.gather(*(one(i) for i in range(1000)))
        took = time.monotonic() - started
        accepted = [a for status, _, a in answers if status == 202]
        refused = [(h, a) for status, h, a in answers if status == 429]
        assert len(accepted) == 50  # [limits] callbacks_burst: 50 customers behind a NAT
        assert len(refused) == 950
        for headers, answer in refused:
            assert 1 <= int(headers["Retry-After"]) <= 120  # one more every 120 s
            assert "too many callback requests" in str(answer["error"])
            assert answer["retry_after_s"] == int(headers["Retry-After"])
        # Every 202 is in the queue, nothing else is: a 429 stores nothing.
        assert sorted(await queued(redis_server.url)) == sorted(str(a["ticket"]) for a in accepted)
        assert door.metric(RATE_LIMITED) == 950
        assert door.metric(LIMITED) == 950
        assert door.metric('switchboard_callbacks_refused_total{reason="unavailable"}') == 0
        assert door.server_errors() == 0
        # Another address (another customer, another network) is not affected.
        status, _, _ = await ask(s, door, 0, "198.51.100.20")
        assert status == 202
    print(f"\n1000 callbacks from one address in {took:.2f} s: 50 accepted, 950 refused")  # noqa: T201


async def test_a_limit_taken_on_one_replica_holds_on_the_other_and_without_redis_per_process(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    async with (
        front_doors(
            tmp_path, redis_url=redis_server.url, replicas=2, limits="callbacks_burst = 5\n"
        ) as world,
        aiohttp.ClientSession(timeout=TIMEOUT) as s,
    ):
        a, b = world.doors
        assert [(await ask(s, a, i, CGNAT))[0] for i in range(5)] == [202] * 5
        status, headers, _ = await ask(s, b, 5, CGNAT)  # the other replica knows
        assert status == 429
        assert int(headers["Retry-After"]) >= 1
        assert (await ask(s, b, 0, "198.51.100.21"))[0] == 202

        # Redis gone: each replica limits alone, with the same sizes. Callbacks go to
        # the spool; over the limit is a 429, never a 503 and never an unbounded accept.
        await redis_server.kill()
        for door in (a, b):
            statuses = [(await ask(s, door, 100 + i, "198.51.100.22"))[0] for i in range(7)]
            assert statuses == [202] * 5 + [429] * 2
            assert door.metric('switchboard_rate_limit_local_decisions_total{action="callback"}')
            assert door.server_errors() == 0


async def test_the_form_over_the_limit_is_shown_again_with_what_was_typed(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    async with (
        front_doors(tmp_path, redis_url=redis_server.url, limits="callbacks_burst = 1\n") as world,
        browser_like() as browser,
    ):
        (door,) = world.doors
        await world.callcenter.set_mode("down")  # an outage: callbacks wait in the queue
        posted = []
        for i in range(2):
            async with browser.get(f"{door.url}/help/callbacks/new", headers=client(CGNAT)) as r:
                token = Rendered(await r.text()).values["form_token"]
            form = fields(i) | {"form_token": token}
            async with browser.post(
                f"{door.url}/help/callbacks", data=form, headers=client(CGNAT)
            ) as r:
                posted.append((r.status, dict(r.headers), Rendered(await r.text())))
        assert posted[0][0] == 202
        status, headers, page = posted[1]
        assert status == 429
        assert headers["Cache-Control"] == "no-store"
        assert int(headers["Retry-After"]) >= 1
        assert page.values["name"] == "Customer 1"  # what was typed is kept
        assert any("too many callback requests" in alert for alert in page.alerts)
        assert len(await queued(redis_server.url)) == 1
