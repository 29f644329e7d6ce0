"""Benchmark: customer-visible errors while the primary call center fails (killed,
blackholed, unreachable, hangs), the front door (default configuration) against nginx
set up for failover by hand in three timeout configurations. Pieces:
loadtests/bench/failover.py."""

from __future__ import annotations

import signal
from functools import partial
from types import FrameType

from loadtests.bench import stage
from loadtests.bench.failover import NGINX_CONFIGS, Fault, customers, scene
from loadtests.reports import failover as report
from sims.harness.procs import Processes


def _terminated(signum: int, _: FrameType | None) -> None:
    """SIGTERM ends the bench like Ctrl-C does: every child is stopped on the way out."""
    raise SystemExit(128 + signum)


def main() -> None:
    p = stage.parser(__doc__, "failover-nginx.md", wrk=False)
    p.add_argument("--rate", type=float, default=50.0, help="customers per second")
    p.add_argument("--before", type=float, default=5.0, help="seconds before the fault")
    p.add_argument("--after", type=float, default=30.0, help="seconds after the fault")
    p.add_argument("--faults", default=",".join(Fault),
                   help="comma-separated, of: " + ", ".join(Fault))  # fmt: skip
    args = p.parse_args()
    faults = [Fault(name.strip()) for name in args.faults.split(",") if name.strip()]
    stage.check_tools(["nginx", "taskset"])
    signal.signal(signal.SIGTERM, _terminated)
    shape = report.Shape(args.rate, args.before, args.after)
    cases: list[report.Case] = []
    with stage.workspace("switchboard-bench-failover-") as (tmp, procs):
        origin = stage.start_community(procs, tmp)[0]
        for fault in faults:
            for timeouts in (None, *NGINX_CONFIGS):
                with Processes() as run_procs:  # new call centers, gate, contender
                    s = scene(run_procs, tmp, fault)
                    contender = s.contender(tmp, origin, timeouts)
                    stage.start(run_procs, contender)
                    stage.wait_ready(contender, seconds=stage.DOOR_START_S)
                    load = customers(contender.base, partial(s.inject, fault),
                                     rate=shape.rate, before=shape.before,
                                     after=shape.after)  # fmt: skip
                short = stage.DOOR if timeouts is None else timeouts.short
                cases.append(report.Case(fault, contender.name, short, load))
                errors = sum(v.outcome.is_error for v in load.visits)
                print(f"{fault.value} / {contender.name}: {errors} errors", flush=True)
    stage.write_report(args.out, report.failover(cases, shape))


if __name__ == "__main__":
    main()
