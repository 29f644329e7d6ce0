"""Benchmark: callback intake, `POST /help/callbacks` (JSON), in callbacks accepted per
second: the front door against a bare aiohttp app doing one XADD, side by side on one
redis-server with the documented durability config (appendfsync always, then everysec).
Every run's stream entries are checked against the 202s wrk counted; a failed check fails
the script, after the report is written. Stage and load: loadtests/bench/callbacks.py."""

from __future__ import annotations

import argparse

from loadtests.bench import stage as s
from loadtests.bench.callbacks import REDIS_CONF, Run, post_callback, start_stage, wait_down
from loadtests.bench.measure import alternate
from loadtests.reports.bench import CallbackSetup, callbacks
from loadtests.tables import filesystem


def main() -> None:
    p = s.parser(__doc__, "callbacks.md")
    p.add_argument("--connections", type=int, default=16, help="wrk -c")
    p.add_argument("--everysec", action=argparse.BooleanOptionalAction, default=True,
                   help="also measure with appendfsync everysec (default: on)")  # fmt: skip
    args = p.parse_args()
    s.check_tools(["wrk", "taskset", "redis-server"])
    results: dict[str, dict[str, list[Run]]] = {}  # appendfsync policy -> contender -> runs
    with s.workspace() as (tmp, procs):
        stage, door, bare = start_stage(tmp, procs, args.connections)
        setup = CallbackSetup(
            seconds=args.seconds, rounds=args.rounds, connections=args.connections,
            redis_version=stage.version(), durability=stage.durability(),
            filesystem=filesystem(tmp),
            conf=REDIS_CONF.relative_to(REDIS_CONF.parents[1]),
        )  # fmt: skip
        stage.pids.update({c.name: s.start(procs, c) for c in (door, bare)})
        s.wait_ready(door, seconds=s.DOOR_START_S)
        s.wait_ready(bare)
        wait_down(door)
        for c in (door, bare):  # one callback each first: a 202 with a ticket or id
            before = stage.entries(c)
            status, answer = post_callback(c.url, f"smoke-{c.slug}")
            if status != 202 or not ({"ticket", "id"} & answer.keys()):
                raise SystemExit(f"bench: {c.name} answers a callback with {status} {answer}")
            if stage.entries(c) != before + 1:
                raise SystemExit(f"bench: {c.name} answered 202, its stream did not grow by 1")
        for policy in ["always", "everysec"] if args.everysec else ["always"]:
            stage.fsync(policy)
            results[policy] = alternate([door, bare], stage.run, seconds=args.seconds,
                                        rounds=args.rounds, keep_warmup=True)  # fmt: skip
    s.write_report(args.out, callbacks(results, setup))
    runs = [r for by_name in results.values() for rs in by_name.values() for r in rs]
    if bad := sum(bool(r.problems(args.connections)) for r in runs):
        raise SystemExit(f"bench: {bad} runs failed their checks (see {args.out})")


if __name__ == "__main__":
    main()
