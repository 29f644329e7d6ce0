"""Benchmark: one front door with `[server] workers = 1` against the same with 2, on this
machine, and each worker's resident memory (issues 15 and 18).

The stage is the self-help bench's (loadtests/bench/selfhelp.py): redis-server, the
community simulator (300 bulletins) and an nginx call center, on core 1. Two front doors
are up at once, both fully warmed (every bulletin page asked for once): `workers = 1`
pinned to core 0, `workers = 2` on both cores. wrk (`-t1 -c32`) runs on core 1 against
each in turn, 3 alternating rounds per page: a cached bulletin page and the proxy path
(`/support/...` to the nginx call center).

How far this machine allows: it has 2 cores, so the load generator cannot have its own
core while two workers use both; with 2 workers, wrk shares core 1 with the second
worker. So the table gives, besides requests/s, the front door's CPU time per request
(all its processes): if a request costs a worker no more CPU with two workers than
with one, the rest of the gap to 2x is the cores wrk takes, not the front door. To
leave the workers more of the machine, the cached page is measured a second time with
wrk writing 16 requests at once on each connection (HTTP/1.1 pipelining, which aiohttp
answers in order): wrk's own work per request falls several times; the front door still
parses and answers every request, with fewer reads and writes per request than without
pipelining, so compare workers within that table only. wrk's latency is per batch
then, so none is given.

Memory: the resident set (VmRSS) of the master and of each worker after the warm-up
(every bulletin page read once), and again after every wrk round (over 100,000 requests
each).

    python -m loadtests.bench_workers [--seconds 8] [--rounds 3]
        [--out loadtests/results/workers.md]
"""

from __future__ import annotations

from dataclasses import dataclass

from loadtests import tables
from loadtests.bench import stage as s
from loadtests.bench.load import Plan, run_load
from loadtests.bench.measure import Result, wallclock
from loadtests.bench.selfhelp import SelfHelpStage
from sims.harness.procs import Processes, family, rss_mib

TOPICS = 300
PIPELINED = 16  # requests wrk writes at once on a connection, the second cached-page run


@dataclass(frozen=True, slots=True)
class Door:
    workers: int
    contender: s.Contender
    pid: int


def _door(stage: SelfHelpStage, procs: Processes, workers: int, page: str) -> Door:
    ready = s.READY_LOG if workers == 1 else None
    name = f"{s.DOOR}, workers = {workers}"
    contender = stage.door(
        f"w{workers}", name=name, page_path=page, ready_log=ready, workers=workers
    )
    pid = s.start(procs, contender, core=0 if workers == 1 else None)
    return Door(workers, contender, pid)


def _warm(base: str) -> None:
    """Every bulletin page twice, one at a time, each on a connection of its own (so that
    each worker, filling its own cache as it is asked, sees most pages)."""
    paths = tuple(("warm", f"/help/bulletins/{i}") for i in range(1, TOPICS + 1) for _ in "ab")
    run_load(base, Plan(seconds=120.0, max_requests=len(paths), concurrency=1, paths=paths,
                        close=True, patience=10.0))  # fmt: skip


def rss_mibs(pid: int) -> list[float]:
    """VmRSS of `pid` (the master, or the only process) then of each of its children."""
    return [rss_mib(p) for p in family(pid)]


def main() -> None:
    args = s.parser(__doc__, "workers.md").parse_args()
    s.check_tools(["wrk", "nginx", "taskset", "redis-server"])
    sections: list[tuple[str, list[tuple[str, list[Result]]]]] = []
    with s.workspace() as (tmp, procs):
        stage = SelfHelpStage(tmp, procs)
        stage.start()
        page = f"/help/bulletins/{stage.seed.topics[0].id}"
        memory: dict[int, list[tuple[str, list[float]]]] = {}
        runs = ((page, "cached bulletin page", (1, PIPELINED)), (s.PAGE_PATH, "proxy path", (1,)))
        for path, what, depths in runs:
            doors = [_door(stage, procs, n, path) for n in (1, 2)]
            for d in doors:
                s.wait_ready(d.contender, seconds=30)
                _warm(d.contender.url.removesuffix(path))
                memory.setdefault(d.workers, []).append(("after warm-up", rss_mibs(d.pid)))
            served = dict.fromkeys((d.workers for d in doors), 0.0)
            for depth in depths:
                results = wallclock(
                    [d.contender for d in doors], {d.contender.name: d.pid for d in doors},
                    seconds=int(args.seconds), rounds=args.rounds, pipeline=depth,
                )  # fmt: skip
                for d in doors:
                    served[d.workers] += sum(x.rps for x in results[d.contender.name])
                title = what if depth == 1 else f"{what}, {depth} requests pipelined a write"
                sections.append((title, [(d.contender.name, results[d.contender.name])
                                         for d in doors]))  # fmt: skip
            for d in doors:
                label = f"after {what} ({served[d.workers] * int(args.seconds):,.0f} requests)"
                memory[d.workers].append((label, rss_mibs(d.pid)))
                procs.stop(d.pid)
    intro = [p.replace("\n", " ") for p in __doc__.split("\n\n")[1:3]]
    s.write_report(args.out, tables.workers(intro, sections, memory))


if __name__ == "__main__":
    main()
