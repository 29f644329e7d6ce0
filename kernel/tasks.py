"""Stopping background tasks: one way, used by every component that runs some."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger("switchboard")

# A cancelled task gets this long to end before it is cancelled again.
RECANCEL_AFTER = 0.5
# After this long, stop() gives up on a task rather than hang the shutdown for ever.
GIVE_UP_AFTER = 10.0


async def cancel_and_wait(
    *tasks: asyncio.Task[Any],
    recancel_after: float = RECANCEL_AFTER,
    give_up_after: float = GIVE_UP_AFTER,
) -> None:
    """Cancel `tasks` and wait until each has ended.

    A cancel can be lost: on Python 3.11, `asyncio.wait_for` returns the inner result
    when the cancel arrives in the turn of the loop where the inner call finished, and
    redis-py wraps every command's send in `wait_for`. A task stopped during a Redis
    command would then go on with its loop, and a plain `await task` would wait for
    ever (seen in CI: a replica's shutdown hung on its Redis watch). So a task still
    running `recancel_after` seconds later is cancelled again; after `give_up_after`
    seconds it is left running, with an error in the log, and the shutdown goes on.

    What the tasks raised on the way out is dropped (they are being stopped). A
    cancellation of the caller itself propagates, which `suppress(CancelledError)`
    around `await task` would swallow.
    """
    pending = {task for task in tasks if not task.done()}
    loop = asyncio.get_running_loop()
    deadline = loop.time() + give_up_after
    while pending:
        for task in pending:
            task.cancel()
        wait = min(recancel_after, max(0.0, deadline - loop.time()))
        _, pending = await asyncio.wait(pending, timeout=wait)
        if pending and loop.time() >= deadline:
            log.error(
                "tasks still running %.0f s after they were cancelled, left behind: %s",
                give_up_after, ", ".join(sorted(task.get_name() for task in pending)),
            )  # fmt: skip
            break
    for task in tasks:
        if task.done() and not task.cancelled():
            task.exception()  # retrieved: asyncio does not log it as never retrieved
