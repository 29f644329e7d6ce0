"""A bounded customer load for tests against a running front door (or a load balancer
before several): `Load.workers` coroutines, each one request at a time with a pause, so
it is bounded in rate and in connections. Every answer's status, every transport failure
and every ticket of a 202 is kept; redirects are not followed unless asked (a 303 to
self-help is an answer, not an error).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from typing import Final

import aiohttp

MIX: Final = ("support", "help", "callback")


class Load:
    """Customers: GET /support/router/setup, GET /help, POST /help/callbacks, in turn."""

    def __init__(
        self, session: aiohttp.ClientSession, url: str, *, tag: str, workers: int = 6,
        pause: float = 0.01, mix: Sequence[str] = MIX, follow: bool = False,
    ) -> None:  # fmt: skip
        self.session, self.url, self.tag = session, url, tag
        self.workers, self.pause, self.mix = workers, pause, tuple(mix)
        self.follow = follow  # a 303 to self-help: the answer, or the page it leads to
        self.statuses: Counter[int] = Counter()
        self.failures: list[str] = []
        self.tickets: list[tuple[float, str]] = []  # (monotonic time answered, ticket)
        self.in_flight = 0
        self._stop = asyncio.Event()

    @property
    def answered(self) -> int:
        return sum(self.statuses.values())

    @property
    def errors(self) -> int:
        """What a customer would see as an error: no answer at all, or a 5xx."""
        return len(self.failures) + sum(n for s, n in self.statuses.items() if s >= 500)

    async def _one(self, worker: int, i: int) -> None:
        kind = self.mix[i % len(self.mix)]
        self.in_flight += 1
        try:
            if kind == "support":
                async with self.session.get(f"{self.url}/support/router/setup",
                                            allow_redirects=self.follow) as r:  # fmt: skip
                    await r.read()
            elif kind == "help":
                async with self.session.get(f"{self.url}/help") as r:
                    await r.read()
            else:
                key = f"{self.tag}-{worker}-{i}"
                body = {"name": f"C {key}", "phone": "+14155552671", "topic": "router"}
                async with self.session.post(f"{self.url}/help/callbacks", json=body,
                                             headers={"Idempotency-Key": key}) as r:  # fmt: skip
                    answer = await r.json()
                    if r.status == 202:
                        self.tickets.append((time.monotonic(), answer["ticket"]))
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.failures.append(f"{kind}: {type(exc).__name__}: {exc}")
            return
        finally:
            self.in_flight -= 1
        self.statuses[r.status] += 1

    async def _worker(self, worker: int, deadline: float) -> None:
        i = 0
        while not self._stop.is_set() and time.monotonic() < deadline:
            await self._one(worker, i)
            i += 1
            await asyncio.sleep(self.pause)

    async def run(self, within: float) -> None:
        deadline = time.monotonic() + within
        await asyncio.gather(*(self._worker(w, deadline) for w in range(self.workers)))

    def stop(self) -> None:
        self._stop.set()

    def summary(self) -> str:
        return (f"{self.answered} answered {dict(sorted(self.statuses.items()))}, "
                f"{len(self.failures)} without an answer, {len(self.tickets)} callbacks "
                f"acknowledged")  # fmt: skip
