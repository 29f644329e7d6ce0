"""Stopping background tasks: one way, used by every component that runs some."""

from __future__ import annotations

import asyncio
from typing import Any


async def cancel_and_wait(*tasks: asyncio.Task[Any]) -> None:
    """Cancel `tasks` and wait until each has ended. What they raised on the way out is
    dropped (they are being stopped); a cancellation of the caller itself still
    propagates, which `contextlib.suppress(CancelledError)` around `await task` would
    swallow."""
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
