"""What the orchestrator tells the locust process (a `RunConfig`, the JSON file named by
`--spike-run`), and what the locust process shares between its customers, the shape and
the gate (`RUN`), with its `Recorder`: what happened second by second (requests,
destinations, users, CPU), for the plot and per phase and class for the report. Not
locust's `_stats_history.csv`: its percentiles are over a sliding 10 s window and it knows
nothing of destinations. No locust import here. Times are `time.monotonic()` since the
shape started (`t0`): phases, switches and samples on one axis."""

from __future__ import annotations

import csv
import dataclasses
import itertools
import json
import math
import random
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from loadtests.spike.profile import Profile
from loadtests.spike.readings import Samples
from loadtests.spike.slo import Slo


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
        doc = dataclasses.asdict(self) | {"slo": self.slo.model_dump()}
        path.write_text(json.dumps(doc, indent=2, default=str) + "\n")

    @classmethod
    def read(cls, path: Path) -> RunConfig:
        doc = json.loads(path.read_text())
        return cls(**doc | {"profile": Profile(**doc["profile"]), "out": Path(doc["out"]),
                            "slo": Slo.model_validate(doc["slo"]),
                            "drain_s": float(doc["drain_s"])})  # fmt: skip


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
        return rng.choices(self.ids, cum_weights=self.cum_weights)[0]

    def share_of_top(self, n: int) -> float:
        """Share of reads that go to the `n` most popular ids."""
        if not self.cum_weights:
            return 0.0
        return self.cum_weights[min(n, len(self.ids)) - 1] / self.cum_weights[-1]


DESTINATIONS: Final = ("primary", "backup", "self-help")
TIMELINE_FIELDS: Final = (
    "second", "phase", "users", "requests", "failures", "server_errors",
    "p50_ms", "p95_ms", "p99_ms", "to_primary", "to_backup", "to_self_help",
    "locust_cpu", "door_cpu",
)  # fmt: skip


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (`q` in 0..1) of already sorted values; NaN if none."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


@dataclass(slots=True)
class Recorder:
    """Samples keyed by whole seconds since the shape started (`t` arguments)."""

    latencies: dict[tuple[int, str], list[float]] = field(default_factory=lambda: defaultdict(list))
    failures: Counter[tuple[int, str]] = field(default_factory=Counter)  # by second and class
    server_errors: Counter[int] = field(default_factory=Counter)
    sent: dict[int, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    users: dict[int, int] = field(default_factory=dict)
    locust_cpu: dict[int, float] = field(default_factory=dict)
    door_cpu: dict[int, float] = field(default_factory=dict)

    def request(self, t: float, cls: str, ms: float, *, ok: bool, server_error: bool) -> None:
        s = int(t)
        self.latencies[s, cls].append(ms)
        if not ok:
            self.failures[s, cls] += 1
        if server_error:
            self.server_errors[s] += 1

    def _answers(self, seconds: range, cls: str = "all") -> tuple[list[float], int]:
        """The sorted answer times and the failures in `seconds` (of one class, or all)."""
        keys = [k for k in self.latencies if k[0] in seconds and cls in ("all", k[1])]
        failed = sum(self.failures[k] for k in keys)
        return sorted(v for k in keys for v in self.latencies[k]), failed

    def destination(self, t: float, where: str) -> None:
        self.sent[int(t)][where] += 1

    def gauges(self, t: float, *, users: int, locust_cpu: float, door_cpu: float) -> None:
        s = int(t)
        self.users[s] = users
        self.locust_cpu[s] = locust_cpu
        self.door_cpu[s] = door_cpu

    def seconds(self, end: float) -> range:
        """Whole seconds with samples, up to `end` (what comes after is locust stopping
        its users mid-request)."""
        keys = [s for s in {s for s, _ in self.latencies} | set(self.users) if s < end]
        return range(max(keys) + 1) if keys else range(0)

    def rows(self, profile: Profile) -> list[dict[str, object]]:
        out: list[dict[str, object]] = []
        for s in self.seconds(profile.end):
            values, failed = self._answers(range(s, s + 1))
            sent = self.sent.get(s, Counter())
            out.append(dict(zip(TIMELINE_FIELDS, (
                s, profile.phase(s + 0.5).value, self.users.get(s, ""), len(values), failed,
                self.server_errors[s],
                *(_fmt(percentile(values, q)) for q in (0.50, 0.95, 0.99)),
                sent["primary"], sent["backup"], sent["self-help"],
                _fmt(self.locust_cpu.get(s, math.nan)), _fmt(self.door_cpu.get(s, math.nan)),
            ), strict=True)))  # fmt: skip
        return out

    def write(self, path: Path, profile: Profile) -> None:
        with path.open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=TIMELINE_FIELDS)
            writer.writeheader()
            writer.writerows(self.rows(profile))

    def phase_table(self, profile: Profile, classes: Iterable[str]) -> list[PhaseStats]:
        """Per phase and request class: requests/s, failures, p95, p99."""
        out: list[PhaseStats] = []
        for phase, start, end in profile.phases():
            span = range(math.ceil(start), math.ceil(end))
            for cls in ("all", *classes):
                values, failed = self._answers(span, cls)
                out.append(PhaseStats(
                    phase=phase.value, cls=cls, requests=len(values), failures=failed,
                    rate=len(values) / max(end - start, 1e-9),
                    p95_ms=percentile(values, 0.95), p99_ms=percentile(values, 0.99),
                ))  # fmt: skip
        return out

    def cpu_by_phase(self, profile: Profile) -> list[tuple[str, float, float, float, float]]:
        """(phase, mean locust CPU %, max locust CPU %, mean door CPU %, max door CPU %)."""
        out = []
        for phase, start, end in profile.phases():
            span = range(math.ceil(start), math.ceil(end))
            loc = [self.locust_cpu[s] for s in span if s in self.locust_cpu]
            door = [self.door_cpu[s] for s in span if s in self.door_cpu]
            out.append((phase.value, *_mean_max(loc), *_mean_max(door)))
        return out


@dataclass(frozen=True, slots=True, kw_only=True)
class PhaseStats:
    phase: str
    cls: str
    requests: int
    rate: float
    failures: int
    p95_ms: float
    p99_ms: float


def _mean_max(values: Sequence[float]) -> tuple[float, float]:
    return (sum(values) / len(values), max(values)) if values else (math.nan, math.nan)


def _fmt(value: float) -> str:
    return "" if math.isnan(value) else f"{value:.2f}"


def read_timeline(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


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
