"""A worker notices its master is gone (failover.workers.watch_master), without prctl."""

from __future__ import annotations

import asyncio
import os

from failover.workers import master_gone, watch_master


def test_master_gone_is_false_for_the_parent_and_true_for_any_other_pid() -> None:
    assert not master_gone(os.getppid())
    assert master_gone(os.getpid())


async def test_watch_master_calls_back_once_the_parent_is_not_the_master() -> None:
    called: list[bool] = []
    await asyncio.wait_for(watch_master(os.getpid(), lambda: called.append(True)), 2)
    assert called == [True]


async def test_watch_master_keeps_waiting_while_the_master_is_the_parent() -> None:
    called: list[bool] = []
    task = asyncio.create_task(watch_master(os.getppid(), lambda: called.append(True)))
    await asyncio.sleep(1.2)  # two checks
    assert not task.done()
    task.cancel()
    assert called == []
