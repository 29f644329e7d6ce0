"""The callback bench's report, in markdown: the setup, accepted/s per contender and
appendfsync policy, the front door's ratios to the baseline, and every run's check."""

from __future__ import annotations

import os
import statistics
from dataclasses import dataclass
from pathlib import Path

from loadtests.bench.callbacks_load import WARMUP_S, Run
from loadtests.bench.callbacks_stage import BARE, BODY, REDIS_CONF
from loadtests.bench.stage import DOOR

Results = dict[str, dict[str, list[Run]]]  # appendfsync policy -> contender -> runs


@dataclass(frozen=True, slots=True, kw_only=True)
class Setup:
    seconds: int
    rounds: int
    connections: int
    redis_version: str
    durability: dict[str, str]  # CONFIG GET append*, as the run started
    filesystem: str  # where Redis kept its AOF


def filesystem(path: Path) -> str:
    """'ext4 (/dev/vda)': the type and device of the mount holding `path`."""
    best: tuple[str, str, str] = ("", "?", "?")
    for line in Path("/proc/mounts").read_text().splitlines():
        device, mount, kind = line.split()[:3]
        inside = str(path).startswith(mount.rstrip("/") + "/") or str(path) == mount
        if inside and len(mount) > len(best[0]):
            best = (mount, kind, device)
    return f"{best[1]} ({best[2]})"


def _machine() -> str:
    model = "?"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({model}), {memory:.0f} GiB"


def _rounds(runs: list[Run]) -> list[Run]:
    return [r for r in runs if r.label.startswith("round")]


def _median(runs: list[Run], field: str) -> float:
    return statistics.median(float(getattr(r, field)) for r in _rounds(runs))


def _header(setup: Setup) -> list[str]:
    d = setup.durability
    return [
        "# Callback intake: front door against bare aiohttp doing one XADD",
        "",
        f"`POST /help/callbacks` with `Content-Type: application/json`, the body "
        f"`{BODY.decode()}` ({len(BODY)} B) and a unique `Idempotency-Key` per request "
        "(wrk Lua: run prefix, thread, counter). Throughput: callbacks accepted (202) per "
        f"second. Machine: {_machine()}; `wrk -t1 -c{setup.connections}` and redis-server "
        "on core 1, each server alone on core 0 (`taskset`); "
        f"{setup.rounds} x {setup.seconds} s rounds, the contenders alternating, after a "
        f"{WARMUP_S} s warm-up each.",
        "",
        f"Redis {setup.redis_version}: one redis-server for both (each contender its own "
        f"stream), started with `{REDIS_CONF.relative_to(REDIS_CONF.parents[1])}` as is "
        f"(running: appendonly {d.get('appendonly', '?')}, appendfsync "
        f'{d.get("appendfsync", "?")}; noeviction) plus `save ""` and '
        "`auto-aof-rewrite-percentage 0`, so that no RDB snapshot or AOF rewrite forks in "
        f"the middle of a round; its data in the bench's temp dir, on {setup.filesystem}: "
        "each fsync reaches the VM's disk. The `everysec` rows: the same processes after "
        "`CONFIG SET appendfsync everysec`.",
        "",
        "- front door: `python -m failover serve`, default configuration but `[redis] url` "
        "(ours) and `[callbacks] spool_path` (temp dir); its one call center at a closed "
        "loopback port (probes fail: down), so the dispatcher stays idle and callbacks pile "
        "up in the stream. Per callback: JSON and field validation (the phone number "
        "through `phonenumbers`), the entry key (SHA-256 of the idempotency key and the "
        "request), one EVALSHA (GET the key's record; XADD; SET the record with a 7-day TTL), "
        "metrics, the 202 with the ticket.",
        "- baseline: a bare aiohttp app (`loadtests/bench/callbacks_bare.py`): parse the "
        "JSON, one XADD of the body and the key, 202 with the entry id.",
    ]


def _results(results: Results) -> list[str]:
    lines = [
        "## Accepted callbacks per second",
        "",
        "| appendfsync | contender | accepted/s (median) | rounds, accepted/s "
        "| server CPU us/request | server's core busy | Redis CPU us/callback | p50 ms "
        "| p99 ms | non-2xx | socket errors |",
        "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for policy, by_name in results.items():
        for name, runs in by_name.items():
            each = " / ".join(f"{r.accepted_per_s:.0f}" for r in _rounds(runs))
            lines.append(
                f"| {policy} | {name} | {_median(runs, 'accepted_per_s'):.0f} | {each} | "
                f"{_median(runs, 'cpu_us'):.0f} | {_median(runs, 'server_busy'):.0%} | "
                f"{_median(runs, 'redis_cpu_us'):.1f} | "
                f"{_median(runs, 'p50_ms'):.2f} | {_median(runs, 'p99_ms'):.2f} | "
                f"{sum(r.non_2xx for r in runs)} | {sum(r.socket_errors for r in runs)} |"
            )
    lines += [
        "",
        "| appendfsync | accepted/s, front door / baseline "
        "| server CPU per request, baseline / front door "
        "| Redis CPU per callback, baseline / front door |",
        "|---|---:|---:|---:|",
    ]
    for policy, by_name in results.items():
        door, bare = by_name[DOOR], by_name[BARE]
        lines.append(
            f"| {policy} | "
            f"{_median(door, 'accepted_per_s') / _median(bare, 'accepted_per_s'):.2f} | "
            f"{_median(bare, 'cpu_us') / _median(door, 'cpu_us'):.2f} | "
            f"{_median(bare, 'redis_cpu_us') / _median(door, 'redis_cpu_us'):.2f} |"
        )
    return lines


def _checks(results: Results, connections: int) -> list[str]:
    lines = [
        "## Checks: every 202 has its stream entry",
        "",
        "After each run (warm-ups too), once the server had settled: the entries the run "
        "added to the contender's stream (the front door's: `sb:callbacks` plus its "
        "dead-letter stream) against the 202s wrk counted. wrk stops at its deadline with "
        f"up to one request in flight per connection ({connections}), which the server "
        "still stores but wrk never counts, so a sound run has 0 <= entries - 202s <= "
        f"{connections}; fewer entries than 202s would be lost acks. The front door's own "
        '`switchboard_callbacks_accepted_total` must match its entries, all `store="redis"`.',
        "",
        "| appendfsync | contender | run | 202s (wrk) | new entries | entries - 202s "
        "| front door counted (redis / spool) | check |",
        "|---|---|---|---:|---:|---:|---:|---|",
    ]
    bad = 0
    for policy, by_name in results.items():
        for name, runs in by_name.items():
            for r in runs:
                problems = r.problems(connections)
                bad += bool(problems)
                counted = "-" if r.counted is None else f"{r.counted:.0f} / {r.spooled:.0f}"
                lines.append(
                    f"| {policy} | {name} | {r.label} | {r.acks} | {r.entries} | "
                    f"{r.unanswered} | {counted} | {'; '.join(problems) or 'ok'} |"
                )
    total = sum(len(runs) for by_name in results.values() for runs in by_name.values())
    verdict = f"All {total} runs sound." if not bad else f"**{bad} of {total} runs FAILED.**"
    return [*lines, "", verdict]


def failed(results: Results, connections: int) -> int:
    return sum(
        bool(r.problems(connections))
        for by_name in results.values()
        for runs in by_name.values()
        for r in runs
    )


def render(results: Results, setup: Setup) -> str:
    lines = _header(setup)
    lines += ["", *_results(results), "", *_checks(results, setup.connections)]
    lines += [
        "",
        "Server CPU from the server process's utime + stime over the run; its core busy = "
        "that CPU time per second of load (requests/s x CPU per request). Near 100%, the "
        "server process limits the rate, not Redis or its fsync; Redis CPU is "
        "redis-server's, per entry added. On this shared VM absolute figures swing between "
        "runs (and with the disk's fsync latency): compare the ratios within one run.",
    ]
    return "\n".join(lines)
