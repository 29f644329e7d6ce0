"""Two load-shaped checks of the failover contract, shared by the aiohttp front door's tests
(tests/integration/test_failover_routing.py) and their HAProxy twins
(tests/integration/test_dataplane_haproxy.py).

Each phase lasts until the customers have seen what it is about (bounded), never a fixed
sleep: on a slow machine the checks only take longer, they do not change their verdict.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable

import aiohttp
from multidict import CIMultiDict

from failover.pool import HealthChange
from failover.routing import RouteChange
from tests.support.stack import Stack, wait_for

TIMEOUT = aiohttp.ClientTimeout(total=10, sock_connect=2, sock_read=10)
CUSTOMERS = 20
PER_PHASE = 20  # answers from each source before the next fault
PHASE_WITHIN = 15.0  # seconds; a bound, not a pace


async def get(
    session: aiohttp.ClientSession, url: str, **kw: object
) -> tuple[int, CIMultiDict[str], bytes]:
    """HAProxy writes header names in lower case: look them up case-insensitively."""
    async with session.get(url, allow_redirects=False, timeout=TIMEOUT, **kw) as resp:  # type: ignore[arg-type]
        return resp.status, CIMultiDict(resp.headers), await resp.read()


async def customers_while_both_die(
    s: aiohttp.ClientSession, url: str, stack: Stack
) -> tuple[Counter[int], Counter[str]]:
    """CUSTOMERS customers ask for a page in a loop; once PER_PHASE answers came from the
    primary it resets every connection, once as many came from the backup that one refuses,
    and the run ends when as many came from self-help. Returns the status codes and who
    served (X-Served-By, or "self-help")."""
    codes: Counter[int] = Counter()
    served_by: Counter[str] = Counter()
    stop = asyncio.Event()

    async def customer(i: int) -> None:
        while not stop.is_set():
            status, headers, _ = await get(s, f"{url}/support/billing?c={i}")
            codes[status] += 1
            served_by[headers.get("X-Served-By", "self-help")] += 1

    tasks = [asyncio.create_task(customer(i), name=f"customer-{i}") for i in range(CUSTOMERS)]

    async def answered_by(source: str) -> None:
        await wait_for(
            lambda: served_by[source] >= PER_PHASE,
            within=PHASE_WITHIN,
            what=f"{PER_PHASE} answers from {source}",
        )

    try:
        await answered_by("primary")
        await stack.centers["primary"].fault.set_mode("reset")
        await answered_by("backup")
        await stack.centers["backup"].fault.set_mode("refuse")
        await answered_by("self-help")
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    return codes, served_by


async def flapping_primary_stays_unrouted(
    s: aiohttp.ClientSession,
    url: str,
    stack: Stack,
    *,
    followed: Callable[[], Awaitable[bool]] | None = None,
) -> None:
    """With `[routing] hold_down_ms` longer than the flap: the primary flaps every 300 ms;
    once the routing has moved to the backup (and `followed()` holds: the data plane has
    caught up), for at least 1.5 s the routing does not move and every customer is served
    by the backup while the primary keeps flapping. How many requests the primary served before
    the move depends on the machine's speed, so that phase is not counted."""
    pool = stack.pool
    await stack.centers["primary"].sim.set_mode("flap", period_ms=300)
    await wait_for(
        lambda: pool.snapshot().router.current == "backup", within=5, what="route to backup"
    )
    if followed is not None:
        await wait_for(followed, within=5, what="the data plane follows")
    since = time.monotonic()  # the pool's clock (the system's) in these stacks
    served: Counter[str] = Counter()
    flaps = 0
    # At least 1.5 s, and on until the primary flapped twice and 10 customers were served
    # (a slow machine takes longer), bounded at 10 s; the flap never lasts the hold-down.
    while time.monotonic() - since < 10:
        status, headers, _ = await get(s, f"{url}/support/billing")
        assert status == 200
        served[headers["X-Served-By"]] += 1
        timeline = pool.snapshot().timeline
        moves = [e for e in timeline if isinstance(e, RouteChange) and e.at >= since]
        assert moves == []  # it held
        flaps = len(
            [e for e in timeline if isinstance(e, HealthChange) and e.transition.at >= since]
        )
        if time.monotonic() - since >= 1.5 and flaps >= 2 and served.total() >= 10:
            break
        await asyncio.sleep(0.02)
    assert flaps >= 2  # the primary really flapped meanwhile
    assert served["primary"] == 0, served
    assert served["backup"] >= 10, served
