"""A breaker around a dependency of the self-help layer (Redis, the community site).

The front door's Envoy-style `Breaker` (kernel/breaker.py), read on the app's monotonic
clock, so that a dead dependency costs one timeout, not one per request.
"""

from __future__ import annotations

import logging
from typing import Final

from kernel.breaker import Breaker, Outcome, OutlierPolicy
from kernel.clock import Clock

log = logging.getLogger("switchboard.selfhelp")

# A dependency that failed twice in a row is skipped for a while, growing on repeats.
DEPENDENCY_BREAKER: Final = OutlierPolicy(
    consecutive_5xx=2, consecutive_local_failures=2, base_ejection_time=5.0,
    max_ejection_time=60.0,
)  # fmt: skip


class Dependency:
    """A breaker around Redis or the origin, read with the monotonic clock."""

    def __init__(self, name: str, clock: Clock) -> None:
        self.name = name
        self._now = clock.monotonic
        self._breaker = Breaker()

    @property
    def open(self) -> bool:
        return self._breaker.is_ejected(self._now())

    def record(self, ok: bool) -> None:
        outcome = Outcome.SUCCESS if ok else Outcome.LOCAL_FAILURE
        before = self.open
        self._breaker, ejection = self._breaker.record(
            outcome, now=self._now(), policy=DEPENDENCY_BREAKER
        )
        if ejection is not None and not before:
            seconds = ejection.until - self._now()
            log.warning("%s unreachable: skipping it for %.0f s", self.name, seconds)
