"""The callback bench's report (loadtests/results/callbacks.md)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from loadtests.bench.callbacks import BARE, BODY
from loadtests.bench.measure import WARMUP_S
from loadtests.bench.stage import DOOR
from loadtests.tables import machine, median, render, table

if TYPE_CHECKING:
    from loadtests.bench.callbacks import Run


@dataclass(frozen=True, slots=True, kw_only=True)
class CallbackSetup:
    seconds: int
    rounds: int
    connections: int
    redis_version: str
    durability: dict[str, str]  # CONFIG GET append*, as the run started
    filesystem: str  # where Redis kept its AOF
    conf: Path


def callbacks(results: dict[str, dict[str, list[Run]]], s: CallbackSetup) -> str:
    def rounds(runs: list[Run]) -> list[Run]:
        return [r for r in runs if r.label.startswith("round")]

    def med(runs: list[Run], field: str) -> float:
        return median(float(getattr(r, field)) for r in rounds(runs))

    def ratio(top: list[Run], bottom: list[Run], field: str) -> str:
        return f"{med(top, field) / med(bottom, field):.2f}"

    every = [(p, n, r) for p, by in results.items() for n, rs in by.items() for r in rs]
    bad = sum(bool(r.problems(s.connections)) for _, _, r in every)
    accepted = table(
        ["appendfsync", "contender", "accepted/s (median)", "rounds, accepted/s",
         "server CPU us/request", "server's core busy", "Redis CPU us/callback", "p50 ms",
         "p99 ms", "non-2xx", "socket errors"],
        [(policy, name, f"{med(runs, 'accepted_per_s'):.0f}",
          " / ".join(f"{r.accepted_per_s:.0f}" for r in rounds(runs)),
          f"{med(runs, 'cpu_us'):.0f}", f"{med(runs, 'server_busy'):.0%}",
          f"{med(runs, 'redis_cpu_us'):.1f}", f"{med(runs, 'p50_ms'):.2f}",
          f"{med(runs, 'p99_ms'):.2f}", sum(r.non_2xx for r in runs),
          sum(r.socket_errors for r in runs))
         for policy, by in results.items() for name, runs in by.items()],
        align="llrlr",
    )  # fmt: skip
    ratios = table(
        ["appendfsync", "accepted/s, front door / baseline",
         "server CPU per request, baseline / front door",
         "Redis CPU per callback, baseline / front door"],
        [(policy, ratio(n[DOOR], n[BARE], "accepted_per_s"), ratio(n[BARE], n[DOOR], "cpu_us"),
          ratio(n[BARE], n[DOOR], "redis_cpu_us")) for policy, n in results.items()],
    )  # fmt: skip
    checks = table(
        ["appendfsync", "contender", "run", "202s (wrk)", "new entries", "entries - 202s",
         "front door counted (redis / spool)", "check"],
        [(p, n, r.label, r.acks, r.entries, r.unanswered,
          "-" if r.counted is None else f"{r.counted:.0f} / {r.spooled:.0f}",
          "; ".join(r.problems(s.connections)) or "ok") for p, n, r in every],
        align="lllrrrrl",
    )  # fmt: skip
    return render(
        "callbacks.md", s=s, machine=machine(), body=BODY.decode(), size=len(BODY),
        warmup_s=WARMUP_S, accepted=accepted, ratios=ratios, checks=checks, bad=bad,
        runs=len(every),
    )  # fmt: skip
