"""`AsyncResource`: a thing with `start()` and `aclose()` used as ``async with``; a start
that fails closes what it had opened before the error goes on (the harness's servers and
groups of them: sims/harness/redis.py, tests/support/sentinel.py, tests/support/frontdoor.py)."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class AsyncResource:
    async def start(self) -> None:
        """Open what the resource holds; nothing by default (a pool filled later)."""

    async def aclose(self) -> None:
        raise NotImplementedError

    async def __aenter__(self) -> Self:
        try:
            await self.start()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()
