"""The outage as self-help pages show it (cache/rendered.py `Outage`), from the pool's
routing (failover/): built here, in the composition root, because it joins the two
siblings.
"""

from __future__ import annotations

from collections.abc import Callable

from cache.rendered import Outage
from failover.pool import Pool
from failover.routing import SELF_HELP
from failover.status import wall_of
from kernel.clock import Clock


def outage_of(pool: Pool, clock: Clock, message: str = "") -> Outage:
    router = pool.snapshot().router
    if router.current != SELF_HELP:
        return Outage(active=False, message=message)
    return Outage(
        active=True, since=wall_of(router.since, clock), reason=router.reason, message=message
    )


class OutageView:
    """`outage_of`, computed once per pool change or change of the operator's message
    (`message`: the admin API's, else [branding] message): self-help pages ask on every
    request, and the same object back lets them key cached pages on it by identity."""

    def __init__(self, pool: Pool, clock: Clock, message: Callable[[], str] = lambda: "") -> None:
        self._pool = pool
        self._clock = clock
        self._message = message
        self._version = -1
        self._said = ""
        self._outage = Outage(active=False)

    def __call__(self) -> Outage:
        version = self._pool.version
        said = self._message()
        if version != self._version or said != self._said:
            outage = outage_of(self._pool, self._clock, said)
            if outage != self._outage:
                self._outage = outage
            self._version = version
            self._said = said
        return self._outage
