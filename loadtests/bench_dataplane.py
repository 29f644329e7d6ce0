"""Benchmark: the HAProxy data plane (issue 18) against the aiohttp front door, bare
HAProxy and nginx, proxying the same page from the same nginx upstream.

Four contenders, side by side in one run, each proxying `/support/router/setup`:

- haproxy mode: `switchboard serve` with `[dataplane] mode = "haproxy"` and the HAProxy
  it renders (`switchboard haproxy-config`), both on core 0 (the control plane's probes
  and agent answers bear on the same core as the data plane);
- the aiohttp front door (`switchboard serve`, default configuration);
- bare HAProxy: one frontend, one backend, one server, the same timeouts and keep-alive,
  no agent, no rules (what a team would write without Switchboard);
- nginx `proxy_pass` with keep-alive upstream connections, one worker.

wrk (1 thread, 32 connections) and the upstream nginx on core 1; the contender's server
on core 0; alternating rounds so that machine noise hits all alike. CPU per request is
counted for the process that carries the traffic (HAProxy, the front door, nginx).

    python -m loadtests.bench_dataplane [--seconds 8] [--rounds 3]
                                        [--out loadtests/results/dataplane.md]
"""

from __future__ import annotations

import argparse
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from loadtests.bench import nginx
from loadtests.bench.stage import (
    PAGE_PATH,
    Contender,
    Processes,
    check_tools,
    door_argv,
    same_bytes,
    start,
    start_upstream,
    wait_ready,
)
from loadtests.bench.wallclock import Result, _find, _ms, alternate
from sims.demo import free_port

DEFAULT_OUT = Path(__file__).parent / "results" / "dataplane.md"
HAPROXY_MODE = "haproxy mode (Switchboard deciding)"
DOOR = "aiohttp front door"
BARE_HAPROXY = "bare HAProxy"
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"

BARE_CONFIG = """global
    nbthread 1
defaults
    mode http
    option http-keep-alive
    http-reuse safe
    timeout client 75s
    timeout connect 500ms
    timeout server 2500ms
frontend fe
    bind 127.0.0.1:{port}
    default_backend be
backend be
    server upstream {upstream}
"""


def _haproxy_mode(
    tmp: Path, upstream: str, procs: Processes, *, control_core: int
) -> tuple[Contender, int]:
    """Switchboard in haproxy mode on `control_core` (started here), and its HAProxy."""
    door, listen, agent = free_port(), free_port(), free_port()
    sock = tmp / "haproxy-mode.sock"
    config = tmp / "switchboard-haproxy-mode.toml"
    config.write_text(
        f'[server]\nport = {door}\n[dataplane]\nmode = "haproxy"\nlisten_host = "127.0.0.1"\n'
        f'listen_port = {listen}\nagent_port = {agent}\nstats_socket = "{sock}"\n'
        f'[[callcenters]]\nname = "cc"\nurl = "{upstream}"\n'
    )
    switchboard = Contender(
        "switchboard (control plane)", "sb", door_argv(config), door, "/readyz",
        log=tmp / "switchboard-haproxy-mode.log",
    )  # fmt: skip
    pid = start(procs, switchboard, core=control_core)
    wait_ready(switchboard)
    rendered = tmp / "haproxy-mode.cfg"
    text = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "failover", "haproxy-config", "--config", str(config)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rendered.write_text(text)
    argv = (HAPROXY, "-db", "-f", str(rendered))
    return Contender(HAPROXY_MODE, "haproxy-mode", argv, listen, PAGE_PATH), pid


def _bare_haproxy(tmp: Path, upstream: str) -> Contender:
    port = free_port()
    cfg = tmp / "haproxy-bare.cfg"
    cfg.write_text(BARE_CONFIG.format(port=port, upstream=upstream.removeprefix("http://")))
    return Contender(BARE_HAPROXY, "haproxy-bare", (HAPROXY, "-db", "-f", str(cfg)), port,
                     PAGE_PATH)  # fmt: skip


def _door(tmp: Path, upstream: str) -> Contender:
    port = free_port()
    config = tmp / "switchboard-door.toml"
    config.write_text(
        f'[server]\nport = {port}\n[[callcenters]]\nname = "cc"\nurl = "{upstream}"\n'
    )
    return Contender(DOOR, "door", door_argv(config), port, "/readyz")


def _wait_following(sock: Path, *, seconds: float = 10.0) -> None:
    """Until HAProxy shows the call center UP at full weight (the agent has answered)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(1)
                s.connect(str(sock))
                s.sendall(b"show stat -1 4 -1\n")
                out = b""
                while chunk := s.recv(65536):
                    out += chunk
            if b"be_callcenters,cc_cc," in out and b",UP," in out and b",100," in out:
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit("bench: HAProxy never followed Switchboard")


def one_connection_p99(url: str, seconds: int) -> tuple[float, float]:
    """(p50, p99) in ms with one connection, one request at a time: the time a request
    takes through the proxy without queueing behind others (wrk's closed loop at -c32
    measures mostly the queue and the machine's scheduling)."""
    cmd = ["taskset", "-c", "1", "wrk", "-t1", "-c1", f"-d{seconds}s", "--latency", url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout  # noqa: S603
    return _ms(_find(r"^\s+50%\s+(\S+)", out)), _ms(_find(r"^\s+99%\s+(\S+)", out))


def one_connection_pairs(
    mode: Contender, bare: Contender, *, seconds: int, rounds: int
) -> list[tuple[float, float, float, float]]:
    """Per round: (mode p50, mode p99, bare p50, bare p99), back to back."""
    return [
        (*one_connection_p99(mode.url, seconds), *one_connection_p99(bare.url, seconds))
        for _ in range(rounds)
    ]


def _median(results: list[Result], field: str) -> float:
    return float(statistics.median(float(getattr(r, field)) for r in results))


def render(
    results: dict[str, list[Result]],
    single: list[tuple[float, float, float, float]],
    *,
    seconds: int,
    rounds: int,
) -> str:
    rows = [
        "# Data plane: HAProxy mode against the aiohttp front door, bare HAProxy and nginx",
        "",
        f"wrk -t1 -c32, {rounds} x {seconds} s per contender, alternating; server on core 0,",
        "wrk and the upstream nginx on core 1. The machine is shared with other agents'",
        "work: figures are noisy, ratios within one run are what to read.",
        "",
        "| contender | req/s (median) | req/s (min-max) | CPU us/request | p50 ms | p99 ms "
        "| errors |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, rs in results.items():
        lo, hi = min(r.rps for r in rs), max(r.rps for r in rs)
        rows.append(
            f"| {name} | {_median(rs, 'rps'):.0f} | {lo:.0f}-{hi:.0f} "
            f"| {_median(rs, 'cpu_us'):.1f} | {_median(rs, 'p50_ms'):.2f} "
            f"| {_median(rs, 'p99_ms'):.2f} | {sum(r.errors for r in rs)} |"
        )
    mode, bare = results[HAPROXY_MODE], results[BARE_HAPROXY]
    door = results[DOOR]
    # Paired by round (the contenders of one round ran back to back): the median of the
    # per-round ratios, and their spread, is less noisy than a ratio of medians.
    thr_bare = [m.rps / b.rps for m, b in zip(mode, bare, strict=True)]
    thr_door = [m.rps / d.rps for m, d in zip(mode, door, strict=True)]
    cpu_bare = [b.cpu_us / m.cpu_us for m, b in zip(mode, bare, strict=True)]
    p99_added = [m.p99_ms - b.p99_ms for m, b in zip(mode, bare, strict=True)]
    p50_added = [m.p50_ms - b.p50_ms for m, b in zip(mode, bare, strict=True)]
    ok = {True: "yes", False: "**no**"}

    def cell(values: list[float], fmt: str) -> str:
        med = statistics.median(values)
        return f"{med:{fmt}} ({min(values):{fmt}} to {max(values):{fmt}})"

    rows += [
        "",
        "Per-round pairs, median (min to max over the rounds):",
        "",
        "| goal (issue 18) | measured | met (median) |",
        "|---|---:|---|",
        f"| throughput, haproxy mode / bare HAProxy >= 0.8 | {cell(thr_bare, '.2f')} | "
        f"{ok[statistics.median(thr_bare) >= 0.8]} |",
        f"| throughput, haproxy mode / aiohttp front door >= 4 | {cell(thr_door, '.1f')} | "
        f"{ok[statistics.median(thr_door) >= 4]} |",
        f"| added p99 ms, haproxy mode - bare HAProxy < 1 | {cell(p99_added, '+.2f')} | "
        f"{ok[statistics.median(p99_added) < 1]} |",
        f"| (no goal) added p50 ms, haproxy mode - bare HAProxy | {cell(p50_added, '+.2f')} | |",
        f"| (no goal) CPU per request, bare HAProxy / haproxy mode | {cell(cpu_bare, '.2f')} | |",
        f"| (reference) haproxy mode / nginx proxy_pass, throughput | "
        f"{_median(mode, 'rps') / _median(results[nginx.NGINX_PROXY], 'rps'):.2f} | |",
    ]
    p99_single = [m99 - b99 for _, m99, _, b99 in single]
    p50_single = [m50 - b50 for m50, _, b50, _ in single]
    rows += [
        "",
        "One connection, one request at a time (wrk -c1, 5 s, paired by round): the added",
        "latency of a request itself, without the queue of 32 connections:",
        "",
        "| | haproxy mode, median | bare HAProxy, median | added, median (min to max) "
        "| met (< 1 ms) |",
        "|---|---:|---:|---:|---|",
        f"| p50 ms | {statistics.median(r[0] for r in single):.3f} "
        f"| {statistics.median(r[2] for r in single):.3f} | {cell(p50_single, '+.3f')} | |",
        f"| p99 ms | {statistics.median(r[1] for r in single):.3f} "
        f"| {statistics.median(r[3] for r in single):.3f} | {cell(p99_single, '+.3f')} "
        f"| {ok[statistics.median(p99_single) < 1]} |",
    ]
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument(
        "--control-core", type=int, default=0,
        help="core of haproxy mode's Switchboard process (default 0, with HAProxy)",
    )  # fmt: skip
    args = parser.parse_args()
    check_tools(["wrk", "nginx", "taskset", "haproxy"])
    tmp = Path(tempfile.mkdtemp(prefix="switchboard-bench-dataplane-"))
    try:
        with Processes() as procs:
            upstream = start_upstream(tmp, procs)
            mode, _ = _haproxy_mode(tmp, upstream, procs, control_core=args.control_core)
            entrants = [mode, _door(tmp, upstream), _bare_haproxy(tmp, upstream),
                        nginx.proxy_pass(tmp, upstream)]  # fmt: skip
            pids = {c.name: start(procs, c) for c in entrants}
            for c in entrants:
                wait_ready(c)
            _wait_following(tmp / "haproxy-mode.sock")
            same_bytes([c.url for c in entrants])
            results = alternate(entrants, pids, seconds=args.seconds, rounds=args.rounds)
            single = one_connection_pairs(entrants[0], entrants[2], seconds=5,
                                          rounds=args.rounds)  # fmt: skip
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    text = render(results, single, seconds=args.seconds, rounds=args.rounds)
    text += f"\n\nhaproxy mode's Switchboard process on core {args.control_core}."
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
