"""Request coalescing ("single flight"): concurrent misses for one key share one fetch.

The first caller of `run(key, fetch)` starts the fetch as a named task; callers that
arrive while it runs await the same task. A caller that is cancelled (its customer went
away) does not cancel the shared fetch: the others still need it (`asyncio.shield`).
The task is forgotten when it ends, success or failure, so the next miss fetches again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

from kernel.tasks import cancel_and_wait

T = TypeVar("T")


class SingleFlight(Generic[T]):
    def __init__(self, name: str) -> None:
        self._name = name
        self._inflight: dict[Hashable, asyncio.Task[T]] = {}

    @property
    def inflight(self) -> int:
        return len(self._inflight)

    async def run(self, key: Hashable, fetch: Callable[[], Awaitable[T]]) -> T:
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.create_task(_call(fetch), name=f"{self._name}:{key}")
            self._inflight[key] = task
            task.add_done_callback(lambda _: self._inflight.pop(key, None))
        return await asyncio.shield(task)

    async def aclose(self) -> None:
        """Cancel what is still in flight (at shutdown)."""
        await cancel_and_wait(*self._inflight.values())


async def _call(fetch: Callable[[], Awaitable[T]]) -> T:
    return await fetch()
