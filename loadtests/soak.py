"""`python -m loadtests.soak`: the whole stack under a steady customer mix for N minutes
(default 30); does anything keep growing? (issue 14; `make soak`, not run in CI)

    python -m loadtests.soak [--minutes 30] [--warmup 5] [--users 50] [--every 60]
                             [--out loadtests/results/soak.md] [--force-stage STAGE]

The stack is the spike test's (loadtests/spike/stack.py: redis-server with the
documented callback config, both call-center simulators, the community simulator, the
front door with its default configuration), the load is locust headless with
loadtests/soak_locustfile.py (`--users` customers, one request each every 0.5 s), the
front door pinned to one core and everything else to the other.

`--force-stage` runs the front door in one load-shedding stage throughout (its
`[overload] force_stage`), to measure what customers get in that stage.

Every `--every` seconds it samples the front door process (resident memory, open file
descriptors, threads), its /metrics (how many series, requests answered, 5xx) and Redis
(used memory), and at the end writes the samples as a markdown table to `--out`, with
the latency customers saw (locust's percentiles over the whole run).

Exit code: 0 when, from the end of the warm-up to the end, resident memory grew by no
more than `--max-rss-growth` (a share, or `--max-rss-mib`, whichever is larger), file
descriptors by no more than `--max-fd-growth`, threads by `--max-thread-growth`, metric
series by `--max-series-growth`, Redis memory by `--max-redis-growth` (share, or
`--max-redis-mib`), and no customer got a 5xx; 3 when one of those was exceeded (each is
named); 1 when the stack did not start or a part of it died.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime as dt
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import redis
from prometheus_client.parser import text_string_to_metric_families

from failover.overload import ORDER
from loadtests.spike.stack import ROOT, StackError, clean_env, cores, die_with_parent, stack

LOCUSTFILE: Final = ROOT / "loadtests" / "soak_locustfile.py"
DEFAULT_OUT: Final = ROOT / "loadtests" / "results" / "soak.md"
# Not customers' answers: /readyz is 503 by design until the first probes are done.
OPS_ROUTES: Final = frozenset({"readyz", "healthz", "metrics", "status_api", "status_page"})
EXIT_GREW: Final = 3
EXIT_STACK: Final = 1
MIB: Final = 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class Sample:
    minute: float
    rss_mib: float
    fds: int
    threads: int
    series: int
    redis_mib: float
    requests: int
    server_errors: int  # customers' answers only (OPS_ROUTES left out)


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    warmup_minutes: float = 5.0
    rss_share: float = 0.10
    rss_mib: float = 16.0
    fds: int = 10
    threads: int = 4
    series: int = 20
    redis_share: float = 0.10
    redis_mib: float = 8.0


def problems(samples: list[Sample], limits: Limits) -> list[str]:
    """What grew past its limit between the end of the warm-up and the last sample."""
    after = [s for s in samples if s.minute >= limits.warmup_minutes]
    if len(after) < 2:
        return [f"no two samples after the {limits.warmup_minutes:g}-minute warm-up to compare"]
    # Each end is the median of up to three samples: open connections come and go.
    width = min(3, len(after) // 2)
    first, last = _median(after[:width]), _median(after[-width:])
    found = []
    rss_allowed = max(first.rss_mib * limits.rss_share, limits.rss_mib)
    if last.rss_mib - first.rss_mib > rss_allowed:
        grew = last.rss_mib - first.rss_mib
        found.append(f"resident memory grew {grew:.1f} MiB ({first.rss_mib:.1f} -> "
                     f"{last.rss_mib:.1f}), over {rss_allowed:.1f}")  # fmt: skip
    for name, old, new, allowed in (
        ("file descriptors", first.fds, last.fds, limits.fds),
        ("threads", first.threads, last.threads, limits.threads),
        ("metric series", first.series, last.series, limits.series),
    ):
        if new - old > allowed:
            found.append(f"{name} grew by {new - old} ({old} -> {new}), over {allowed}")
    redis_allowed = max(first.redis_mib * limits.redis_share, limits.redis_mib)
    if last.redis_mib - first.redis_mib > redis_allowed:
        found.append(f"Redis memory grew {last.redis_mib - first.redis_mib:.1f} MiB, "
                     f"over {redis_allowed:.1f}")  # fmt: skip
    if last.server_errors:
        found.append(f"{last.server_errors} customer answers were 5xx")
    return found


def _median(samples: list[Sample]) -> Sample:
    def mid(values: list[float]) -> float:
        return sorted(values)[len(values) // 2]

    return Sample(
        minute=mid([s.minute for s in samples]),
        rss_mib=mid([s.rss_mib for s in samples]),
        fds=int(mid([s.fds for s in samples])),
        threads=int(mid([s.threads for s in samples])),
        series=int(mid([s.series for s in samples])),
        redis_mib=mid([s.redis_mib for s in samples]),
        requests=max(s.requests for s in samples),
        server_errors=max(s.server_errors for s in samples),
    )


def render(samples: list[Sample], *, header: str, found: list[str], limits: Limits) -> str:
    lines = [
        header,
        "",
        "| minute | front door RSS (MiB) | open fds | threads | metric series | Redis used "
        "(MiB) | requests answered | 5xx to customers |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for s in samples:
        mark = " (warm-up)" if s.minute < limits.warmup_minutes else ""
        lines.append(
            f"| {s.minute:.1f}{mark} | {s.rss_mib:.1f} | {s.fds} | {s.threads} | {s.series} | "
            f"{s.redis_mib:.2f} | {s.requests:,} | {s.server_errors} |"
        )
    lines.append("")
    if found:
        lines += ["**Grew past its limit:**", "", *(f"- {p}" for p in found)]
    else:
        lines.append("Nothing grew past its limit after the warm-up "
                     f"(RSS: {limits.rss_share:.0%} or {limits.rss_mib:g} MiB; fds: "
                     f"{limits.fds}; threads: {limits.threads}; series: {limits.series}; "
                     f"Redis: {limits.redis_share:.0%} or {limits.redis_mib:g} MiB); "
                     "no 5xx.")  # fmt: skip
    return "\n".join(lines) + "\n"


def _proc_status(pid: int) -> dict[str, str]:
    text = Path(f"/proc/{pid}/status").read_text()
    return dict(line.split(":\t", 1) for line in text.splitlines() if ":\t" in line)


def take(pid: int, ops_url: str, redis_port: int, minute: float) -> Sample:
    status = _proc_status(pid)
    with urllib.request.urlopen(f"{ops_url}/metrics", timeout=10) as answer:  # noqa: S310 - loopback URL we built
        text = answer.read().decode()
    series = sum(1 for line in text.splitlines() if line and not line.startswith("#"))
    requests = errors = 0
    for family in text_string_to_metric_families(text):
        if family.name == "switchboard_requests":
            for s in family.samples:
                if s.name == "switchboard_requests_total":
                    requests += int(s.value)
                    customer = s.labels.get("route", "") not in OPS_ROUTES
                    failed = customer and s.labels.get("code", "").startswith("5")
                    errors += int(s.value) if failed else 0
    used = redis.Redis(port=redis_port, socket_timeout=5).info("memory")["used_memory"]
    return Sample(
        minute=minute,
        rss_mib=int(status["VmRSS"].split()[0]) / 1024,
        fds=len(os.listdir(f"/proc/{pid}/fd")),
        threads=int(status["Threads"]),
        series=series,
        redis_mib=int(used) / MIB,
        requests=requests,
        server_errors=errors,
    )


def latency_table(stats: Path) -> str:
    """Locust's percentiles per request kind, all of them last, as a markdown table."""
    try:
        with stats.open(newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError as exc:
        return f"(no latency recorded: {exc})"
    lines = ["| request | answers | failed | p50 (ms) | p95 (ms) | p99 (ms) |",
             "|---|---:|---:|---:|---:|---:|"]  # fmt: skip
    for row in sorted(rows, key=lambda r: r.get("Name") == "Aggregated"):
        name = "all" if row.get("Name") == "Aggregated" else f"{row.get('Type')} {row.get('Name')}"
        lines.append(f"| {name} | {row.get('Request Count')} | {row.get('Failure Count')} | "
                     f"{row.get('50%')} | {row.get('95%')} | {row.get('99%')} |")  # fmt: skip
    return "\n".join(lines)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m loadtests.soak", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--minutes", type=float, default=30.0, help="how long the load runs")
    p.add_argument("--warmup", type=float, default=5.0, help="minutes not judged at the start")
    p.add_argument("--users", type=int, default=50, help="customers (2 requests/s each)")
    p.add_argument("--every", type=float, default=60.0, help="seconds between samples")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the markdown table")
    p.add_argument("--force-stage", choices=[s.value for s in ORDER],
                   help="hold this load-shedding stage (overload.force_stage)")  # fmt: skip
    p.add_argument("--max-rss-growth", type=float, default=0.10)
    p.add_argument("--max-rss-mib", type=float, default=16.0)
    p.add_argument("--max-fd-growth", type=int, default=10)
    p.add_argument("--max-thread-growth", type=int, default=4)
    p.add_argument("--max-series-growth", type=int, default=20)
    p.add_argument("--max-redis-growth", type=float, default=0.10)
    p.add_argument("--max-redis-mib", type=float, default=8.0)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    limits = Limits(
        warmup_minutes=args.warmup, rss_share=args.max_rss_growth, rss_mib=args.max_rss_mib,
        fds=args.max_fd_growth, threads=args.max_thread_growth, series=args.max_series_growth,
        redis_share=args.max_redis_growth, redis_mib=args.max_redis_mib,
    )  # fmt: skip
    workdir = Path(tempfile.mkdtemp(prefix="switchboard-soak-"))
    logs = workdir / "logs"
    logs.mkdir()
    door_core, side_core = cores()
    started_at = dt.datetime.now(dt.UTC)
    try:
        extra = f'[overload]\nforce_stage = "{args.force_stage}"' if args.force_stage else ""
        with stack(
            workdir, logs, door_core=door_core, side_core=side_core, extra_config=extra
        ) as st:
            print(f"soak: stack up, front door {st.base_url} (pid {st.door_pid}); "
                  f"{args.users} customers for {args.minutes:g} min", flush=True)  # fmt: skip
            samples, locust_code = _run(
                st.base_url, ops_url=st.ops_url, pid=st.door_pid, redis_port=st.redis_port,
                args=args,
                core=side_core, log_path=logs / "locust.log",
            )  # fmt: skip
            if dead := st.dead():
                print(f"soak: these died during the run: {', '.join(dead)}", file=sys.stderr)
                return EXIT_STACK
            latency = latency_table(logs / "locust_stats.csv")
    except StackError as exc:
        print(f"soak: {exc} (logs in {logs})", file=sys.stderr)
        return EXIT_STACK
    finally:
        with contextlib.suppress(OSError):
            shutil.copytree(logs, ROOT / "var" / "soak-logs", dirs_exist_ok=True)
        shutil.rmtree(workdir, ignore_errors=True)
    found = problems(samples, limits)
    pins = (
        "not pinned"
        if door_core is None
        else f"front door on core {door_core}, the rest on {side_core}"
    )
    stage = f" --force-stage {args.force_stage}" if args.force_stage else ""
    header = (
        f"# Soak: {args.minutes:g} minutes, {args.users} customers{stage}\n\n"
        f"`python -m loadtests.soak --minutes {args.minutes:g} --warmup {args.warmup:g} "
        f"--users {args.users}{stage}`, started {started_at:%Y-%m-%d %H:%M} UTC on "
        f"{os.cpu_count()} cores ({pins}); locust exited {locust_code}. The mix and why: "
        "loadtests/soak_locustfile.py; how it is judged: loadtests/soak.py.\n\n"
        "What customers saw over the whole run, warm-up included (locust, on the other "
        f"core; the machine is shared, so the tail includes other jobs):\n\n{latency}\n\n"
        "Every sample:"
    )
    text = render(samples, header=header, found=found, limits=limits)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    return EXIT_GREW if found else 0


def _run(
    base_url: str,
    *,
    ops_url: str,
    pid: int,
    redis_port: int,
    args: argparse.Namespace,
    core: int | None,
    log_path: Path,
) -> tuple[list[Sample], int]:
    argv = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", base_url,
        "-u", str(args.users), "-r", str(max(1, args.users // 5)),
        # Past the last sample: every sample is taken under load.
        "-t", f"{int(args.minutes * 60) + 30}s", "--only-summary", "--stop-timeout", "5",
        "--csv", str(log_path.with_name("locust")),
    ]  # fmt: skip
    pinned = ["taskset", "-c", str(core), *argv] if core is not None else argv
    samples: list[Sample] = []
    began = time.monotonic()
    with log_path.open("wb") as log:
        locust = subprocess.Popen(  # noqa: S603 - our own argv
            pinned, cwd=ROOT, env=clean_env(), stdin=subprocess.DEVNULL, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=die_with_parent,  # noqa: PLW1509
        )  # fmt: skip
        try:
            for k in range(int(args.minutes * 60 / args.every) + 1):
                time.sleep(max(0.0, began + k * args.every - time.monotonic()))
                if locust.poll() is not None:
                    break
                minute = (time.monotonic() - began) / 60
                samples.append(take(pid, ops_url, redis_port, minute))
                s = samples[-1]
                print(f"soak: {minute:5.1f} min  rss {s.rss_mib:6.1f} MiB  fds {s.fds}  "
                      f"threads {s.threads}  series {s.series}  redis {s.redis_mib:.2f} MiB  "
                      f"requests {s.requests}  5xx {s.server_errors}", flush=True)  # fmt: skip
        finally:
            if locust.poll() is None:
                locust.terminate()
                try:
                    locust.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    locust.kill()
                    locust.wait()
    return samples, int(locust.returncode or 0)


if __name__ == "__main__":
    sys.exit(main())
