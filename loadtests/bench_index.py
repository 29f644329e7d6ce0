"""Benchmark: what a search-index rebuild costs customers, on the loop and off it.

For each size, `SearchIndex.build` called on the loop (how it was) against
`SelfHelpService.rebuild_index` (in a worker thread), with a 1 ms ticker standing in for
customers and probes; the report has the build's time and the ticker's longest wait.
Bulletins are generated (sims/bulletins.py, as in the search tests)."""

from __future__ import annotations

import asyncio
import time

from cache.freshness import FreshnessPolicy
from cache.hits import HitBuffer
from cache.search import SearchIndex
from cache.service import SelfHelpService
from kernel.clock import SystemClock
from loadtests.bench.stage import parser, write_report
from loadtests.reports.bench import index
from sims.bulletins import generate, generated_hits
from sims.harness.procs import pinned


async def measure(n: int, *, threaded: bool) -> tuple[float, float]:
    """(build seconds, longest loop stall in seconds) for `n` bulletins."""
    bulletins = generate(n)
    service = SelfHelpService(
        origin=None, store=None, policy=FreshnessPolicy(),
        count_lookup=lambda tier, result, amount=1: None, hits=HitBuffer(), clock=SystemClock(),
    )  # fmt: skip
    service.load(bulletins, time.time(), "snapshot")
    service.hit_counts = generated_hits(bulletins)
    worst = 0.0
    running = True

    async def ticker() -> None:
        nonlocal worst
        while running:
            asked = time.perf_counter()
            await asyncio.sleep(0.001)
            worst = max(worst, time.perf_counter() - asked - 0.001)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0.01)
    began = time.perf_counter()
    if threaded:
        await service.rebuild_index()
    else:
        service.index = SearchIndex.build(service.known(), service.hit_counts)
    took = time.perf_counter() - began
    await asyncio.sleep(0.01)
    running = False
    await task
    return took, worst


def main() -> None:
    p = parser(__doc__, "index.md", wrk=False)
    p.add_argument("--sizes", default="300,3000,10000", help="bulletins, comma-separated")
    args = p.parse_args()
    rows = []
    with pinned(0):
        for n in (int(s) for s in args.sizes.split(",")):
            on = asyncio.run(measure(n, threaded=False))
            off = asyncio.run(measure(n, threaded=True))
            rows.append((n, on, off))
            print(f"{n}: on the loop {on[0] * 1000:.0f} ms, stall {on[1] * 1000:.0f} ms; "
                  f"in a thread {off[0] * 1000:.0f} ms, stall {off[1] * 1000:.1f} ms",
                  flush=True)  # fmt: skip
    write_report(args.out, index(rows))


if __name__ == "__main__":
    main()
