"""Customers for the failover bench: a steady, open-loop load of support-page visits.

One visit every 1/`rate` s on a fixed schedule, each on its own (a slow answer never
delays the next customer), for `before` s, then the fault is injected (in a thread, so
that the schedule goes on), then `after` s more. Each customer waits at most
`PATIENCE_S` for the final page, then gives up. Latency runs from the scheduled send
time to the last byte of the final page.

What a customer ends up with (`Outcome`), read from the answer, not from the server:

- a 200 with `X-Served-By: primary` or `backup`: the call center's page;
- a 303 to a same-site path whose GET is 200: the self-help site (not an error);
- the static help page (nginx's `error_page`): not an error if its status is 200, an
  error if it is a 5xx, however friendly its body;
- any other 5xx, no answer within `PATIENCE_S`, a connection error, anything else:
  errors.

Pinned to core 1 with the simulators; loopback only; bounded in requests and seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import aiohttp

from loadtests.bench.nginx import HELP_MARK
from loadtests.bench.stage import pinned

SIDE_CORE = 1
PATIENCE_S = 10.0  # a customer who has waited this long gives up: an error
PATH = "/support/router/setup"


class Outcome(StrEnum):
    PRIMARY = "primary"
    BACKUP = "backup"
    SELF_HELP = "self-help (200)"
    HELP_5XX = "help page with a 5xx"
    SERVER_ERROR = "other 5xx"
    TIMEOUT = "no answer in time"
    CONNECTION = "connection error"
    OTHER = "other answer"

    @property
    def is_error(self) -> bool:
        return self in ERRORS


ERRORS = frozenset(
    {Outcome.HELP_5XX, Outcome.SERVER_ERROR, Outcome.TIMEOUT, Outcome.CONNECTION, Outcome.OTHER}
)


@dataclass(frozen=True, slots=True)
class Visit:
    sent: float  # seconds from the start of the load, as scheduled
    seconds: float  # until the final page, or until the customer gave up
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class Load:
    visits: list[Visit]
    fault_at: float  # seconds from the start of the load: when injecting began
    fault_took: float  # how long the injection call took
    max_lag: float  # how late the generator sent a visit, at worst (seconds)

    def after_fault(self) -> list[Visit]:
        return [v for v in self.visits if v.sent >= self.fault_at]

    def before_fault(self) -> list[Visit]:
        return [v for v in self.visits if v.sent < self.fault_at]


def _classify(status: int, served_by: str, body: bytes) -> Outcome:
    if HELP_MARK in body:
        return Outcome.SELF_HELP if status == 200 else Outcome.HELP_5XX
    if status == 200 and served_by in {"primary", "backup"}:
        return Outcome(served_by)
    if status >= 500:
        return Outcome.SERVER_ERROR
    return Outcome.OTHER


async def _visit(session: aiohttp.ClientSession, base: str) -> Outcome:
    async with session.get(base + PATH, allow_redirects=False) as answer:
        body = await answer.read()
        status, served_by = answer.status, answer.headers.get("X-Served-By", "")
        location = answer.headers.get("Location", "")
    if status != 303:
        return _classify(status, served_by, body)
    if not location.startswith("/") or location.startswith("//"):
        return Outcome.OTHER  # the front door only ever redirects same-site
    async with session.get(base + location, allow_redirects=False) as page:
        await page.read()
        if page.status == 200:
            return Outcome.SELF_HELP
        return Outcome.SERVER_ERROR if page.status >= 500 else Outcome.OTHER


async def _customer(
    session: aiohttp.ClientSession, base: str, at: float, t0: float, out: list[Visit]
) -> None:
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(PATIENCE_S):
            outcome = await _visit(session, base)
    except TimeoutError:
        outcome = Outcome.TIMEOUT
    except (aiohttp.ClientError, OSError):
        outcome = Outcome.CONNECTION
    out.append(Visit(at - t0, min(loop.time() - at, PATIENCE_S), outcome))


async def _run(
    base: str, inject: Callable[[], None], *, rate: float, before: float, after: float
) -> Load:
    loop = asyncio.get_running_loop()
    visits: list[Visit] = []
    tasks: set[asyncio.Task[None]] = set()
    # A customer per connection at most: hung ones must not hold up the next customer.
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(
        total=PATIENCE_S + 1, sock_connect=PATIENCE_S, sock_read=PATIENCE_S
    )
    injected: asyncio.Task[float] | None = None
    fault_at, max_lag = before, 0.0
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        t0 = loop.time()
        for i in range(round(rate * (before + after))):
            at = t0 + i / rate
            if injected is None and at - t0 >= before:
                fault_at = loop.time() - t0
                injected = asyncio.create_task(_timed(inject), name="failover-inject")
            await asyncio.sleep(max(0.0, at - loop.time()))
            max_lag = max(max_lag, loop.time() - at)
            task = asyncio.create_task(_customer(session, base, at, t0, visits), name="customer")
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(set(tasks))
    took = await injected if injected is not None else 0.0
    return Load(sorted(visits, key=lambda v: v.sent), fault_at, took, max_lag)


async def _timed(inject: Callable[[], None]) -> float:
    began = time.monotonic()
    await asyncio.to_thread(inject)
    return time.monotonic() - began


def run_load(
    base: str, inject: Callable[[], None], *, rate: float, before: float, after: float
) -> Load:
    """The load against `base`, `inject` called after `before` s; pinned to core 1."""
    with pinned(SIDE_CORE):
        return asyncio.run(_run(base, inject, rate=rate, before=before, after=after))
