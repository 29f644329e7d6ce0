"""The spike test's summary.md and slo.md (the gate's table)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from loadtests.spike.profile import PACE_S
from loadtests.spike.slo import CLASSES
from loadtests.spike.state import DESTINATIONS
from loadtests.tables import render, table

if TYPE_CHECKING:
    from loadtests.spike.gate import Observation
    from loadtests.spike.profile import Profile
    from loadtests.spike.slo import Check
    from loadtests.spike.state import RunConfig, RunState


def gate_markdown(checks: Sequence[Check]) -> str:
    rows = [(c.name, c.observed, c.limit, "pass" if c.ok else "**FAIL**") for c in checks]
    return "\n".join(table(["check", "observed", "limit", "result"], rows, align="lrrl")) + "\n"


@dataclass(frozen=True, slots=True, kw_only=True)
class ClassRow:
    """One request class over the whole run, from locust's stats."""

    cls: str
    name: str
    requests: int
    failures: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def _pct(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.0f}%"


def _phase_lines(run: RunState, profile: Profile) -> list[str]:
    rows = {(s.phase, s.cls): s for s in run.recorder.phase_table(profile, CLASSES)}
    cpu = {c[0]: c[1:] for c in run.recorder.cpu_by_phase(profile)}
    phases = []
    for phase, start, end in profile.phases():
        target = profile.target(max(start, end - 0.01))
        s, (lc_mean, lc_max, dc_mean, dc_max) = rows[phase.value, "all"], cpu[phase.value]
        phases.append((phase.value, f"{start:g}-{end:g}", target[0] if target else 0,
                       f"{s.rate:.0f}", s.failures, _ms(s.p95_ms), _ms(s.p99_ms),
                       f"{_pct(lc_mean)} / {_pct(lc_max)}",
                       f"{_pct(dc_mean)} / {_pct(dc_max)}"))  # fmt: skip
    names = [p.value for p, _, _ in profile.phases()]

    def cell(phase: str, cls: str) -> str:
        s = rows[phase, cls]
        return f"{_ms(s.p95_ms)} / {_ms(s.p99_ms)}" if s.requests else "-"

    return [*table(["phase", "s", "users (target)", "requests/s", "failures", "p95 ms", "p99 ms",
                    "locust CPU mean / max", "front door CPU mean / max"], phases, align="llr"),
            "", "p95 / p99 in ms by request class and phase:", "",
            *table(["class", *names],
                   [[c, *(cell(n, c) for n in names)] for c in CLASSES])]  # fmt: skip


def spike_summary(
    run: RunState, config: RunConfig, seen: Observation, checks: Sequence[Check]
) -> str:
    """summary.md: what happened phase by phase, and the gate."""
    p, sent = config.profile, []
    for phase, start, end in p.phases():
        total: Counter[str] = Counter()
        for s in range(math.ceil(start), math.ceil(end)):
            total.update(run.recorder.sent.get(s, Counter()))
        sent.append([phase.value, *(total[d] for d in DESTINATIONS)])

    def at(value: float | None) -> str:
        return "never" if value is None else f"{value:.2f} s"

    classes = table(
        ["class", "locust name", "requests", "failures", "p50 ms", "p95 ms", "p99 ms", "max ms"],
        [(c.cls, f"`{c.name}`", c.requests, c.failures, _ms(c.p50_ms), _ms(c.p95_ms),
          _ms(c.p99_ms), _ms(c.max_ms)) for c in seen.classes], align="llr",
    )  # fmt: skip
    return render(
        "spike-summary.md", p=p, run=run, o=seen.observed, found=seen.callbacks,
        pace=f"{PACE_S:g}", down=at(run.down_at), up=at(run.up_at), planned_down=f"{p.down_at:g}",
        planned_up=f"{p.up_at:g}", phases=_phase_lines(run, p), classes=classes,
        stalls=", ".join(f"{d:.2f} s at {t:.0f} s" for t, d in run.stalls),
        sent=table(["phase", *DESTINATIONS], sent), gate=gate_markdown(checks),
        lookups=", ".join(f"{k}: {v:.0f}" for k, v in seen.lookups.items()),
    )  # fmt: skip
