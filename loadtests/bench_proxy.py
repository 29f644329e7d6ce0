"""Benchmark: the front door's proxy path against two bare aiohttp proxies (one dropping
headers, one forwarding them: the minimal correct proxy) and nginx `proxy_pass` (wall
clock only, a reference), all against one nginx upstream serving the same page. Wall
clock for all; instructions per request under callgrind for the aiohttp ones
(`--instructions`, on by default). The goal (issue 18): the front door's ratios >= 0.9
against the one forwarding headers."""

from __future__ import annotations

from loadtests.bench import nginx
from loadtests.bench import stage as s
from loadtests.bench.measure import PROBES, instructions, wallclock
from loadtests.reports.bench import Plan, proxy


def main() -> None:
    args = s.parser(__doc__, "proxy.md", callgrind=True).parse_args()
    callgrind = ["valgrind", "callgrind_control"] if args.instructions else []
    s.check_tools(["wrk", "nginx", "taskset", *callgrind])
    plan = Plan(args.seconds, args.rounds, args.requests if args.instructions else None)
    with s.workspace() as (tmp, procs):
        upstream = nginx.start_upstream(tmp, procs)
        # All up at once on core 0 (the front door with its default configuration,
        # probes on; nginx proxy_pass with one worker), checked to serve the page.
        entrants = [*s.contenders(tmp, upstream), nginx.proxy_pass(tmp, upstream)]
        pids = {c.name: s.start(procs, c) for c in entrants}
        for c in entrants:
            s.wait_ready(c)
        s.same_page(entrants)
        wall = wallclock(entrants, pids, seconds=plan.seconds, rounds=plan.rounds)
        for pid in pids.values():
            procs.stop(pid)
        ir = None
        if plan.requests is not None:  # one at a time on core 0, probes at start-up only
            cg = s.contenders(tmp, upstream, settings=PROBES)
            ir = {c.name: instructions(tmp, procs, c, requests=plan.requests,
                                       expected=s.PAGE).ir for c in cg}  # fmt: skip
    s.write_report(args.out, proxy(wall, ir, plan))


if __name__ == "__main__":
    main()
