"""Measurement: what an idle front door costs, in Redis commands and CPU.

The whole stack of the spike test (`loadtests/spike/stack.py`: redis-server, two call
center simulators, the community simulator, the front door, each its own process) with
no customers at all. For each state, call centers up and call centers down (self-help),
Redis's per-command counters are reset (`CONFIG RESETSTAT`), the stack is left alone for
`--seconds`, and `INFO commandstats` and the front door's CPU time (/proc) are read.
Every replica of a deployment costs this much, so it is the floor under Redis's load.

    python -m loadtests.bench_idle [--seconds 30] [--out loadtests/results/idle.md]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import urllib.request
from pathlib import Path

from redis import Redis

from loadtests.bench.stage import ops_base
from loadtests.spike.stack import cores, stack

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def switch(controls: dict[str, str], mode: str) -> None:
    for control in controls.values():
        request = urllib.request.Request(  # noqa: S310 - loopback URL the stack built
            f"{control}/_sim/mode", data=json.dumps({"mode": mode}).encode(), method="POST",
            headers={"Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(request, timeout=5):  # noqa: S310
            pass


def routed_to(base: str) -> str:
    with urllib.request.urlopen(f"{ops_base(base)}/api/v1/status", timeout=5) as answer:  # noqa: S310
        return str(json.load(answer)["destination"])


def window(redis: Redis, pid: int, seconds: float) -> tuple[dict[str, float], float]:
    redis.config_resetstat()
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    time.sleep(seconds)
    stats = redis.info("commandstats")
    cpu1, t1 = cpu_seconds(pid), time.monotonic()
    elapsed = t1 - t0
    per_s = {
        name.removeprefix("cmdstat_"): int(v["calls"]) / elapsed
        for name, v in stats.items()
        if not name.startswith(("cmdstat_config", "cmdstat_info"))  # ours
    }
    return per_s, (cpu1 - cpu0) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--settle", type=float, default=10.0, help="after each switch")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    door_core, side_core = cores()
    rows: list[tuple[str, dict[str, float], float]] = []
    with tempfile.TemporaryDirectory(prefix="bench-idle-") as tmp:
        work = Path(tmp)
        (work / "logs").mkdir()
        with stack(work, work / "logs", door_core=door_core, side_core=side_core) as s:
            redis = Redis(port=s.redis_port)
            for mode, state in (("up", "call centers up"), ("down", "call centers down")):
                switch(s.controls, mode)
                time.sleep(args.settle)
                where = routed_to(s.base_url)
                per_s, cpu = window(redis, s.door_pid, args.seconds)
                rows.append((f"{state} (customers sent to {where})", per_s, cpu))
                print(f"{state}: {sum(per_s.values()):.1f} Redis commands/s, "
                      f"CPU {cpu * 100:.2f}% of a core", flush=True)  # fmt: skip
    report = render(rows, args.seconds)
    print(report)
    if args.out:
        args.out.write_text(report)
        print(f"written to {args.out}")


def render(rows: list[tuple[str, dict[str, float], float]], seconds: float) -> str:
    names = sorted({n for _, per_s, _ in rows for n in per_s})
    lines = [
        "# An idle front door",
        "",
        "`python -m loadtests.bench_idle`: the spike stack with no customers; Redis "
        f"commands and the front door's CPU over {seconds:.0f} s per state.",
        "",
        "| state | Redis commands/s | front door CPU, % of a core |",
        "|---|---:|---:|",
    ]
    lines += [f"| {state} | {sum(p.values()):.2f} | {cpu * 100:.2f} |" for state, p, cpu in rows]
    lines += ["", "Per command (calls/s):", ""]
    lines.append("| command | " + " | ".join(state for state, _, _ in rows) + " |")
    lines.append("|---|" + "---:|" * len(rows))
    lines += [
        f"| {name} | " + " | ".join(f"{p.get(name, 0.0):.2f}" for _, p, _ in rows) + " |"
        for name in names
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
