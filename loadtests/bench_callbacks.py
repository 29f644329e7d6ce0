"""Benchmark: callback intake, `POST /help/callbacks` (JSON), in callbacks accepted per
second: the front door against a bare aiohttp app doing the minimum durable thing
(parse the JSON, one XADD, 202 with the entry id), side by side in one run.

Both write to one real redis-server started here on a free port with the documented
durability config (deploy/redis-callbacks.conf: appendonly yes, appendfsync always),
its data in a temp dir; then again after `CONFIG SET appendfsync everysec`
(`--no-everysec` skips it). The front door's only call center is down (a closed
loopback port), so callbacks pile up in the stream and its dispatcher stays idle.

wrk (1 thread, `--connections`, a Lua script giving each request its own
`Idempotency-Key`) and redis-server on core 1, each server alone on core 0, alternating
rounds. After every run the stream entries added are checked against the 202s wrk
counted (no lost acks; non-2xx must be 0); a failed check fails the script, after the
report is written.

Pieces in loadtests/bench/: callbacks_stage.py (Redis, the contenders),
callbacks_bare.py (the baseline), callbacks_load.py (wrk, checks),
callbacks_report.py; stage.py and wallclock.py are shared with the other benches.

    python -m loadtests.bench_callbacks [--seconds 8] [--rounds 3] [--connections 16]
        [--no-everysec] [--out loadtests/results/callbacks.md]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from loadtests.bench import cli
from loadtests.bench.callbacks_load import Run, alternate, write_script
from loadtests.bench.callbacks_report import Setup, failed, filesystem, render
from loadtests.bench.callbacks_stage import CallbackStage, post_callback, wait_down
from loadtests.bench.stage import Contender, Processes, check_tools, start, wait_ready

DEFAULT_OUT = Path(__file__).parent / "results" / "callbacks.md"
DOOR_START_S = 60.0


def _arguments() -> argparse.Namespace:
    # cli.parser's --instructions and --requests (callgrind) do not apply here.
    description = (__doc__ or "").splitlines()[0]
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--seconds", type=int, default=8, help="length of one wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="wrk runs per contender")
    parser.add_argument("--connections", type=int, default=16, help="wrk -c")
    parser.add_argument(
        "--everysec",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure with appendfsync everysec (default: on)",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="markdown report")
    return parser.parse_args()


def _smoke(stage: CallbackStage, contenders: list[Contender]) -> None:
    """One callback each, before the load: a 202 with a ticket or id, one entry more."""
    for c in contenders:
        before = stage.entries(c)
        status, answer = post_callback(c.url, f"smoke-{c.slug}")
        if status != 202 or not ({"ticket", "id"} & answer.keys()):
            raise SystemExit(f"bench: {c.name} answers a valid callback with {status} {answer}")
        if stage.entries(c) != before + 1:
            raise SystemExit(f"bench: {c.name} answered 202 but its stream did not grow by 1")


def main() -> None:
    args = _arguments()
    check_tools(["wrk", "taskset", "redis-server"])
    policies = ["always", "everysec"] if args.everysec else ["always"]
    tmp = Path(tempfile.mkdtemp(prefix="switchboard-bench-"))
    results: dict[str, dict[str, list[Run]]] = {}
    try:
        with Processes() as procs:
            stage = CallbackStage(tmp, procs)
            stage.start()
            setup = Setup(
                seconds=args.seconds,
                rounds=args.rounds,
                connections=args.connections,
                redis_version=stage.version(),
                durability=stage.durability(),
                filesystem=filesystem(tmp),
            )
            door, bare = stage.door(), stage.bare()
            pids = {door.name: start(procs, door), bare.name: start(procs, bare)}
            wait_ready(door, seconds=DOOR_START_S)
            wait_ready(bare)
            wait_down(door)
            _smoke(stage, [door, bare])
            script = write_script(tmp)
            for policy in policies:
                stage.fsync(policy)
                results[policy] = alternate(
                    stage,
                    [door, bare],
                    pids,
                    script=script,
                    seconds=args.seconds,
                    rounds=args.rounds,
                    connections=args.connections,
                )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    text = render(results, setup)
    print(text)
    cli.write_report(args.out, text)
    print(f"bench: report written to {args.out}")
    bad = failed(results, args.connections)
    if bad:
        raise SystemExit(f"bench: {bad} runs failed their checks (see {args.out})")


if __name__ == "__main__":
    main()
