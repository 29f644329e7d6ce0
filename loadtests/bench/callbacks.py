"""The callback bench's stage and load (docs/benchmarks.md, "Method"): one redis-server for
both contenders (each its own stream; `fsync` switches appendfsync live), wrk POSTing
callbacks (callbacks.lua). wrk stops with up to one request in flight per connection,
stored but never counted, so a sound run has 0 <= entries - 202s <= connections."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import redis

from failover.callbacks.stream import DEAD, STREAM
from loadtests.bench.measure import run_wrk
from loadtests.bench.stage import DOOR, SIDE_CORE, Contender, bare, door
from sims.harness.ports import fetch, free_port
from sims.harness.procs import Processes, cpu_seconds
from sims.harness.redis import start_redis

REDIS_CONF = Path(__file__).resolve().parents[2] / "deploy" / "redis-callbacks.conf"
ROUTE = "/help/callbacks"
BODY = b'{"name":"Bench","phone":"+14155552671","topic":"wifi"}'
BARE = "bare aiohttp, one XADD"
BARE_STREAM = "bench:callbacks"
ACCEPTED = "switchboard_callbacks_accepted_total"
START_S = 30.0
SETTLE_S = 0.3  # entries unchanged this long: the server has finished what wrk left
SETTLE_MAX_S = 10.0

LUA = Path(__file__).with_name("callbacks.lua")


@dataclass(frozen=True, slots=True, kw_only=True)
class Run:
    label: str  # "warm-up", "round 1", ...
    rps: float  # wrk's Requests/sec
    p50_ms: float
    p99_ms: float
    cpu_us: float  # the server's utime + stime per response
    redis_cpu_us: float  # redis-server's, per stream entry added
    responses: int
    non_2xx: int
    socket_errors: int
    entries: int  # stream entries added by the run, once the server settled
    counted: float | None  # front door: accepted_total{store="redis"} added
    spooled: float | None  # front door: accepted_total{store="spool"} added

    @property
    def acks(self) -> int:
        """202s wrk counted (non-2xx must be 0; no other 2xx is ever answered)."""
        return self.responses - self.non_2xx

    @property
    def accepted_per_s(self) -> float:
        return self.rps * self.acks / max(self.responses, 1)

    @property
    def server_busy(self) -> float:
        """The share of its core the server used: CPU seconds per second of load."""
        return self.rps * self.cpu_us / 1e6

    @property
    def unanswered(self) -> int:
        """Entries wrk never saw answered: in flight when it stopped."""
        return self.entries - self.acks

    def problems(self, connections: int) -> list[str]:
        found = [f"{self.non_2xx} non-2xx"] if self.non_2xx else []
        if self.socket_errors:
            found.append(f"{self.socket_errors} socket errors")
        if self.unanswered < 0:
            found.append(f"{-self.unanswered} lost acks (202 without an entry)")
        if self.unanswered > connections:
            found.append(f"{self.unanswered} entries beyond the 202s, more than in flight")
        if self.counted is not None and self.counted != self.entries:
            found.append(f"door counted {self.counted:.0f} stored, stream has {self.entries}")
        if self.spooled:
            found.append(f"{self.spooled:.0f} spooled, not in Redis")
        return found


def post_callback(url: str, key: str) -> tuple[int, dict[str, object]]:
    """Status and JSON answer of one loopback POST of `BODY` (4xx/5xx too)."""
    headers = {"Content-Type": "application/json", "Idempotency-Key": key}
    status, _, body = fetch(url, data=BODY, headers=headers, method="POST")
    return status, json.loads(body or b"{}")


def wait_down(door: Contender, *, seconds: float = START_S) -> None:
    """Until /api/v1/status shows every call center down: nothing to deliver to."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = json.loads(door.ops("/api/v1/status"))
        if all(c["availability"] == "down" for c in status["callcenters"]):
            return
        time.sleep(0.1)
    raise SystemExit("bench: the front door's call center never showed as down")


@dataclass(slots=True)
class CallbackStage:
    tmp: Path
    connections: int
    redis: redis.Redis
    redis_pid: int
    pids: dict[str, int] = field(default_factory=dict)  # contender name -> server pid

    def fsync(self, policy: str) -> None:
        """`CONFIG SET appendfsync` (always, everysec), checked."""
        self.redis.config_set("appendfsync", policy)
        if self.durability()["appendfsync"] != policy:
            raise SystemExit(f"bench: redis-server did not take appendfsync {policy}")

    def durability(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in self.redis.config_get("append*").items()}

    def version(self) -> str:
        return str(self.redis.info("server")["redis_version"])

    def entries(self, contender: Contender) -> int:
        """Entries in the contender's stream(s): the front door's dead-letter stream too,
        so that a callback moved there (never, with the call center down) still counts."""
        streams = (STREAM, DEAD) if contender.name == DOOR else (BARE_STREAM,)
        return sum(int(self.redis.xlen(s)) for s in streams)

    def _settled(self, contender: Contender) -> int:
        last, since = self.entries(contender), time.monotonic()
        deadline = since + SETTLE_MAX_S
        while time.monotonic() < deadline:
            time.sleep(0.05)
            now = self.entries(contender)
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= SETTLE_S:
                break
        return last

    def run(self, contender: Contender, label: str, seconds: int) -> Run:
        """One wrk run of callbacks.lua against `contender`, checked (printed)."""
        pid, is_door = self.pids[contender.name], contender.name == DOOR
        script = self.tmp / "callbacks.lua"
        script.write_text(LUA.read_text().replace("{body}", BODY.decode()))
        entries = self.entries(contender)
        counted = contender.counter(ACCEPTED, "store") if is_door else {}
        cpu, redis_cpu = cpu_seconds(pid), cpu_seconds(self.redis_pid)
        prefix = f"{contender.slug}-{uuid.uuid4().hex[:12]}"
        out = run_wrk(contender.url, seconds, connections=self.connections, script=script,
                      script_args=[prefix])  # fmt: skip
        cpu, redis_cpu = cpu_seconds(pid) - cpu, cpu_seconds(self.redis_pid) - redis_cpu
        added = self._settled(contender) - entries
        after = contender.counter(ACCEPTED, "store") if is_door else {}

        def grew(store: str) -> float | None:
            return after.get((store,), 0.0) - counted.get((store,), 0.0) if is_door else None

        run = Run(
            label=label, rps=out.rps, p50_ms=out.p50_ms, p99_ms=out.p99_ms,
            cpu_us=cpu / max(out.responses, 1) * 1e6, redis_cpu_us=redis_cpu / max(added, 1) * 1e6,
            responses=out.responses, non_2xx=out.non_2xx, socket_errors=out.socket_errors,
            entries=added, counted=grew("redis"), spooled=grew("spool"),
        )  # fmt: skip
        print(f"bench: {contender.name}, {label}: {run.accepted_per_s:.0f} accepted/s, "
              f"{run.acks} 202s, {run.entries} entries"
              + "".join(f"; {p}" for p in run.problems(self.connections)))  # fmt: skip
        return run


def start_stage(
    tmp: Path, procs: Processes, connections: int
) -> tuple[CallbackStage, Contender, Contender]:
    """redis-server, then the two contenders (not started): front door, baseline."""
    server = start_redis(
        procs, tmp / "redis", conf=REDIS_CONF, core=SIDE_CORE,
        options={"save": "", "auto-aof-rewrite-percentage": "0"}, log=tmp / "redis.log",
    )  # fmt: skip
    spool = {"spool_path": str(tmp / "callbacks.spool"), "consumer": "bench"}
    front = door(tmp, "door", page_path=ROUTE, log=True, trusted_proxy=True,
                 redis_port=server.port, centers=[("cc", free_port())],  # nothing there
                 settings={"callbacks": spool})  # fmt: skip
    base = bare(BARE, "bare", "xadd", server.url, BARE_STREAM, page_path=ROUTE,
                ready_path="/healthz", log=tmp / "bare.log")  # fmt: skip
    client = redis.Redis(port=server.port, socket_timeout=10)
    return CallbackStage(tmp, connections, client, server.pid), front, base
