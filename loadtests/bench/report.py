"""The proxy bench's report, in markdown; its wall-clock and instruction tables are
shared with the other benches (a front door against named baselines)."""

from __future__ import annotations

import os
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from loadtests.bench.callgrind import PROBE_INTERVAL_MS, PROBE_TIMEOUT_MS, THREADS, WARMUP
from loadtests.bench.nginx import NGINX_PROXY
from loadtests.bench.stage import BASELINES, DOOR, PAGE
from loadtests.bench.wallclock import Result


@dataclass(frozen=True, slots=True)
class Plan:
    seconds: int
    rounds: int
    requests: int | None  # None: no instruction count


def _median(results: Sequence[Result], field: str) -> float:
    return float(statistics.median(getattr(r, field) for r in results))


def wallclock_table(
    results: dict[str, list[Result]],
    plan: Plan,
    *,
    door: str = DOOR,
    baselines: Sequence[str] = BASELINES,
    reference: str | None = None,
) -> list[str]:
    """Every contender's medians; the front door against each baseline (the goal); and,
    if `reference` (nginx) ran, every other contender against it (no goal)."""
    lines = [
        f"## Wall clock (wrk -t1 -c32, {plan.rounds} x {plan.seconds} s, alternating)",
        "",
        "| contender | req/s (median) | CPU us/request | server's core busy | p50 ms | p99 ms "
        "| errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    rps = {name: _median(rs, "rps") for name, rs in results.items()}
    cpu = {name: _median(rs, "cpu_us") for name, rs in results.items()}
    p50 = {name: _median(rs, "p50_ms") for name, rs in results.items()}
    p99 = {name: _median(rs, "p99_ms") for name, rs in results.items()}
    for name, rs in results.items():
        busy = statistics.median(r.rps * r.cpu_us / 1e6 for r in rs)
        lines.append(
            f"| {name} | {rps[name]:.0f} | {cpu[name]:.0f} | {busy:.0%} | {p50[name]:.2f} | "
            f"{p99[name]:.2f} | {sum(r.errors for r in rs)} |"
        )
    lines += [
        "",
        "| front door against | throughput, front door / baseline "
        "| CPU per request, baseline / front door (goal >= 0.85) |",
        "|---|---:|---:|",
    ]
    lines += [f"| {b} | {rps[door] / rps[b]:.2f} | {cpu[b] / cpu[door]:.2f} |" for b in baselines]
    if reference is not None and reference in results:
        lines += [
            "",
            f"| against {reference} (a reference, no goal) | throughput, contender / nginx "
            "| CPU per request, nginx / contender | p50, contender / nginx "
            "| p99, contender / nginx |",
            "|---|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {n} | {rps[n] / rps[reference]:.2f} | {cpu[reference] / cpu[n]:.2f} | "
            f"{p50[n] / p50[reference]:.2f} | {p99[n] / p99[reference]:.2f} |"
            for n in results
            if n != reference
        ]
    return lines


def instructions_table(
    ir: dict[str, float],
    plan: Plan,
    *,
    door: str = DOOR,
    baselines: Sequence[str] = BASELINES,
) -> list[str]:
    lines = [
        f"## Instructions per request (callgrind, {plan.requests} GETs after {WARMUP} warm-up)",
        "",
        "| contender | Ir/request |",
        "|---|---:|",
        *(f"| {name} | {value:,.0f} |" for name, value in ir.items()),
        "",
        "| front door against | Ir, front door / baseline "
        "| Ir, baseline / front door (goal >= 0.85) |",
        "|---|---:|---:|",
    ]
    lines += [f"| {b} | {ir[door] / ir[b]:.2f} | {ir[b] / ir[door]:.2f} |" for b in baselines]
    return lines


def callgrind_method(plan: Plan, *, repeats: str | None = "~0.5%") -> list[str]:
    """How the instructions were counted; `repeats`: how close runs came, if known."""
    known = f" Repeats within {repeats} between runs here." if repeats else ""
    return [
        f"- Instructions: each contender alone under `valgrind --tool=callgrind`; {WARMUP} "
        f"warm-up GETs, `callgrind_control -z`, exactly {plan.requests} GETs over "
        f"{THREADS} keep-alive http.client connections (one thread each), "
        f"`callgrind_control -d`; Ir/request = dump `summary:` / requests.{known}",
        f"- Front door under callgrind: `[health] interval_ms = {PROBE_INTERVAL_MS}` "
        "(probe only at start-up), since valgrind stretches time ~50x and probes would "
        "otherwise be charged to each request ~50x over (and `timeout_ms = "
        f"{PROBE_TIMEOUT_MS}`, so that the cold first probe passes). Wall clock uses the "
        "default config (probes every 250 ms).",
    ]


def _method(plan: Plan) -> list[str]:
    lines = [
        "## Method",
        "",
        f"- Upstream: nginx (1 worker) serving one {len(PAGE)} B page, on core 1 with the load "
        f"generator; each proxy alone on core 0 ({os.cpu_count()} cores). Baselines: bare "
        "aiohttp proxies, one dropping all headers, one forwarding method, path, headers "
        "(minus hop-by-hop, Host, Content-Length) and body both ways.",
        f"- Reference: {NGINX_PROXY}: Debian's nginx as our own process (`nginx -p DIR -c "
        "nginx.conf -g 'daemon off;'`, `worker_processes 1`, `access_log off`, "
        "`sendfile on`) on core 0, `location /support/ { proxy_pass http://callcenter/; }` "
        "with `keepalive 32` upstream connections (`proxy_http_version 1.1`, `Connection "
        '""`) and X-Forwarded-For/-Proto set. Wall clock only (not under callgrind).',
        "- Wall clock: wrk against each contender in turn, medians over the rounds; CPU per "
        "request from the proxy's utime + stime (nginx: master and worker). On this shared "
        "VM these swing +-30% between runs: compare ratios within one run only. 'Server's "
        "core busy' = req/s x CPU per request: below ~95% the server was not the limit. "
        "Against nginx, wrk and the upstream nginx share core 1 and can become the limit (see "
        "the busy column), so nginx's req/s is a lower bound and its CPU per request the "
        "fairer comparison.",
    ]
    if plan.requests is not None:
        lines += callgrind_method(plan)
    return lines


def render(wall: dict[str, list[Result]], ir: dict[str, float] | None, plan: Plan) -> str:
    lines = ["# Proxy path: front door against bare aiohttp proxies and nginx", ""]
    lines += wallclock_table(wall, plan, reference=NGINX_PROXY)
    if ir is not None:
        lines += ["", *instructions_table(ir, plan)]
    lines += ["", *_method(plan)]
    return "\n".join(lines)
