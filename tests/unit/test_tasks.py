"""Stopping background tasks (`kernel.tasks.cancel_and_wait`): pure asyncio, no I/O."""

from __future__ import annotations

import asyncio
import logging

import pytest

from kernel.tasks import cancel_and_wait


async def loop_that_loses_cancels(lost: int, ticks: list[int]) -> None:
    """A background loop whose first `lost` cancels vanish, as one does when it comes
    while Python 3.11's `asyncio.wait_for` inside redis-py is returning. It ends
    by itself once `ticks` holds a 0."""
    while 0 not in ticks:
        try:
            await asyncio.sleep(0.01)
        except asyncio.CancelledError:
            if lost == 0:
                raise
            lost -= 1
            asyncio.current_task().uncancel()  # type: ignore[union-attr]
        ticks.append(1)


async def test_a_loop_that_lost_its_cancel_is_cancelled_again_and_stops() -> None:
    ticks: list[int] = []
    task = asyncio.create_task(loop_that_loses_cancels(2, ticks), name="forgetful")
    await asyncio.sleep(0.02)
    await asyncio.wait_for(cancel_and_wait(task, recancel_after=0.05), timeout=5)
    assert task.cancelled()
    assert ticks, "the loop went on after the first cancel, as a lost cancel does"


async def test_a_task_that_never_stops_is_left_behind_with_an_error_not_waited_for_ever(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ticks: list[int] = []
    task = asyncio.create_task(loop_that_loses_cancels(10**9, ticks), name="deaf-loop")
    with caplog.at_level(logging.ERROR, logger="switchboard"):
        await asyncio.wait_for(
            cancel_and_wait(task, recancel_after=0.02, give_up_after=0.2), timeout=5
        )
    assert not task.done()
    assert "deaf-loop" in caplog.text
    ticks.append(0)  # the test's own clean-up: the loop ends by itself
    await asyncio.wait_for(task, timeout=5)


async def test_tasks_that_stop_at_once_are_awaited_and_their_errors_dropped() -> None:
    async def fails_on_the_way_out() -> None:
        try:
            await asyncio.sleep(10)
        finally:
            raise RuntimeError("cleanup failed")

    async def sleeps() -> None:
        await asyncio.sleep(10)

    tasks = [asyncio.create_task(fails_on_the_way_out()), asyncio.create_task(sleeps())]
    await asyncio.sleep(0)
    await cancel_and_wait(*tasks)
    assert all(t.done() for t in tasks)
    assert isinstance(tasks[0].exception(), RuntimeError)
    assert tasks[1].cancelled()


async def test_a_cancel_of_the_caller_itself_propagates() -> None:
    ticks: list[int] = []
    stubborn = asyncio.create_task(loop_that_loses_cancels(10**9, ticks), name="stubborn")
    caller = asyncio.create_task(cancel_and_wait(stubborn, recancel_after=0.02, give_up_after=5))
    await asyncio.sleep(0.05)
    caller.cancel()
    with pytest.raises(asyncio.CancelledError):
        await caller
    ticks.append(0)
    await asyncio.wait_for(stubborn, timeout=5)
