"""The soak's report (loadtests/results/soak.md) and the latency table in it."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from loadtests.tables import render, table

if TYPE_CHECKING:
    from loadtests.soak import Limits
    from loadtests.soak import Sample as SoakSample


def soak(
    samples: list[SoakSample], *, run: Mapping[str, object], found: list[str], limits: Limits
) -> str:
    """The soak's `run` (its options, start, cores, locust's exit code and latency table),
    its samples, and what grew past its limit."""

    def warm(s: SoakSample) -> str:
        return " (warm-up)" if s.minute < limits.warmup_minutes else ""

    rows = table(
        ["minute", "front door RSS (MiB)", "open fds", "threads", "metric series",
         "Redis used (MiB)", "requests answered", "5xx to customers"],
        [(f"{s.minute:.1f}{warm(s)}", f"{s.rss_mib:.1f}", s.fds, s.threads, s.series,
          f"{s.redis_mib:.2f}", f"{s.requests:,}", s.server_errors) for s in samples],
        align="r",
    )  # fmt: skip
    return render("soak.md", run=run, samples=rows, found=found, limits=limits)


def soak_latency(stats: Path) -> str:
    """Locust's percentiles per request kind, all of them last, as a markdown table."""
    try:
        with stats.open(newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as exc:
        return f"(no latency recorded: {exc})"

    def name(row: dict[str, str]) -> str:
        return "all" if row.get("Name") == "Aggregated" else f"{row.get('Type')} {row.get('Name')}"

    ordered = sorted(rows, key=lambda r: r.get("Name") == "Aggregated")
    head = ["request", "answers", "failed", "p50 (ms)", "p95 (ms)", "p99 (ms)"]
    cells = ("Request Count", "Failure Count", "50%", "95%", "99%")
    return "\n".join(table(head, [[name(r), *(r.get(c) for c in cells)] for r in ordered]))
