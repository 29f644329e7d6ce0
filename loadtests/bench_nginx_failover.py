"""Benchmark: customer-visible errors while the primary call center fails, the front door
against nginx set up for failover the way a user would do it without Switchboard.

Two simulated call centers (primary, backup). For each fault of the primary (killed,
blackholed, unreachable, hangs) and each contender (the front door with its default
configuration; nginx with `server primary; server backup backup;`,
`proxy_next_upstream`, an `error_page` to a static help page, in three timeout
configurations), a steady load of customers runs, the fault is injected at a known time,
and every customer's outcome and wait are counted. See loadtests/bench/failover_*.py.

    python -m loadtests.bench_nginx_failover [--rate 50] [--before 5] [--after 30]
        [--faults killed,blackholed,unreachable,hangs] [--out loadtests/results/failover-nginx.md]
"""

from __future__ import annotations

import argparse
import shutil
import signal
import tempfile
from pathlib import Path
from types import FrameType

from loadtests.bench import cli, nginx
from loadtests.bench.failover_load import run_load
from loadtests.bench.failover_report import Case, Shape, render
from loadtests.bench.failover_stage import (
    DOOR_NAME,
    DOOR_START_S,
    NGINX_CONFIGS,
    SERVER_CORE,
    Fault,
    community,
    door,
    scene,
)
from loadtests.bench.stage import Processes, check_tools, start, wait_ready

DEFAULT_OUT = Path(__file__).parent / "results" / "failover-nginx.md"


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0, help="customers per second")
    parser.add_argument("--before", type=float, default=5.0, help="seconds before the fault")
    parser.add_argument("--after", type=float, default=30.0, help="seconds after the fault")
    parser.add_argument(
        "--faults",
        default=",".join(f.value for f in Fault),
        help="comma-separated, of: " + ", ".join(f.value for f in Fault),
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="markdown report")
    return parser.parse_args()


def _run(
    tmp: Path, origin: str, fault: Fault, timeouts: nginx.Timeouts | None, shape: Shape
) -> Case:
    """One run: new call centers (and gate), one contender, the load, all stopped after."""
    with Processes() as procs:
        s = scene(procs, tmp, fault)
        if timeouts is None:
            contender = door(tmp, s, origin)
        else:
            contender = nginx.failover(tmp, primary=s.primary, backup=s.backup, timeouts=timeouts)
        start(procs, contender, core=SERVER_CORE)
        wait_ready(contender, seconds=DOOR_START_S)
        load = run_load(
            f"http://127.0.0.1:{contender.port}",
            lambda: s.inject(fault),
            rate=shape.rate,
            before=shape.before,
            after=shape.after,
        )
    return Case(fault, contender.name, DOOR_NAME if timeouts is None else timeouts.short, load)


def _terminated(signum: int, _: FrameType | None) -> None:
    """SIGTERM ends the bench like Ctrl-C does: every child is stopped on the way out."""
    raise SystemExit(128 + signum)


def main() -> None:
    args = _arguments()
    faults = [Fault(name.strip()) for name in args.faults.split(",") if name.strip()]
    check_tools(["nginx", "taskset"])
    signal.signal(signal.SIGTERM, _terminated)
    shape = Shape(args.rate, args.before, args.after)
    tmp = Path(tempfile.mkdtemp(prefix="switchboard-bench-failover-"))
    cases: list[Case] = []
    try:
        with Processes() as procs:
            origin = community(procs, tmp)
            for fault in faults:
                for timeouts in (None, *NGINX_CONFIGS):
                    case = _run(tmp, origin, fault, timeouts, shape)
                    cases.append(case)
                    visits = case.load.visits
                    errors = sum(v.outcome.is_error for v in visits)
                    print(f"{fault.value} / {case.contender}: {errors} errors", flush=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    text = render(cases, shape)
    print(text)
    cli.write_report(args.out, text)


if __name__ == "__main__":
    main()
