"""Benchmark: the front door's proxy path against bare aiohttp and nginx proxying the
same page.

Four contenders, side by side in one run, against one nginx upstream serving a fixed
support page (the same bytes for all):

- the front door (`python -m failover serve`);
- a bare aiohttp proxy that drops every header (one ClientSession, read body, answer);
- a bare aiohttp proxy that forwards method, path, headers and body both ways, minus
  hop-by-hop headers, Host and Content-Length: the minimal correct proxy;
- nginx `proxy_pass` with keep-alive upstream connections, one worker (wall clock only:
  a reference, see loadtests/bench/nginx.py).

Two measurements (see loadtests/bench/):

- wall clock: wrk (1 thread, 32 connections) and the upstream nginx pinned to core 1,
  the proxies to core 0, alternating rounds so that machine noise hits all alike;
  requests/s, CPU per request, p50/p99 latency;
- instructions (`--instructions`, on by default): each aiohttp contender alone under
  callgrind,
  Ir per request for exactly `--requests` GETs. Deterministic where wall clock is not.

Reports the front door's ratios against both baselines (the goal is >= 0.85), and every
contender's against nginx (no goal).

    python -m loadtests.bench_proxy [--seconds 8] [--rounds 3] [--requests 1000]
                                    [--no-instructions] [--out loadtests/results/proxy.md]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from loadtests.bench import cli
from loadtests.bench.callgrind import run_instructions
from loadtests.bench.report import Plan, render
from loadtests.bench.stage import Processes, check_tools, start_upstream
from loadtests.bench.wallclock import run_wallclock

DEFAULT_OUT = Path(__file__).parent / "results" / "proxy.md"


def _arguments() -> argparse.Namespace:
    parser = cli.parser(__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="markdown report")
    return parser.parse_args()


def _check_tools(*, instructions: bool) -> None:
    tools = ["wrk", "nginx", "taskset"]
    if instructions:
        tools += ["valgrind", "callgrind_control"]
    check_tools(tools)


def main() -> None:
    args = _arguments()
    _check_tools(instructions=args.instructions)
    plan = Plan(args.seconds, args.rounds, args.requests if args.instructions else None)
    tmp = Path(tempfile.mkdtemp(prefix="switchboard-bench-"))
    try:
        with Processes() as procs:
            upstream = start_upstream(tmp, procs)
            wall = run_wallclock(tmp, upstream, procs, seconds=plan.seconds, rounds=plan.rounds)
            ir = None
            if plan.requests is not None:
                ir = run_instructions(tmp, upstream, procs, requests=plan.requests)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    text = render(wall, ir, plan)
    print(text)
    cli.write_report(args.out, text)


if __name__ == "__main__":
    main()
