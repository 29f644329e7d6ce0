"""The run's own files besides locust's: `summary.md` (what happened, phase by phase,
and the gate), `slo.json`, `events.json` (the switches and CPU warnings, for the plot).
No locust import: the listeners hand over plain values.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loadtests.spike.callbacks import Reconciled
from loadtests.spike.profile import PACE_S, Profile
from loadtests.spike.runconfig import RunConfig
from loadtests.spike.slo import CLASSES, Check, Observed, markdown
from loadtests.spike.state import RunState
from loadtests.spike.timeline import DESTINATIONS


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


def gate_json(ok: bool, checks: Sequence[Check]) -> dict[str, Any]:
    return {"passed": ok, "checks": [dataclasses.asdict(c) for c in checks]}


def write_events(path: Path, run: RunState, config: RunConfig) -> None:
    doc = {
        "profile": dataclasses.asdict(config.profile),
        "down_at": run.down_at,
        "up_at": run.up_at,
        "cpu_warnings": run.cpu_warnings,
        "stalls": run.stalls,
        "phases": [[p.value, a, b] for p, a, b in config.profile.phases()],
    }
    path.write_text(json.dumps(doc, indent=2) + "\n")


def _ms(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.0f}" if value >= 100 else f"{value:.1f}"


def _pct(value: float) -> str:
    return "-" if math.isnan(value) else f"{value:.0f}%"


def _phase_lines(run: RunState, profile: Profile) -> list[str]:
    rows = {(s.phase, s.cls): s for s in run.recorder.phase_table(profile, CLASSES)}
    cpu = {c[0]: c[1:] for c in run.recorder.cpu_by_phase(profile)}
    lines = [
        "| phase | s | users (target) | requests/s | failures | p95 ms | p99 ms "
        "| locust CPU mean / max | front door CPU mean / max |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for phase, start, end in profile.phases():
        target = profile.target(max(start, end - 0.01))
        users = target[0] if target is not None else 0
        s = rows[phase.value, "all"]
        lc_mean, lc_max, dc_mean, dc_max = cpu[phase.value]
        lines.append(
            f"| {phase.value} | {start:g}-{end:g} | {users} | {s.rate:.0f} | {s.failures} "
            f"| {_ms(s.p95_ms)} | {_ms(s.p99_ms)} | {_pct(lc_mean)} / {_pct(lc_max)} "
            f"| {_pct(dc_mean)} / {_pct(dc_max)} |"
        )
    lines += ["", "p95 / p99 in ms by request class and phase:", ""]
    head = "| class | " + " | ".join(p.value for p, _, _ in profile.phases()) + " |"
    lines += [head, "|---|" + "---:|" * len(profile.phases())]
    for cls in CLASSES:
        cells = []
        for phase, _, _ in profile.phases():
            s = rows[phase.value, cls]
            cells.append(f"{_ms(s.p95_ms)} / {_ms(s.p99_ms)}" if s.requests else "-")
        lines.append(f"| {cls} | " + " | ".join(cells) + " |")
    return lines


def _destinations(run: RunState, profile: Profile) -> list[str]:
    lines = [
        "| phase | " + " | ".join(DESTINATIONS) + " |",
        "|---|" + "---:|" * len(DESTINATIONS),
    ]
    for phase, start, end in profile.phases():
        total: Counter[str] = Counter()
        for s in range(math.ceil(start), math.ceil(end)):
            total.update(run.recorder.sent.get(s, Counter()))
        lines.append(f"| {phase.value} | " + " | ".join(str(total[d]) for d in DESTINATIONS) + " |")
    return lines


@dataclass(frozen=True, slots=True, kw_only=True)
class Summary:
    run: RunState
    config: RunConfig
    observed: Observed
    classes: Sequence[ClassRow]
    callbacks: Reconciled | None
    lookups: dict[str, float]
    checks: Sequence[Check]


def write_summary(path: Path, summary: Summary) -> None:
    run, config, observed = summary.run, summary.config, summary.observed
    classes, callbacks, lookups, checks = (
        summary.classes, summary.callbacks, summary.lookups, summary.checks,
    )  # fmt: skip
    p = config.profile
    lines = [
        f"# Spike test: profile `{p.name}`",
        "",
        f"Baseline {p.baseline_users} customers, spike {p.spike_users} (1.5x); each does one "
        f"thing every {PACE_S:g} s. Call centers switched down at "
        f"{_at(run.down_at)} and up at {_at(run.up_at)} (planned {p.down_at:g} s and "
        f"{p.up_at:g} s). Locust CPU warnings: {len(run.cpu_warnings)}; its event loop held "
        f"up: {_stalls(run)}.",
        "",
        "## Phases",
        "",
        *_phase_lines(run, p),
        "",
        "## Whole run, by request class (locust's numbers)",
        "",
        "| class | locust name | requests | failures | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
        *[
            f"| {c.cls} | `{c.name}` | {c.requests} | {c.failures} | {_ms(c.p50_ms)} "
            f"| {_ms(c.p95_ms)} | {_ms(c.p99_ms)} | {_ms(c.max_ms)} |"
            for c in classes
        ],
        "",
        f"All: {observed.requests} requests, {observed.failures} failed, "
        f"{observed.server_errors} customer-visible 5xx or no answer.",
        "",
        "## Where customers arriving at /support were sent",
        "",
        *_destinations(run, p),
        "",
        "## Self-help cache and callbacks (the front door's /metrics, over the test)",
        "",
        "Lookups: "
        + (", ".join(f"{k}: {v:.0f}" for k, v in lookups.items()) or "not measured")
        + ".",
        "",
        _callbacks_line(callbacks),
        "",
        "## SLO gate",
        "",
        markdown(checks),
    ]
    path.write_text("\n".join(lines) + "\n")


def _stalls(run: RunState) -> str:
    if not run.stalls:
        return "never"
    return ", ".join(f"{d:.2f} s at {t:.0f} s" for t, d in run.stalls)


def _at(value: float | None) -> str:
    return "never" if value is None else f"{value:.2f} s"


def _callbacks_line(found: Reconciled | None) -> str:
    if found is None:
        return "Callbacks: not reconciled (the run did not complete or the stack did not answer)."
    return (
        f"Callbacks: {found.accepted} accepted (202), {found.delivered} delivered, "
        f"{found.lost} lost, {found.duplicated} delivered more than once, {found.repeats} "
        f"idempotent repeats, {found.unknown} unknown tickets."
    )
