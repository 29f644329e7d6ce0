"""Stopping the callback dispatcher: a cancel always ends it (pure, no Redis)."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from failover.callbacks.dispatcher import Dispatcher
from failover.clock import SystemClock


def idle_dispatcher() -> Dispatcher:
    # No call center takes customers, so each round is idle and touches neither the
    # stream nor the client.
    return Dispatcher(
        cast(Any, None), cast(Any, None), target=lambda: None, clock=SystemClock(),
        observer=cast(Any, None), rate=10.0, burst=1, max_attempts=3, reclaim_idle=30.0,
    )  # fmt: skip


@pytest.mark.parametrize("round_", range(20))
async def test_a_cancel_that_arrives_as_the_dispatcher_is_woken_still_stops_it(
    round_: int,
) -> None:
    dispatcher = idle_dispatcher()
    task = asyncio.create_task(dispatcher.run())
    for _ in range(round_ % 4 + 1):  # into its idle wait, at a few different points
        await asyncio.sleep(0)
    dispatcher.wake.set()  # new work, in the same turn of the loop as the stop
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=2.0)
    assert task in done, "the dispatcher swallowed the cancel and went on"
    assert task.cancelled()
