"""Callbacks end to end, in-process: intake over HTTP into Redis, delivery to the
call-center simulator once (after an outage, a thousand of them, through a flapping call
center, shared by two replicas), and dead letters for the ones it fails or rejects. Real
redis-server, real aiohttp servers on 127.0.0.1 (shared parts in tests/support/callbacks.py)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import cast

import aiohttp
from aiohttp import web
from prometheus_client import CollectorRegistry
from redis.asyncio import Redis

from failover.callbacks.stream import DEAD
from failover.redisconn import connect
from failover.server import runner_for
from failover.settings import load_settings
from sims.callcenter import CallCenterSim
from switchboard.app import CALLBACKS, create_app
from tests.support.callbacks import (
    all_down,
    all_up,
    arrivals,
    body,
    config,
    delivered_by,
    delivered_keys,
    first_arrivals,
    metric,
    post,
)
from tests.support.redis import RedisServer
from tests.support.stack import Stack, running_stack, wait_for


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
        await wait_for(lambda: len(delivered_keys(stack)) >= 1, within=5, what="delivery")
        # Once: POSTed again only after a POST that failed (at least once, first_arrivals).
        assert arrivals(stack) == [answer["ticket"]]
        delivery = stack.centers["primary"].sim.callbacks[0]
        assert isinstance(delivery.body, dict)
        assert delivery.body["ticket"] == answer["ticket"]
        assert delivery.body["phone"] == "+14155552671"
        # The call center has it before the front door reads the answer and counts it.
        await wait_for(lambda: metric(stack, "switchboard_callbacks_delivered_total") == 1,
                       within=5, what="delivery counted")  # fmt: skip
        assert metric(stack, 'switchboard_callbacks_accepted_total{store="redis"}') == 1


async def test_a_thousand_callbacks_taken_in_an_outage_are_all_delivered_once_oldest_first(
    tmp_path: Path, redis: RedisServer
) -> None:
    n, concurrency = 1000, 32
    async with running_stack(tmp_path, extra=config(redis)) as stack, aiohttp.ClientSession() as c:
        await all_down(stack)
        tickets: list[str] = []

        async def worker(ids: range) -> None:
            for i in ids:
                status, answer = await post(c, stack, body(i), f"bulk-{i}")
                assert status == 202, answer
                tickets.append(answer["ticket"])

        started = asyncio.get_running_loop().time()
        await asyncio.gather(*(worker(range(w, n, concurrency)) for w in range(concurrency)))
        took = asyncio.get_running_loop().time() - started
        print(f"\n{n} callbacks accepted in {took:.2f} s: {n / took:.0f}/s")  # noqa: T201
        client = connect(redis.url)
        entries = cast(list[tuple[bytes, dict[bytes, bytes]]], await client.xrange("sb:callbacks"))
        queued = [fields[b"payload"] for _, fields in entries]
        await client.aclose(close_connection_pool=True)
        queue_order = [json.loads(p)["ticket"] for p in queued]
        assert sorted(queue_order) == sorted(tickets)

        await all_up(stack)
        await wait_for(lambda: len(delivered_keys(stack)) >= n, within=30, what="1000 deliveries")
        await wait_for(lambda: metric(stack, "switchboard_callbacks_delivered_total") == n,
                       within=5, what="deliveries counted")  # fmt: skip
        assert arrivals(stack) == queue_order  # each one, oldest first, to one call center
        await wait_for(lambda: _sampled_empty(stack), within=5, what="backlog sample")
        assert metric(stack, "switchboard_callbacks_pending") == 0


def _sampled_empty(stack: Stack) -> bool:
    sample = stack.app[CALLBACKS].sample
    return sample is not None and sample.pending == 0 and sample.spooled == 0


async def test_a_poison_callback_goes_to_the_dead_letter_stream_and_the_rest_flow(
    tmp_path: Path, redis: RedisServer
) -> None:
    async with running_stack(tmp_path, extra=config(redis)) as stack, aiohttp.ClientSession() as c:
        await all_down(stack)
        for center in stack.centers.values():
            center.sim.set_poison("POISON", 500)
        tickets = []
        for i in range(10):
            fields = body(i, note="POISON pill") if i == 3 else body(i)
            status, answer = await post(c, stack, fields, f"p-{i}")
            assert status == 202
            tickets.append(answer["ticket"])
        await all_up(stack)
        await wait_for(lambda: len(delivered_keys(stack)) == 9, within=10, what="the others")
        client = connect(redis.url)
        try:
            await wait_for(lambda: _length(client, DEAD, 1), within=10, what="dead letter")
            ((_, dead),) = cast(list[tuple[bytes, dict[bytes, bytes]]], await client.xrange(DEAD))
            assert json.loads(dead[b"payload"])["ticket"] == tickets[3]
            assert b"3 attempts failed" in dead[b"reason"]
            assert await client.xlen("sb:callbacks") == 0
        finally:
            await client.aclose(close_connection_pool=True)
        poisoned = sum(sum(center.sim.poisoned.values()) for center in stack.centers.values())
        assert poisoned == 3  # max_attempts, one POST each: a 500 is not retried at once
        assert metric(stack, 'switchboard_callbacks_dead_lettered_total{reason="attempts"}') == 1
        await wait_for(lambda: metric(stack, "switchboard_callbacks_delivered_total") == 9,
                       within=5, what="deliveries counted")  # fmt: skip


async def test_a_callback_the_call_center_rejects_is_dead_lettered_at_once(
    tmp_path: Path, redis: RedisServer
) -> None:
    async with running_stack(tmp_path, extra=config(redis)) as stack, aiohttp.ClientSession() as c:
        for center in stack.centers.values():
            center.sim.set_poison("REJECT", 422)
        status, _ = await post(c, stack, body(1, note="REJECT me"), "r-1")
        assert status == 202
        await wait_for(
            lambda: metric(stack, 'switchboard_callbacks_dead_lettered_total{reason="rejected"}')
            == 1, within=5, what="rejection",
        )  # fmt: skip
        assert sum(sum(center.sim.poisoned.values()) for center in stack.centers.values()) == 1


async def _length(client: Redis, key: str, n: int) -> bool:
    return int(await client.xlen(key)) == n


async def test_a_flapping_call_center_loses_and_duplicates_nothing(
    tmp_path: Path, redis: RedisServer
) -> None:
    n = 300
    async with running_stack(
        tmp_path, extra=config(redis), names=("primary",)
    ) as stack, aiohttp.ClientSession() as c:  # fmt: skip
        await all_down(stack)
        tickets = set()
        for i in range(n):
            status, answer = await post(c, stack, body(i), f"f-{i}")
            assert status == 202
            tickets.add(answer["ticket"])
        sim = stack.centers["primary"].sim
        await sim.set_mode("flap", period_ms=500)
        await wait_for(lambda: len(delivered_keys(stack)) >= n, within=40, what="all delivered")
        await sim.set_mode("up")
        accepted = [d.body["ticket"] for d in sim.callbacks
                    if not d.duplicate and isinstance(d.body, dict)]  # fmt: skip
        assert sorted(map(str, accepted)) == sorted(tickets)  # none lost, each accepted once
        duplicates = sum(1 for d in sim.callbacks if d.duplicate)
        pauses = metric(stack, 'switchboard_callback_delivery_failures_total{kind="unreachable"}')
        print(f"\nflapping: {n} delivered, {duplicates} repeated POSTs absorbed by the key, "  # noqa: T201
              f"{pauses:.0f} pauses")  # fmt: skip
        assert metric(stack, "switchboard_callbacks_dead_letter_entries") == 0
        await wait_for(lambda: metric(stack, "switchboard_callbacks_delivered_total") == n,
                       within=5, what="deliveries counted")  # fmt: skip


async def test_two_replicas_share_the_backlog_and_each_callback_reaches_the_call_center_once(
    tmp_path: Path, redis: RedisServer
) -> None:
    n = 400
    sim = CallCenterSim(name="primary")
    await sim.start()
    runners: list[web.AppRunner] = []
    try:
        await sim.set_mode("down")
        apps = []
        for name in ("fd-1", "fd-2"):
            folder = tmp_path / name
            folder.mkdir()
            (folder / "switchboard.toml").write_text(
                '[server]\ndata_dir = "."\n'
                + config(redis).replace("rate_per_s = 2000.0", "rate_per_s = 200.0")
                + f'\n[[callcenters]]\nname = "primary"\nurl = "{sim.url}"\n'
            )
            settings = load_settings(
                folder / "switchboard.toml", env={"SWITCHBOARD_CALLBACKS__CONSUMER": name}
            )
            app = create_app(settings, registry=CollectorRegistry())
            runner = runner_for(app, shutdown_timeout=1.0)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            runners.append(runner)
            apps.append((app, f"http://127.0.0.1:{runner.addresses[0][1]}"))
        async with aiohttp.ClientSession() as c:
            for i in range(n):
                _, url = apps[i % 2]
                async with c.post(f"{url}/help/callbacks", json=body(i),
                                  headers={"Idempotency-Key": f"r-{i}"}) as resp:  # fmt: skip
                    assert resp.status == 202
        await sim.set_mode("up")
        await wait_for(lambda: len(sim.callbacks) >= n, within=20, what="all delivered")
        await wait_for(lambda: sum(delivered_by(app) for app, _ in apps) == n, within=5,
                       what="deliveries counted")  # fmt: skip
        assert len(first_arrivals([sim], [app for app, _ in apps])) == n
        shares = [delivered_by(app) for app, _ in apps]
        assert all(share > 0 for share in shares), shares  # both did part of the work
    finally:
        for started in runners:
            await started.cleanup()
        await sim.stop()
