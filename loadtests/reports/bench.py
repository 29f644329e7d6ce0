"""The benches' reports that are a table or a few (loadtests/results/: proxy.md, workers.md,
callbacks.md, index.md, dataplane.md), and the wall-clock (wrk) and instruction
(callgrind) tables the self-help report's part 1 shares. The self-help and failover
reports have modules of their own."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from loadtests.bench import nginx
from loadtests.bench.callbacks import BARE, BODY
from loadtests.bench.measure import WARMUP, WARMUP_S
from loadtests.bench.stage import BASELINES, DOOR
from loadtests.tables import machine, median, render, table

if TYPE_CHECKING:
    from loadtests.bench.callbacks import Run
    from loadtests.bench.measure import Result, Wrk

HAPROXY_MODE = "haproxy mode (Switchboard deciding)"
AIOHTTP_DOOR = "aiohttp front door"
BARE_HAPROXY = "bare HAProxy"


@dataclass(frozen=True, slots=True)
class Plan:
    seconds: int
    rounds: int
    requests: int | None  # None: no instruction count


def wallclock_table(
    results: dict[str, list[Result]], *, baselines: Sequence[str] = BASELINES,
    reference: str | None = None,
) -> list[str]:  # fmt: skip
    """Every contender's medians; the front door against each baseline (the goal); and,
    if `reference` (nginx) ran, every other contender against it (no goal). The heading,
    with the rounds: the report's template."""
    m = {n: {f: median(getattr(r, f) for r in rs) for f in ("rps", "cpu_us", "p50_ms", "p99_ms")}
         for n, rs in results.items()}  # fmt: skip
    lines = table(
        ["contender", "req/s (median)", "CPU us/request", "server's core busy", "p50 ms",
         "p99 ms", "errors"],
        [(n, f"{m[n]['rps']:.0f}", f"{m[n]['cpu_us']:.0f}",
          f"{median(r.rps * r.cpu_us / 1e6 for r in rs):.0%}", f"{m[n]['p50_ms']:.2f}",
          f"{m[n]['p99_ms']:.2f}", sum(r.errors for r in rs)) for n, rs in results.items()],
    )  # fmt: skip
    lines += ["", *table(
        ["front door against", "throughput, front door / baseline",
         "CPU per request, baseline / front door (goal >= 0.9)"],
        [(b, f"{m[DOOR]['rps'] / m[b]['rps']:.2f}", f"{m[b]['cpu_us'] / m[DOOR]['cpu_us']:.2f}")
         for b in baselines],
    )]  # fmt: skip
    if reference is not None and reference in results:
        ref = m[reference]
        lines += ["", *table(
            [f"against {reference} (a reference, no goal)", "throughput, contender / nginx",
             "CPU per request, nginx / contender", "p50, contender / nginx",
             "p99, contender / nginx"],
            [(n, f"{m[n]['rps'] / ref['rps']:.2f}", f"{ref['cpu_us'] / m[n]['cpu_us']:.2f}",
              f"{m[n]['p50_ms'] / ref['p50_ms']:.2f}", f"{m[n]['p99_ms'] / ref['p99_ms']:.2f}")
             for n in results if n != reference],
        )]  # fmt: skip
    return lines


def instructions_table(ir: dict[str, float], *, baselines: Sequence[str] = BASELINES) -> list[str]:
    return [
        *table(["contender", "Ir/request"], [(n, f"{v:,.0f}") for n, v in ir.items()]),
        "",
        *table(
            ["front door against", "Ir, front door / baseline",
             "Ir, baseline / front door (goal >= 0.9)"],
            [(b, f"{ir[DOOR] / ir[b]:.2f}", f"{ir[b] / ir[DOOR]:.2f}") for b in baselines],
        ),
    ]  # fmt: skip


def proxy(wall: dict[str, list[Result]], ir: dict[str, float] | None, plan: Plan) -> str:
    return render(
        "proxy.md", plan=plan, warmup=WARMUP, ir=None if ir is None else instructions_table(ir),
        wall=wallclock_table(wall, reference=nginx.NGINX_PROXY),
        machine=machine(),
    )  # fmt: skip


def dataplane(
    wall: dict[str, list[Result]], single: list[tuple[Wrk, Wrk]], seconds: int, rounds: int
) -> str:
    """bench_dataplane: the contenders' medians; issue 18's goals as per-round pairs (the
    contenders of one round ran back to back: the median of the pairs, with their spread,
    is less noisy than a ratio of medians); one connection at a time, haproxy mode against
    bare HAProxy (`single`, one pair a round)."""
    mode, bare, door = wall[HAPROXY_MODE], wall[BARE_HAPROXY], wall[AIOHTTP_DOOR]

    def cell(values: list[float], fmt: str) -> str:
        return f"{median(values):{fmt}} ({min(values):{fmt}} to {max(values):{fmt}})"

    def met(ok: bool) -> str:
        return "yes" if ok else "**no**"

    pairs = {
        "thr_bare": [m.rps / b.rps for m, b in zip(mode, bare, strict=True)],
        "thr_door": [m.rps / d.rps for m, d in zip(mode, door, strict=True)],
        "p99": [m.p99_ms - b.p99_ms for m, b in zip(mode, bare, strict=True)],
        "p50": [m.p50_ms - b.p50_ms for m, b in zip(mode, bare, strict=True)],
        "cpu": [b.cpu_us / m.cpu_us for m, b in zip(mode, bare, strict=True)],
        "p99_1": [m.p99_ms - b.p99_ms for m, b in single],
        "p50_1": [m.p50_ms - b.p50_ms for m, b in single],
    }
    nginx_ratio = median(r.rps for r in mode) / median(r.rps for r in wall[nginx.NGINX_PROXY])
    goals = table(["goal (issue 18)", "measured", "met (median)"], [
        ("throughput, haproxy mode / bare HAProxy >= 0.8", cell(pairs["thr_bare"], ".2f"),
         met(median(pairs["thr_bare"]) >= 0.8)),
        ("throughput, haproxy mode / aiohttp front door >= 4", cell(pairs["thr_door"], ".1f"),
         met(median(pairs["thr_door"]) >= 4)),
        ("added p99 ms, haproxy mode - bare HAProxy < 1", cell(pairs["p99"], "+.2f"),
         met(median(pairs["p99"]) < 1)),
        ("(no goal) added p50 ms, haproxy mode - bare HAProxy", cell(pairs["p50"], "+.2f"), ""),
        ("(no goal) CPU per request, bare HAProxy / haproxy mode", cell(pairs["cpu"], ".2f"), ""),
        ("(reference) haproxy mode / nginx proxy_pass, throughput", f"{nginx_ratio:.2f}", ""),
    ], align="lrl")  # fmt: skip
    ones = table(["", "haproxy mode, median", "bare HAProxy, median",
                  "added, median (min to max)", "met (< 1 ms)"], [
        ("p50 ms", f"{median(m.p50_ms for m, _ in single):.3f}",
         f"{median(b.p50_ms for _, b in single):.3f}", cell(pairs["p50_1"], "+.3f"), ""),
        ("p99 ms", f"{median(m.p99_ms for m, _ in single):.3f}",
         f"{median(b.p99_ms for _, b in single):.3f}", cell(pairs["p99_1"], "+.3f"),
         met(median(pairs["p99_1"]) < 1)),
    ], align="lrrrl")  # fmt: skip
    contenders = table(
        ["contender", "req/s (median)", "req/s (min-max)", "CPU us/request", "p50 ms",
         "p99 ms", "errors"],
        [(n, f"{median(r.rps for r in rs):.0f}",
          f"{min(r.rps for r in rs):.0f}-{max(r.rps for r in rs):.0f}",
          f"{median(r.cpu_us for r in rs):.1f}", f"{median(r.p50_ms for r in rs):.2f}",
          f"{median(r.p99_ms for r in rs):.2f}", sum(r.errors for r in rs))
         for n, rs in wall.items()],
    )  # fmt: skip
    return render("dataplane.md", contenders=contenders, goals=goals, single=ones,
                  seconds=seconds, rounds=rounds, machine=machine())  # fmt: skip


def _p99(ms: float) -> str:
    return f"{ms:.2f}" if ms > 0 else "n/a"  # wrk gives none for pipelined requests


def workers(
    sections: list[tuple[str, list[tuple[str, list[Result]]]]],
    memory: dict[int, list[tuple[str, list[float]]]],
) -> str:
    """bench_workers: per page, each front door's wrk runs (1 worker first); then VmRSS by
    number of workers: (when, MiB of the master then each worker)."""
    pages = []
    for what, doors in sections:
        base = doors[0][1]
        base_rps, base_cpu = median(x.rps for x in base), median(x.cpu_us for x in base)
        rows = []
        for name, r in doors:
            rps, cpu = median(x.rps for x in r), median(x.cpu_us for x in r)
            rows.append([name, f"{rps:,.0f}", f"{rps / base_rps:.2f}",
                         _p99(median(x.p99_ms for x in r)), f"{cpu:.0f}",
                         f"{rps * cpu / 1e6:.2f}", f"{base_cpu / cpu:.2f}",
                         sum(x.errors for x in r)])  # fmt: skip
        head = ["", "requests/s", "x 1 worker", "p99 ms", "CPU us/request", "CPU cores used",
                "CPU per request, 1 worker / this", "errors"]  # fmt: skip
        pages.append((what, table(head, rows)))
    rows = [[f"workers = {n}, {label}", " / ".join(f"{m:.1f}" for m in sizes)]
            for n, samples in sorted(memory.items()) for label, sizes in samples]  # fmt: skip
    memory_table = table(["when", "VmRSS"], rows, align="ll")
    return render("workers.md", machine=machine(), sections=pages, memory=memory_table)


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


def index(rows: list[tuple[int, tuple[float, float], tuple[float, float]]]) -> str:
    """bench_index: (bulletins, (build s, longest wait s) on the loop, the same in a thread)."""
    head = ["bulletins", "build, on the loop", "longest wait, on the loop", "build, in a thread",
            "longest wait, in a thread"]  # fmt: skip
    cells = [(f"{n:,}", f"{on[0] * 1000:.0f} ms", f"{on[1] * 1000:.0f} ms",
              f"{off[0] * 1000:.0f} ms", f"{off[1] * 1000:.1f} ms")
             for n, on, off in rows]  # fmt: skip
    return render("index.md", rows=table(head, cells, align="r"))
