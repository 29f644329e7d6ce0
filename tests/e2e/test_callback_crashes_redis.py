"""Callbacks survive a `kill -9` of Redis right after their 202 when Redis runs as
documented (`deploy/redis-callbacks.conf`: AOF, fsync always), and the control: without
AOF the acknowledged callbacks are lost, and only those asked after the restart go out.

The processes, the call center and what "delivered exactly once" means are described in
tests/support/callback_crashes.py. Run with `-s` to see the figures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

import aiohttp
import pytest

from failover.callbacks.stream import STREAM
from failover.redisconn import connect
from sims.callcenter import CallCenterSim
from tests.support import callback_crashes as crashes
from tests.support.callback_crashes import (
    TOKEN,
    accepted,
    ask_for_callbacks,
    assert_duplicates_explained,
    assert_each_accepted_once,
    closing,
    duplicates,
    failed_acks,
    metric,
    queue_is_drained,
    resent,
    start,
)
from tests.support.frontdoor import FrontDoorProcess, FrontDoors
from tests.support.redis import RedisServer
from tests.support.stack import wait_for

NO_PERSISTENCE: Final = {"appendonly": "no", "save": ""}

# Fast, with room for a loaded machine: a POST that times out is sent again, which the
# call center would count as a duplicate.
FAST: Final = """
rate_per_s = 500.0
burst = 50
max_attempts = 5
delivery_timeout_ms = 1000
reclaim_idle_ms = 7000
"""
N_FAST: Final = 50
OPERATOR: Final = {"Authorization": f"Bearer {TOKEN}"}

pytestmark = pytest.mark.timeout(40)

# The fixtures, defined once in tests/support/callback_crashes.py.
aof_redis, callcenter, doors, session = (
    crashes.aof_redis,
    crashes.callcenter,
    crashes.doors,
    crashes.session,
)


async def durability(session: aiohttp.ClientSession, door: FrontDoorProcess) -> str:
    """As the operator view shows it: Redis's configuration is not the public's business."""
    async with session.get(f"{door.ops_url}/api/v1/status", headers=OPERATOR) as r:
        status = await r.json()
    return str(status["callbacks"]["durability"])


# --- kill -9 of Redis right after a 202 ---------------------------------------------------


async def test_callbacks_acknowledged_just_before_redis_is_killed_are_all_delivered_once_with_aof(
    doors: FrontDoors,
    aof_redis: RedisServer,
    callcenter: CallCenterSim,
    session: aiohttp.ClientSession,
) -> None:
    door = await start(
        doors, "fd", consumer="fd-1", redis=aof_redis, sim=callcenter, callbacks=FAST
    )
    await door.wait_ready(session)
    assert await durability(session, door) == "aof always"
    tickets = await ask_for_callbacks(session, door, N_FAST, prefix="aof")
    await aof_redis.kill()  # right after the last 202

    # All went to Redis, none to the local spool: what survives is the AOF's doing.
    stored = 'switchboard_callbacks_accepted_total{store="redis"}'
    assert await metric(session, door, stored) == N_FAST
    assert await metric(session, door, 'switchboard_callbacks_accepted_total{store="spool"}') == 0

    await aof_redis.restart()  # same directory: the AOF is replayed
    redis = connect(aof_redis.url)
    try:
        assert int(await redis.xlen(STREAM)) == N_FAST
        await callcenter.set_mode("up")
        took = await wait_for(lambda: sum(accepted(callcenter).values()) >= N_FAST, within=15,
                              what="every callback delivered")  # fmt: skip
        await wait_for(lambda: queue_is_drained(redis), within=3, what="the queue to drain")
        assert_each_accepted_once(callcenter, tickets)
        assert_duplicates_explained(
            callcenter, expected=failed_acks(door), resent=await resent(session, door)
        )
        print(  # noqa: T201 - the figures this test exists to show (-s)
            f"\nRedis kill -9 with AOF always: {N_FAST} of {N_FAST} callbacks survived and "
            f"were delivered, all {took:.2f} s after the call center came back; duplicate "
            f"POSTs {duplicates(callcenter)} (failed acks {failed_acks(door)})"
        )
    finally:
        await closing(redis)


async def test_without_aof_a_redis_kill_loses_acknowledged_callbacks_and_only_later_ones_go_out(
    tmp_path: Path,
    doors: FrontDoors,
    callcenter: CallCenterSim,
    session: aiohttp.ClientSession,
) -> None:
    """The control: the same crash with `appendonly no` and `save ""`."""
    async with RedisServer(tmp_path / "redis", options=NO_PERSISTENCE) as server:
        door = await start(
            doors, "fd", consumer="fd-1", redis=server, sim=callcenter, callbacks=FAST
        )
        await door.wait_ready(session)
        # The front door says so at start.
        assert "Redis runs with no aof" in door.output()
        assert await durability(session, door) == "no aof"
        await ask_for_callbacks(session, door, N_FAST, prefix="no-aof")
        redis = connect(server.url)
        try:
            assert int(await redis.xlen(STREAM)) == N_FAST  # in Redis, not in the spool
        finally:
            await closing(redis)
        await server.kill()
        await server.restart()
        redis = connect(server.url)
        try:
            assert int(await redis.exists(STREAM)) == 0, "the stream survived: not a control"
            # Redis is back empty, consumer group included: what is asked now still goes
            # out (the group is created again), and it is all that goes out.
            later = await ask_for_callbacks(session, door, 3, prefix="later")
            await callcenter.set_mode("up")
            await wait_for(lambda: sum(accepted(callcenter).values()) >= len(later), within=10,
                           what="the callbacks asked after the restart")  # fmt: skip
            await wait_for(lambda: queue_is_drained(redis), within=3, what="the queue to drain")
            assert_each_accepted_once(callcenter, later)
            assert_duplicates_explained(
                callcenter, expected=failed_acks(door), resent=await resent(session, door)
            )
            print(  # noqa: T201 - the figures this test exists to show (-s)
                f"\nRedis kill -9 without AOF: {N_FAST} of {N_FAST} acknowledged callbacks "
                f"lost; {len(later)} asked after the restart delivered; duplicate POSTs "
                f"{duplicates(callcenter)} (failed acks {failed_acks(door)})"
            )
        finally:
            await closing(redis)
