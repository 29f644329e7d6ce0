"""Operator switches reach every replica within a second (docs/operations.md), whatever is
stored in Redis: two front doors on one real redis-server. Before the fix, one bad stored
value (a version that is not an integer, a hash field that is not UTF-8, an override of
the wrong shape) raised out of `Switches.sync`, which ended the `admin-switches-sync`
task for good, silently: removing the bad value did not help, and overrides set on one
replica never reached the other until it restarted.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from redis.asyncio import Redis

from failover.admin import SWITCHBOARD
from failover.switches import SWITCHES, VERSION
from tests.support.redis import RedisServer
from tests.support.replicas import Replica, Replicas, running_replicas
from tests.support.stack import wait_for

TOKEN = "t" * 24
HEADERS = {"Authorization": f"Bearer {TOKEN}", "X-Actor": "alice"}
OVERRIDE = '{"kind":"force_callcenter","callcenter":%s,"reason":""}'
# (key, field or None for the version, the bad value)
BAD = {
    "version-not-a-number": (VERSION, None, b"not-a-number"),
    "version-not-utf8": (VERSION, None, b"\xff\xfe"),
    "value-not-utf8": (SWITCHES, "message", b"banner \xff"),
    "field-not-utf8": (SWITCHES, b"\xffemergency:primary", b"1"),
    "override-callcenter-list": (SWITCHES, "override", (OVERRIDE % '["primary"]').encode()),
    "override-not-object": (SWITCHES, "override", b"[1]"),
    "override-deep": (SWITCHES, "override", b"[" * 20_000 + b"]" * 20_000),
}


def read_or_over(replicas: Replicas) -> bool:
    """Each replica has read the bad value (it warned), or its sync task is over."""
    switches = [r.app[SWITCHBOARD] for r in replicas]
    return all(getattr(s, "_problems", None) or (s._task is not None and s._task.done())
               for s in switches)  # fmt: skip


async def reaches(replica: Replica, reason: str) -> None:
    """The override with this reason is in force on `replica` within a second (and a
    second more for a busy machine)."""

    def there() -> bool:
        override = replica.pool.snapshot().override
        return override is not None and override.reason == reason

    await wait_for(there, within=2, what=f"override {reason!r} on {replica.name}")


@pytest.mark.parametrize("bad", BAD.values(), ids=BAD.keys())
async def test_a_bad_stored_value_is_ignored_and_switches_still_reach_every_replica(
    tmp_path: Path, redis_server: RedisServer, bad: tuple[str, str | bytes | None, bytes]
) -> None:
    key, field, value = bad
    async with (
        Redis.from_url(redis_server.url) as redis,
        running_replicas(tmp_path, redis_url=redis_server.url, count=2, sharing=False,
                         token=TOKEN) as replicas,
        aiohttp.ClientSession() as s,
    ):  # fmt: skip
        a, b = replicas.members
        if field is None:
            await redis.set(key, value)
        else:
            await redis.hset(key, field, value)
            await redis.incr(VERSION)  # so that the replicas read the hash
        await wait_for(lambda: read_or_over(replicas), within=5, what="the bad value read")
        tasks = [r.app[SWITCHBOARD]._task for r in replicas]
        assert all(t is not None and not t.done() for t in tasks), "a sync task ended"
        if field is None:
            await redis.delete(key)
        else:
            await redis.hdel(key, field)
            await redis.incr(VERSION)
        async with s.post(f"{a.ops_url}/admin/override", headers=HEADERS,
                          json={"mode": "self-help", "reason": "maintenance"}) as resp:  # fmt: skip
            assert resp.status == 200, await resp.text()
            assert (await resp.json())["shared"] is True
        await reaches(b, "maintenance")
