"""A callback spooled under one `[server] workers` layout is delivered under another: the
process of slot 0 (or the only one) adopts the spool files no slot of its layout opens
(failover/callbacks/adopt.py), moves them to Redis and deletes them once empty. Real
redis-server, real SQLite spool files, real aiohttp servers on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path

from failover.callbacks.request import CallbackRequest, validate
from failover.callbacks.spool import Spool
from failover.workers import WorkerInfo
from switchboard.app import CALLBACKS
from tests.support.callbacks import arrivals, body, config, metric
from tests.support.redis import RedisServer
from tests.support.stack import running_stack, wait_for


def _spool_one(path: Path, ticket: str) -> None:
    """What a process of the old layout left: one callback answered 202, spooled."""
    request = validate(body(0))
    assert isinstance(request, CallbackRequest)
    spool = Spool(path)
    spool.put(f"key-{ticket}", request.to_json(ticket=ticket, requested_at="t"), 1.0)
    spool.close()


def _gone(path: Path) -> bool:
    return not any(Path(f"{path}{end}").exists() for end in ("", "-wal", "-shm"))


async def test_a_single_process_spool_is_delivered_by_worker_0_of_2(
    tmp_path: Path, redis: RedisServer
) -> None:
    # Before: worker 0 opened callbacks.spool.w0 only; callbacks.spool kept the row forever.
    old = tmp_path / "callbacks.spool"
    _spool_one(old, "cb_single")
    worker = WorkerInfo(index=0, count=2, peers=tmp_path)
    async with running_stack(tmp_path, extra=config(redis), worker=worker) as stack:
        await wait_for(lambda: arrivals(stack) == ["cb_single"], within=10, what="delivery")
        assert stack.app[CALLBACKS].spool.path.name == "callbacks.spool.w0"
        await wait_for(lambda: _gone(old), within=5, what="adopted file and its -wal/-shm deleted")
        await wait_for(lambda: metric(stack, "switchboard_callbacks_spooled") == 0, within=5,
                       what="spooled gauge")  # fmt: skip


async def test_worker_1s_spool_is_delivered_by_a_single_process(
    tmp_path: Path, redis: RedisServer
) -> None:
    # Before: going from 2 workers to 1 stranded callbacks.spool.w1 (and .w0).
    for slot in (0, 1):
        _spool_one(tmp_path / f"callbacks.spool.w{slot}", f"cb_w{slot}")
    async with running_stack(tmp_path, extra=config(redis)) as stack:
        await wait_for(lambda: sorted(arrivals(stack)) == ["cb_w0", "cb_w1"], within=10,
                       what="deliveries")  # fmt: skip
        await wait_for(
            lambda: not any(tmp_path.glob("callbacks.spool.w*")), within=5, what="files deleted"
        )
        assert (tmp_path / "callbacks.spool").exists()  # its own file stays


async def test_worker_1_adopts_nothing(tmp_path: Path, redis: RedisServer) -> None:
    old = tmp_path / "callbacks.spool"
    _spool_one(old, "cb_single")
    worker = WorkerInfo(index=1, count=2, peers=tmp_path)
    async with running_stack(tmp_path, extra=config(redis), worker=worker) as stack:
        runtime = stack.app[CALLBACKS]
        assert runtime.adopted is not None
        assert not runtime.adopted.busy
        assert not _gone(old)
