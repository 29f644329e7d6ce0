"""Benchmark: the self-help layer (cache/, pages at /help/bulletins/<id>), against a real
redis-server and the community simulator: (1) a warm bulletin page, the front door against
a bare aiohttp app and nginx serving the same bytes, wall clock and instructions; (2) hit
ratios under a mixed read load, a warm door then a cold replica with the community site
down; (3) bulletin page latency while redis-server is killed and restarted. Pieces:
loadtests/bench/selfhelp.py."""

from __future__ import annotations

import inspect

from cache.service import SelfHelpService
from failover.settings import SelfHelpSettings
from loadtests.bench import selfhelp
from loadtests.bench.stage import check_tools, parser, workspace, write_report
from loadtests.reports import selfhelp as report
from loadtests.reports.bench import Plan


def main() -> None:
    p = parser(__doc__, "selfhelp.md", callgrind=True)
    p.add_argument("--mixed-seconds", type=float, default=20.0, help="mixed load, part 2")
    p.add_argument("--replica-requests", type=int, default=2000,
                   help="cold replica's first N requests")  # fmt: skip
    p.add_argument("--outage-rate", type=float, default=500.0, help="req/s, part 3")
    args = p.parse_args()
    tools = ["wrk", "nginx", "taskset", "redis-server"]
    check_tools(tools + (["valgrind", "callgrind_control"] if args.instructions else []))
    plan = Plan(args.seconds, args.rounds, args.requests if args.instructions else None)
    with workspace() as (tmp, procs):
        stage = selfhelp.SelfHelpStage(tmp, procs)
        stage.start()
        hits = selfhelp.hits(stage, seconds=args.mixed_seconds,
                             replica_requests=args.replica_requests)  # fmt: skip
        pages = selfhelp.pages(stage, stage.seed.topics[0].id, seconds=plan.seconds,
                               rounds=plan.rounds, requests=plan.requests)  # fmt: skip
        outage = selfhelp.outage(stage, rate=args.outage_rate)
    l1_bound = int(inspect.signature(SelfHelpService).parameters["l1_size"].default)
    default_max_age = int(SelfHelpSettings.model_fields["max_age_s"].default)
    write_report(args.out, report.selfhelp(pages, hits, outage, plan, l1_bound=l1_bound,
                                           default_max_age=default_max_age))  # fmt: skip


if __name__ == "__main__":
    main()
