"""Benchmark: the self-help layer (cache/, pages at /help/bulletins/<id>).

Against a real redis-server and the community simulator, both started here:

1. a warm bulletin page: the front door against a bare aiohttp app answering the same
   bytes, and against nginx serving them as a static file; wall clock (wrk -t1 -c32 on
   core 1, each server alone on core 0, alternating rounds) and, for the front door and
   the bare app, instructions per request under callgrind (`--instructions`, on by
   default);
2. hit ratios under a mixed read load: a warm front door, then a cold replica started
   against the filled Redis with the community site down; both with `[selfhelp]
   max_age_s = 5`, so that L1 entries expire (and Redis is read) during the load;
3. bulletin page latency, per 2 s window, while our redis-server is killed (SIGKILL) and
   started again.

Pieces shared with `loadtests.bench_proxy` live in loadtests/bench/ (stage, wallclock,
callgrind, report); the self-help ones there too (selfhelp_*.py, loadgen.py).

    python -m loadtests.bench_selfhelp [--seconds 8] [--rounds 3] [--requests 1000]
        [--no-instructions] [--mixed-seconds 20] [--replica-requests 2000]
        [--outage-rate 500] [--out loadtests/results/selfhelp.md]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from loadtests.bench import cli
from loadtests.bench.report import Plan
from loadtests.bench.selfhelp_hits import run_hits
from loadtests.bench.selfhelp_outage import run_outage
from loadtests.bench.selfhelp_pages import run_pages
from loadtests.bench.selfhelp_report import render
from loadtests.bench.selfhelp_stage import SelfHelpStage
from loadtests.bench.stage import Processes, check_tools

DEFAULT_OUT = Path(__file__).parent / "results" / "selfhelp.md"


def _arguments() -> argparse.Namespace:
    parser = cli.parser(__doc__)
    parser.add_argument("--mixed-seconds", type=float, default=20.0, help="mixed load, part 2")
    parser.add_argument(
        "--replica-requests", type=int, default=2000, help="cold replica's first N requests"
    )
    parser.add_argument("--outage-rate", type=float, default=500.0, help="req/s, part 3")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="markdown report")
    return parser.parse_args()


def main() -> None:
    args = _arguments()
    tools = ["wrk", "nginx", "taskset", "redis-server"]
    check_tools(tools + (["valgrind", "callgrind_control"] if args.instructions else []))
    plan = Plan(args.seconds, args.rounds, args.requests if args.instructions else None)
    tmp = Path(tempfile.mkdtemp(prefix="switchboard-bench-"))
    try:
        with Processes() as procs:
            stage = SelfHelpStage(tmp, procs)
            stage.start()
            hits = run_hits(
                stage, seconds=args.mixed_seconds, replica_requests=args.replica_requests
            )
            warm_id = stage.seed.topics[0].id
            pages = run_pages(
                stage, warm_id, seconds=plan.seconds, rounds=plan.rounds, requests=plan.requests
            )
            outage = run_outage(stage, rate=args.outage_rate)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    text = render(pages, hits, outage, plan)
    print(text)
    cli.write_report(args.out, text)


if __name__ == "__main__":
    main()
