"""Faults: the disk under the self-help snapshot or the callback spool fills up (issue 14).

A tmpfs of a few hundred KiB is mounted for the files and filled while the front door
runs. The service goes on: pages are served from memory, a callback that neither Redis
nor the spool can take is refused with 503 and Retry-After (nothing is stored, nothing is
claimed), and each file says what happened once, in a log line naming it, and in
`switchboard_disk_write_failing{file}` / `switchboard_disk_write_failures_total{file}`.
When space comes back the next write succeeds and the gauge goes back to 0.

Before: a failed snapshot write logged the generic "self-help background job
save_snapshot failed; going on" with a traceback, every snapshot_every_s, and no metric
said so; a failed spool write showed only as a refused callback.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio

from cache.local import Snapshot
from sims.community import CommunitySim
from tests.support.faultstack import fill, get, metric, post_callback, tiny_disk
from tests.support.redis import RedisServer
from tests.support.selfhelp_stack import help_stack
from tests.support.stack import wait_for


@pytest_asyncio.fixture
async def community() -> AsyncIterator[CommunitySim]:
    async with CommunitySim(topics=40) as sim:
        yield sim


TOKEN = "d" * 32


async def test_a_full_disk_stops_snapshot_writes_with_one_clear_log_line_and_a_metric(
    tmp_path: Path, community: CommunitySim, caplog: pytest.LogCaptureFixture
) -> None:
    with tiny_disk(tmp_path / "disk", size_kib=512) as disk:
        path = disk / "selfhelp.snapshot"
        async with (
            help_stack(tmp_path, redis=None, community=community, snapshot=path, token=TOKEN,
                       extra="snapshot_every_s = 1\n") as stack,
            aiohttp.ClientSession() as session,
        ):  # fmt: skip
            runtime = stack.self_help.runtime
            await wait_for(path.exists, within=5, what="a first snapshot")
            before = Snapshot(path).load()
            assert before is not None
            filler = fill(disk)
            await wait_for(lambda: runtime.snapshot_failures >= 3, within=10,
                           what="three failed snapshot writes")  # fmt: skip
            lines = [r for r in caplog.records if "self-help snapshot: cannot write" in r.message]
            assert len(lines) == 1  # once per run of failures, not once a second
            assert str(path) in lines[0].message
            assert "No space left on device" in lines[0].message
            assert lines[0].levelno == logging.ERROR
            assert metric(stack.app, "switchboard_disk_write_failing", file="snapshot") == 1
            failures = metric(stack.app, "switchboard_disk_write_failures_total", file="snapshot")
            assert failures >= 3
            kept = Snapshot(path).load()  # the previous snapshot, whole
            assert kept is not None
            assert kept.written_at == before.written_at
            assert not [p.name for p in disk.iterdir() if p.name.endswith(".tmp")]
            # Customers do not notice; operators see it on /status.
            assert (await get(session, f"{stack.url}/help")).status == 200
            topic = community.seed.topics[0]
            assert (await get(session, f"{stack.url}/help/bulletins/{topic.id}")).status == 200
            public = json.loads((await get(session, f"{stack.ops_url}/api/v1/status")).text)
            assert public["cache"]["snapshot_error"] == "the snapshot could not be written"
            assert str(path) not in json.dumps(public)  # the file's path is the operator's
            operator = {"Authorization": f"Bearer {TOKEN}"}
            async with session.get(f"{stack.ops_url}/api/v1/status", headers=operator) as resp:
                status = json.loads(await resp.text())
            assert str(path) in status["cache"]["snapshot_error"]

            filler.unlink()
            await wait_for(lambda: runtime.snapshot_error is None, within=5,
                           what="a snapshot written again")  # fmt: skip
            assert metric(stack.app, "switchboard_disk_write_failing", file="snapshot") == 0
            after = Snapshot(path).load()
            assert after is not None
            assert after.written_at > before.written_at
            assert any("written to" in r.message and str(path) in r.message
                       for r in caplog.records)  # fmt: skip


async def test_a_full_disk_under_the_spool_refuses_callbacks_honestly_and_says_why(
    tmp_path: Path, community: CommunitySim, caplog: pytest.LogCaptureFixture
) -> None:
    with tiny_disk(tmp_path / "disk", size_kib=256) as disk:
        spool = disk / "callbacks.spool"
        async with (
            RedisServer(tmp_path / "redis") as redis,
            help_stack(tmp_path, redis=redis, community=community,
                       extra=f'[callbacks]\nspool_path = "{spool}"\n') as stack,
            aiohttp.ClientSession() as session,
        ):  # fmt: skip
            await redis.kill()  # callbacks go to the spool now...
            filler = fill(disk)  # ...which cannot take them either
            refused = await post_callback(session, stack.url, "full-disk-1")
            assert refused.status == 503
            assert refused.headers["Retry-After"]
            assert "could not be saved" in json.loads(refused.text)["error"]
            lines = [r for r in caplog.records if "NOT SAVED" in r.message]
            assert len(lines) == 1
            assert str(spool) in lines[0].message
            assert "disk is full" in lines[0].message
            assert metric(stack.app, "switchboard_disk_write_failing", file="spool") == 1
            assert metric(stack.app, "switchboard_disk_write_failures_total", file="spool") == 1
            assert metric(stack.app, "switchboard_callbacks_refused_total",
                          reason="unavailable") == 1  # fmt: skip
            assert (await get(session, f"{stack.url}/help")).status == 200

            filler.unlink()
            taken = await post_callback(session, stack.url, "full-disk-2")
            assert taken.status == 202
            assert metric(stack.app, "switchboard_disk_write_failing", file="spool") == 0
            assert metric(stack.app, "switchboard_callbacks_accepted_total", store="spool") == 1
