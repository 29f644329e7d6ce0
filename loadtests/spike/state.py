"""What the orchestrator tells the locust process (a `RunConfig`, the JSON file named by
`--spike-run`), and what the locust process shares between its customers, the shape and
the gate (`RUN`). No locust import here. Times are `time.monotonic()` since the shape
started (`t0`): phases, switches and samples on one axis."""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

from loadtests.spike.profile import Profile
from loadtests.spike.readings import Samples
from loadtests.spike.slo import Latency, Slo
from loadtests.spike.timeline import Recorder


@dataclass(frozen=True, slots=True, kw_only=True)
class RunConfig:
    profile: Profile
    host: str  # the front door's base URL
    ops: str  # its ops listener's base URL (/metrics)
    controls: dict[str, str]  # call center -> simulator control URL
    door_pid: int | None  # for its CPU in the timeline
    out: Path
    slo: Slo
    drain_s: float  # how long the gate waits for callbacks to be delivered

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(dataclasses.asdict(self), indent=2, default=str) + "\n")

    @classmethod
    def read(cls, path: Path) -> RunConfig:
        doc = json.loads(path.read_text())
        slo = dict(doc["slo"])
        slo["latency"] = {k: Latency(**v) for k, v in slo["latency"].items()}
        return cls(**doc | {"profile": Profile(**doc["profile"]), "out": Path(doc["out"]),
                            "slo": Slo(**slo), "drain_s": float(doc["drain_s"])})  # fmt: skip


ZIPF_S = 1.1  # bulletin popularity: rank r gets 1/r^s of the reads (a few get most hits)


@dataclass(slots=True)
class Catalog:
    """Bulletin ids with a skewed popularity: a seeded shuffle decides which ids are the
    hits, so the load does not just follow the front door's own ranking."""

    ids: list[int] = field(default_factory=list)
    cum_weights: list[float] = field(default_factory=list)

    @classmethod
    def zipf(
        cls, ids: list[int], *, s: float = ZIPF_S, rng: random.Random | None = None
    ) -> Catalog:
        """`ids` shuffled by `rng` (default: seeded), rank r weighing 1/r^s."""
        shuffled = list(ids)
        (rng or random.Random(7)).shuffle(shuffled)
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
