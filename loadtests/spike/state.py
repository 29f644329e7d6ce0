"""What the locust process shares between its customers, the shape and the gate: one
`RUN`, filled in by the event listeners (`listeners.py`). No locust import here.

Clock: `time.monotonic()`, made relative to the moment the shape started (`t0`), so that
phase boundaries, the outage switches and every sample are on one axis.
"""

from __future__ import annotations

import bisect
import itertools
import random
import time
from dataclasses import dataclass, field

from loadtests.spike.appmetrics import Samples
from loadtests.spike.runconfig import RunConfig
from loadtests.spike.timeline import Recorder

ZIPF_S = 1.1  # bulletin popularity: rank r gets 1/r^s of the reads (a few get most hits)


@dataclass(slots=True)
class Catalog:
    """Bulletin ids with a skewed popularity: a seeded shuffle decides which ids are the
    hits, so the load does not just follow the front door's own ranking."""

    ids: list[int] = field(default_factory=list)
    cum_weights: list[float] = field(default_factory=list)

    @classmethod
    def zipf(cls, ids: list[int], *, s: float = ZIPF_S, seed: int = 7) -> Catalog:
        shuffled = list(ids)
        random.Random(seed).shuffle(shuffled)
        weights = [1 / (rank**s) for rank in range(1, len(shuffled) + 1)]
        return cls(ids=shuffled, cum_weights=list(itertools.accumulate(weights)))

    def pick(self, rng: random.Random) -> int:
        x = rng.random() * self.cum_weights[-1]
        return self.ids[min(bisect.bisect_right(self.cum_weights, x), len(self.ids) - 1)]

    def share_of_top(self, n: int) -> float:
        """Share of reads that go to the `n` most popular ids."""
        if not self.cum_weights:
            return 0.0
        return self.cum_weights[min(n, len(self.ids)) - 1] / self.cum_weights[-1]


@dataclass(slots=True)
class RunState:
    config: RunConfig | None = None
    t0: float | None = None
    down_at: float | None = None  # when the "down" switch was sent, seconds since t0
    up_at: float | None = None
    switch_problems: list[str] = field(default_factory=list)
    completed: bool = False  # the shape ran to its end (not interrupted)
    catalog: Catalog = field(default_factory=Catalog)
    recorder: Recorder = field(default_factory=Recorder)
    tickets: set[str] = field(default_factory=set)
    metrics_before: Samples = field(default_factory=dict)
    cpu_warnings: list[float] = field(default_factory=list)
    stalls: list[tuple[float, float]] = field(default_factory=list)  # (when, how long) s

    def now(self) -> float:
        """Seconds since the shape started (0 before it did)."""
        return 0.0 if self.t0 is None else time.monotonic() - self.t0

    def need_config(self) -> RunConfig:
        if self.config is None:
            raise RuntimeError(
                "no run config: start the spike with `python -m loadtests.spike` "
                "(or give locust --spike-run FILE)"
            )
        return self.config


RUN = RunState()
