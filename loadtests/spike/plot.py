"""The run over time as one PNG: requests/s, p95/p99 latency, errors, where customers
arriving at /support were sent, and CPU, with the outage window shaded and the phases
marked. Reads `timeline.csv` and `events.json` from the output folder, writes spike.png
there (`python -m loadtests.spike` calls it at the end of a run)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import matplotlib as mpl

mpl.use("Agg")  # files only, no display

import matplotlib.pyplot as plt

from loadtests.spike.state import read_timeline

OUTAGE_COLOR = "#f4cccc"


def _column(rows: list[dict[str, str]], key: str) -> list[float]:
    return [float(r[key]) if r.get(key) not in (None, "") else math.nan for r in rows]


def plot(out: Path) -> Path:
    rows = read_timeline(out / "timeline.csv")
    events = json.loads((out / "events.json").read_text())
    t = [float(r["second"]) + 0.5 for r in rows]  # each bucket at its middle
    fig, axes = plt.subplots(5, 1, sharex=True, figsize=(12, 13), constrained_layout=True)
    rate, latency, errors, sent, cpu = axes

    def lines(ax: Any, ylabel: str, *series: tuple[str, str, str, str]) -> None:
        """(column, color, line style, label) each."""
        for key, color, style, label in series:
            ax.plot(t, _column(rows, key), color=color, linestyle=style, label=label)
        ax.set_ylabel(ylabel)

    lines(rate, "requests/s", ("requests", "#1f77b4", "-", "requests/s"))
    users = rate.twinx()
    users.plot(t, _column(rows, "users"), color="#7f7f7f", linestyle="--", label="users")
    users.set_ylabel("users")
    users.legend(loc="upper right")
    latency.set_yscale("log")
    lines(latency, "latency, ms (per second, all requests)", ("p50_ms", "#2ca02c", "-", "p50"),
          ("p95_ms", "#ff7f0e", "-", "p95"), ("p99_ms", "#d62728", "-", "p99"))  # fmt: skip
    lines(errors, "errors/s", ("failures", "#d62728", "-", "failed checks/s"),
          ("server_errors", "#000000", ":", "5xx or no answer/s"))  # fmt: skip
    errors.set_ylim(bottom=0, top=max(1.0, *(_column(rows, "failures") or [0.0])) * 1.2)
    sent.stackplot(t, *(_column(rows, k) for k in ("to_primary", "to_backup", "to_self_help")),
                   labels=["call center primary", "call center backup", "self-help (303)"],
                   colors=["#1f77b4", "#9467bd", "#2ca02c"])  # fmt: skip
    sent.set_ylabel("/support arrivals/s")
    lines(cpu, "CPU, % of one core", ("locust_cpu", "#8c564b", "-", "locust (load generator)"),
          ("door_cpu", "#1f77b4", "-", "front door"))  # fmt: skip
    cpu.axhline(90, color="#8c564b", linestyle=":", linewidth=1, label="locust's CPU warning")
    cpu.set_ylim(0, 110)
    cpu.set_xlabel("seconds since start")

    down, up = events.get("down_at"), events.get("up_at")
    end = float(events["profile"]["end"])
    for ax in axes:
        if down is not None:
            stop = up if up is not None else end
            ax.axvspan(down, stop, color=OUTAGE_COLOR, alpha=0.6, lw=0, zorder=0)
        for _, start, _ in events["phases"][1:]:
            ax.axvline(start, color="#bbbbbb", linewidth=0.8, zorder=0)
        for warning in events.get("cpu_warnings", []):
            ax.axvline(warning, color="#8c564b", linestyle="--", linewidth=0.8)
        for when, held in events.get("stalls", []):  # locust itself was held up
            ax.axvspan(when, when + held, color="#444444", alpha=0.25, lw=0)
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left")
    for name, start, stop in events["phases"]:
        rate.annotate(name, xy=((start + stop) / 2, 1.0), xycoords=("data", "axes fraction"),
                      ha="center", va="bottom", fontsize=8)  # fmt: skip
    profile = events["profile"]
    fig.suptitle(
        f"Spike test ({profile['name']}): call centers down (shaded) at "
        f"{_s(down)}, back at {_s(up)}; traffic 1.5x baseline in between",
    )
    path = out / "spike.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _s(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f} s"
