"""The admin API against real servers: auth, switches shared through a real Redis,
surviving a restart, the audit log, and the metrics an SRE reads after acting."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client import generate_latest

from failover.routing import SELF_HELP
from failover.switches import SWITCHES
from switchboard.app import METRICS
from tests.support.redis import RedisServer
from tests.support.stack import FAST_HEALTH, Stack, running_stack, wait_for

TOKEN = "admin-token-" + "x" * 20
AUTH = {"Authorization": f"Bearer {TOKEN}", "X-Actor": "alice"}
ROUTING = "[routing]\nhold_down_ms = 0\n"


def extra(redis: RedisServer | None) -> str:
    return FAST_HEALTH + ROUTING + (f'[redis]\nurl = "{redis.url}"\n' if redis else "")


async def call(
    s: aiohttp.ClientSession, method: str, url: str, body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:  # fmt: skip
    async with s.request(method, url, json=body, headers=headers) as resp:
        return resp.status, await resp.json()


def metric(stack: Stack, name: str) -> float:
    text = generate_latest(stack.app[METRICS].registry).decode()
    for line in text.splitlines():
        if line.startswith((name + " ", name + "{")):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not exported")


async def test_without_a_token_configured_admin_is_disabled_and_changes_nothing(
    tmp_path: Path,
) -> None:
    async with running_stack(tmp_path, extra=extra(None)) as stack, aiohttp.ClientSession() as s:
        status, answer = await call(s, "POST", f"{stack.ops_url}/admin/override",
                                    {"mode": "self-help"}, AUTH)  # fmt: skip
        assert status == 403
        assert "disabled" in answer["error"]
        assert stack.pool.snapshot().override is None


async def test_a_missing_or_wrong_token_is_401_and_changes_nothing(
    tmp_path: Path, redis: RedisServer
) -> None:
    async with (
        running_stack(tmp_path, extra=extra(redis), token=TOKEN) as stack,
        aiohttp.ClientSession() as s,
    ):
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            for method, path, body in (
                ("POST", "/admin/override", {"mode": "self-help"}),
                ("POST", "/admin/callcenters/primary/drain", {"on": True}),
                ("POST", "/admin/callcenters/primary/emergency", {"on": True}),
                ("POST", "/admin/cache/rewarm", {}),
                ("GET", "/admin/log", None),
                ("GET", "/admin/switches", None),
            ):
                status, _ = await call(s, method, stack.ops_url + path, body, headers)
                assert status == 401, (path, headers)
        snap = stack.pool.snapshot()
        assert snap.override is None
        assert not any(v.drained or v.emergency for v in snap.views)
        client = redis_client(redis)
        assert await client.exists(SWITCHES) == 0
        await client.aclose(close_connection_pool=True)
        assert metric(stack, 'switchboard_admin_actions_total{action="override"}') == 0


def replica(tmp_path: Path, name: str, redis: RedisServer) -> AbstractAsyncContextManager[Stack]:
    """A front door sharing `redis` with the others, in its own folder under `tmp_path`."""
    (tmp_path / name).mkdir()
    return running_stack(tmp_path / name, extra=extra(redis), token=TOKEN)


def redis_client(server: RedisServer) -> Any:
    from failover.redisconn import connect  # noqa: PLC0415

    return connect(server.url)


async def test_an_override_set_on_one_replica_is_applied_by_another_and_survives_a_restart(
    tmp_path: Path, redis: RedisServer
) -> None:
    async with (
        replica(tmp_path, "one", redis) as one,
        replica(tmp_path, "two", redis) as two,
        aiohttp.ClientSession() as s,
    ):
        body = {"mode": "self-help", "reason": "maintenance"}
        status, answer = await call(s, "POST", f"{one.ops_url}/admin/override", body, AUTH)
        assert (status, answer["shared"]) == (200, True)
        assert one.pool.snapshot().router.current == SELF_HELP  # at once where it was asked
        await wait_for(lambda: two.pool.snapshot().router.current == SELF_HELP, within=5,
                       what="the second replica to apply the override")  # fmt: skip
        assert two.pool.snapshot().override is not None
        assert two.pool.snapshot().override.reason == "maintenance"  # type: ignore[union-attr]
    async with replica(tmp_path, "three", redis) as three:
        # A replica started after the fact applies it before it routes anyone.
        assert three.pool.snapshot().override is not None
        assert three.pool.snapshot().router.current == SELF_HELP
        async with aiohttp.ClientSession() as s:
            status, answer = await call(s, "POST", f"{three.ops_url}/admin/override",
                                        {"mode": "automatic"}, AUTH)  # fmt: skip
            assert status == 200
        assert three.pool.snapshot().override is None


async def test_drain_and_emergency_are_shared_and_each_action_is_in_the_audit_log(
    tmp_path: Path, redis: RedisServer
) -> None:
    async with (
        replica(tmp_path, "one", redis) as one,
        replica(tmp_path, "two", redis) as two,
        aiohttp.ClientSession() as s,
    ):
        status, answer = await call(s, "POST", f"{one.ops_url}/admin/callcenters/primary/drain",
                                    {"on": True}, AUTH)  # fmt: skip
        assert (status, answer["drain"], answer["shared"]) == (200, True, True)
        assert one.pool.snapshot().router.current == "backup"
        await wait_for(lambda: two.pool.snapshot().router.current == "backup", within=5,
                       what="drain applied on the second replica")  # fmt: skip
        status, _ = await call(s, "POST", f"{two.ops_url}/admin/callcenters/backup/emergency",
                               {"on": True}, {**AUTH, "X-Actor": "bob"})  # fmt: skip
        assert status == 200
        await wait_for(lambda: one.pool.snapshot().router.current == SELF_HELP, within=5,
                       what="emergency applied on the first replica")  # fmt: skip
        status, answer = await call(s, "POST", f"{one.ops_url}/admin/callcenters/nowhere/drain",
                                    {"on": True}, AUTH)  # fmt: skip
        assert status == 404
        status, log = await call(s, "GET", f"{one.ops_url}/admin/log", None, AUTH)
        assert status == 200
        entries = log["entries"]
        assert [(e["actor"], e["action"], e["target"]) for e in entries[:2]] == [
            ("bob", "emergency", "backup"),
            ("alice", "drain", "primary"),
        ]
        assert all(e["at"] and e["remote"] and e["replica"] for e in entries)
        status, switches = await call(s, "GET", f"{one.ops_url}/admin/switches", None, AUTH)
        assert (switches["drained"], switches["emergency"]) == (["primary"], ["backup"])
        assert metric(one, 'switchboard_admin_actions_total{action="drain"}') == 1
        assert metric(two, 'switchboard_admin_actions_total{action="emergency"}') == 1


async def test_with_redis_down_an_action_applies_here_and_reaches_the_others_later(
    tmp_path: Path, redis: RedisServer
) -> None:
    async with (
        replica(tmp_path, "one", redis) as one,
        replica(tmp_path, "two", redis) as two,
        aiohttp.ClientSession() as s,
    ):
        await wait_for(lambda: metric(one, "switchboard_redis_up") == 1, within=5,
                       what="redis up")  # fmt: skip
        await redis.kill()
        status, answer = await call(s, "POST", f"{one.ops_url}/admin/override",
                                    {"mode": "self-help"}, AUTH)  # fmt: skip
        assert (status, answer["shared"]) == (200, False)
        assert "this replica only" in answer["warning"]
        assert one.pool.snapshot().router.current == SELF_HELP
        assert two.pool.snapshot().override is None
        await wait_for(lambda: metric(one, "switchboard_redis_up") == 0, within=5,
                       what="redis down in metrics")  # fmt: skip
        await redis.restart()
        await wait_for(lambda: two.pool.snapshot().router.current == SELF_HELP, within=8,
                       what="the override reaching the other replica")  # fmt: skip
        assert one.pool.snapshot().override is not None  # not undone by what Redis had


async def test_rewarm_fetches_and_is_logged(tmp_path: Path, redis: RedisServer) -> None:
    async with (
        running_stack(tmp_path, extra=extra(redis), token=TOKEN) as stack,
        aiohttp.ClientSession() as s,
    ):
        status, answer = await call(s, "POST", f"{stack.ops_url}/admin/cache/rewarm", None, AUTH)
        assert status == 200
        assert answer["fetched"] == 0  # no community site configured: nothing to fetch
        _, log = await call(s, "GET", f"{stack.ops_url}/admin/log", None, AUTH)
        assert (log["entries"][0]["action"], log["entries"][0]["actor"]) == ("rewarm", "alice")


async def test_time_in_failover_is_counted_while_it_lasts(tmp_path: Path) -> None:
    async with running_stack(tmp_path, extra=extra(None)) as stack:
        assert metric(stack, "switchboard_failover_seconds_total") == 0
        for center in stack.centers.values():
            await center.sim.set_mode("down")
        await wait_for(lambda: stack.pool.snapshot().router.current == SELF_HELP, within=5,
                       what="failover")  # fmt: skip
        first = metric(stack, "switchboard_failover_seconds_total")
        await wait_for(lambda: metric(stack, "switchboard_failover_seconds_total") > first + 0.2,
                       within=5, what="failover time growing")  # fmt: skip
        for center in stack.centers.values():
            await center.sim.set_mode("up")
        await wait_for(lambda: stack.pool.snapshot().router.current != SELF_HELP, within=5,
                       what="recovery")  # fmt: skip
        settled = metric(stack, "switchboard_failover_seconds_total")
        assert settled > first
        await wait_for(lambda: True, within=0.3, what="")
        assert metric(stack, "switchboard_failover_seconds_total") == settled  # stopped
