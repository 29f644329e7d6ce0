"""`python -m loadtests.soak`: the spike test's stack under a steady customer mix
(loadtests/soak_locustfile.py) for N minutes; does anything keep growing? (`make soak`,
not in CI; docs/faults.md, "Soak".) `--force-stage` holds one load-shedding stage.

Exit code: 0 when nothing grew past its limit after the warm-up (`--max-*`; memory: a
share or MiB, whichever is larger) and no customer got a 5xx; 3 when something did (each
is named); 1 when the stack did not start or a part of it died."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import redis

from kernel.overload import ORDER
from loadtests.reports import soak as report
from loadtests.spike import readings
from loadtests.spike.stack import stack
from sims.harness.frontdoor import World
from sims.harness.ports import StartError, fetch
from sims.harness.procs import ROOT, cores, rss_mib, spawn, status, terminate

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


# --max-* flag -> Limits field, type
LIMIT_FLAGS: Final = (
    ("--max-rss-growth", "rss_share", float), ("--max-rss-mib", "rss_mib", float),
    ("--max-fd-growth", "fds", int), ("--max-thread-growth", "threads", int),
    ("--max-series-growth", "series", int), ("--max-redis-growth", "redis_share", float),
    ("--max-redis-mib", "redis_mib", float),
)  # fmt: skip


def problems(samples: list[Sample], limits: Limits) -> list[str]:
    """What grew past its limit between the end of the warm-up and the last sample."""
    after = [s for s in samples if s.minute >= limits.warmup_minutes]
    if len(after) < 2:
        return [f"no two samples after the {limits.warmup_minutes:g}-minute warm-up to compare"]
    # Each end is the median of up to three samples: open connections come and go.
    width = min(3, len(after) // 2)
    first, last = _median(after[:width]), _median(after[-width:])
    found = []
    for name, was, now, share, least in (  # memory: a share or MiB, whichever is larger
        ("resident memory", first.rss_mib, last.rss_mib, limits.rss_share, limits.rss_mib),
        ("Redis memory", first.redis_mib, last.redis_mib, limits.redis_share, limits.redis_mib),
    ):
        allowed = max(was * share, least)
        if now - was > allowed:
            found.append(f"{name} grew {now - was:.1f} MiB ({was:.1f} -> {now:.1f}), "
                         f"over {allowed:.1f}")  # fmt: skip
    for name, old, new, most in (
        ("file descriptors", first.fds, last.fds, limits.fds),
        ("threads", first.threads, last.threads, limits.threads),
        ("metric series", first.series, last.series, limits.series),
    ):
        if new - old > most:
            found.append(f"{name} grew by {new - old} ({old} -> {new}), over {most}")
    if last.server_errors:
        found.append(f"{last.server_errors} customer answers were 5xx")
    return found


def _median(samples: list[Sample]) -> Sample:
    def mid(name: str) -> Any:
        return sorted(getattr(s, name) for s in samples)[len(samples) // 2]

    return Sample(**{f.name: mid(f.name) for f in dataclasses.fields(Sample)}
                  | {"requests": max(s.requests for s in samples),
                     "server_errors": max(s.server_errors for s in samples)})  # fmt: skip


def take(pid: int, ops_url: str, redis_port: int, minute: float) -> Sample:
    proc = status(pid)
    text = fetch(f"{ops_url}/metrics")[2].decode()
    series = sum(1 for line in text.splitlines() if line and not line.startswith("#"))
    answers = [(dict(labels), int(v)) for (name, labels), v in readings.parse(text).items()
               if name == "switchboard_requests_total"]  # fmt: skip
    customers = [(ls.get("code", ""), n) for ls, n in answers if ls.get("route") not in OPS_ROUTES]
    errors = sum(n for code, n in customers if code.startswith("5"))
    used = redis.Redis(port=redis_port, socket_timeout=5).info("memory")["used_memory"]
    return Sample(minute=minute, rss_mib=rss_mib(pid), fds=len(os.listdir(f"/proc/{pid}/fd")),
                  threads=int(proc["Threads"]), series=series, redis_mib=int(used) / MIB,
                  requests=sum(n for _, n in answers), server_errors=errors)  # fmt: skip


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
    for flag, field, kind in LIMIT_FLAGS:
        default = getattr(Limits(), field)
        p.add_argument(flag, type=kind, default=default, dest=field, help=f"default {default}")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    limits = Limits(warmup_minutes=args.warmup, **{f: getattr(args, f) for _, f, _ in LIMIT_FLAGS})
    workdir = Path(tempfile.mkdtemp(prefix="switchboard-soak-"))
    logs = workdir / "logs"
    logs.mkdir()
    door_core, side_core = cores()
    started_at = dt.datetime.now(dt.UTC)
    try:
        extra = f'[overload]\nforce_stage = "{args.force_stage}"' if args.force_stage else ""
        with stack(workdir, logs, door_core=door_core, side_core=side_core, extra=extra) as st:
            print(f"soak: stack up, front door {st.base_url} (pid {st.door_pid}); "
                  f"{args.users} customers for {args.minutes:g} min", flush=True)  # fmt: skip
            samples, locust_code = _run(st, args, core=side_core, log_path=logs / "locust.log")
            if dead := st.dead():
                print(f"soak: these died during the run: {', '.join(dead)}", file=sys.stderr)
                return EXIT_STACK
            latency = report.soak_latency(logs / "locust_stats.csv")
    except StartError as exc:
        print(f"soak: {exc} (logs in {logs})", file=sys.stderr)
        return EXIT_STACK
    finally:
        with contextlib.suppress(OSError):
            shutil.copytree(logs, ROOT / "var" / "soak-logs", dirs_exist_ok=True)
        shutil.rmtree(workdir, ignore_errors=True)
    found = problems(samples, limits)
    pins = "not pinned"
    if door_core is not None:
        pins = f"front door on core {door_core}, the rest on {side_core}"
    run = {
        "minutes": f"{args.minutes:g}", "warmup": f"{args.warmup:g}", "users": args.users,
        "stage": f" --force-stage {args.force_stage}" if args.force_stage else "",
        "started": f"{started_at:%Y-%m-%d %H:%M}", "cores": os.cpu_count(), "pins": pins,
        "locust": locust_code, "latency": latency,
    }  # fmt: skip
    text = report.soak(samples, run=run, found=found, limits=limits)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(text)
    return EXIT_GREW if found else 0


def _run(
    st: World, args: argparse.Namespace, *, core: int | None, log_path: Path
) -> tuple[list[Sample], int]:
    argv = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless", "--host", st.base_url,
        "-u", str(args.users), "-r", str(max(1, args.users // 5)),
        # Past the last sample: every sample is taken under load.
        "-t", f"{int(args.minutes * 60) + 30}s", "--only-summary", "--stop-timeout", "5",
        "--csv", str(log_path.with_name("locust")),
    ]  # fmt: skip
    samples: list[Sample] = []
    began = time.monotonic()
    log_path.unlink(missing_ok=True)
    locust = spawn(argv, core=core, log=log_path)
    try:
        for k in range(int(args.minutes * 60 / args.every) + 1):
            time.sleep(max(0.0, began + k * args.every - time.monotonic()))
            if locust.poll() is not None:
                break
            minute = (time.monotonic() - began) / 60
            samples.append(take(st.door_pid, st.ops_url, st.redis_port, minute))
            s = samples[-1]
            print(f"soak: {minute:5.1f} min  rss {s.rss_mib:6.1f} MiB  fds {s.fds}  "
                  f"threads {s.threads}  series {s.series}  redis {s.redis_mib:.2f} MiB  "
                  f"requests {s.requests}  5xx {s.server_errors}", flush=True)  # fmt: skip
    finally:
        terminate(locust, grace=30)
    return samples, int(locust.returncode or 0)


if __name__ == "__main__":
    sys.exit(main())
