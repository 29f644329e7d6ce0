"""Benchmark: one front door with `[server] workers = 1` against the same with 2, on this
machine, and each worker's resident memory (issues 15 and 18). The stage, and how far this
2-core machine allows the comparison: the report's opening (loadtests/reports/workers.md)
and docs/benchmarks.md, "Workers: 1 against 2"."""

from __future__ import annotations

from dataclasses import dataclass

from loadtests.bench import stage as s
from loadtests.bench.load import Plan, run_load
from loadtests.bench.measure import Result, wallclock
from loadtests.bench.selfhelp import TOPICS, SelfHelpStage
from loadtests.reports import bench as report
from sims.harness.procs import Processes, family, rss_mib

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
    s.write_report(args.out, report.workers(sections, memory))


if __name__ == "__main__":
    main()
