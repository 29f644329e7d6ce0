"""The callback bench's stage: one redis-server with the documented durability config,
a front door whose call center is down, and the baseline (callbacks_bare.py).

- redis-server: `deploy/redis-callbacks.conf` as is (appendonly yes, appendfsync always,
  noeviction), on a free port (never 6379, the machine's own), its data in the bench's
  temp dir, plus `save ""` and `auto-aof-rewrite-percentage 0`: no RDB snapshot or AOF
  rewrite forks in the middle of a round (the stream only grows here). Both contenders
  write to it, each to its own stream. `fsync` switches its appendfsync live.
- the front door (`python -m failover serve`): default configuration, `[redis] url` to
  ours, `[callbacks] spool_path` in the temp dir, one call center at a closed loopback
  port. Its probes fail, it is down, so callbacks pile up in the stream and the
  dispatcher stays idle (`routing.callback_target` is None).

Redis runs on core 1 with wrk, as nginx does in the proxy bench; the servers on core 0.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import redis
from prometheus_client.parser import text_string_to_metric_families

from failover.callbacks.stream import DEAD, STREAM
from loadtests.bench.stage import DOOR, Contender, Processes, door_argv, ops_base, ops_section
from sims.demo import free_port

REDIS_CONF = Path(__file__).resolve().parents[2] / "deploy" / "redis-callbacks.conf"
SIDE_CORE = 1
FORBIDDEN_REDIS_PORT = 6379  # the machine's own Redis: never ours
ROUTE = "/help/callbacks"
BODY = b'{"name":"Bench","phone":"+14155552671","topic":"wifi"}'
BARE = "bare aiohttp, one XADD"
BARE_STREAM = "bench:callbacks"
ACCEPTED = "switchboard_callbacks_accepted_total"
START_S = 30.0


def post_callback(url: str, key: str) -> tuple[int, dict[str, object]]:
    """Status and JSON answer of one loopback POST of `BODY` (4xx/5xx too)."""
    headers = {"Content-Type": "application/json", "Idempotency-Key": key}
    request = urllib.request.Request(url, data=BODY, headers=headers, method="POST")  # noqa: S310 - loopback
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - loopback
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 - loopback
        body: bytes = answer.read()
        return body


def door_accepted(door: Contender) -> dict[str, float]:
    """`switchboard_callbacks_accepted_total` by store (redis, spool), from /metrics."""
    text = _get(f"{ops_base(door.port)}/metrics").decode()
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == ACCEPTED:
                found[sample.labels["store"]] = sample.value
    return found


def wait_down(door: Contender, *, seconds: float = START_S) -> None:
    """Until /api/v1/status shows every call center down: nothing to deliver to."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status = json.loads(_get(f"{ops_base(door.port)}/api/v1/status"))
        if all(c["availability"] == "down" for c in status["callcenters"]):
            return
        time.sleep(0.1)
    raise SystemExit("bench: the front door's call center never showed as down")


@dataclass(slots=True)
class CallbackStage:
    tmp: Path
    procs: Processes
    redis_port: int = 0
    redis_pid: int = 0
    client: redis.Redis | None = None

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    @property
    def redis(self) -> redis.Redis:
        if self.client is None:
            raise RuntimeError("CallbackStage.start first")
        return self.client

    def start(self) -> None:
        self.redis_port = free_port()
        if self.redis_port == FORBIDDEN_REDIS_PORT:
            raise SystemExit("bench: got port 6379, the machine's own Redis; run again")
        data = self.tmp / "redis"
        data.mkdir()
        server = shutil.which("redis-server") or "redis-server"
        self.redis_pid = self.procs.spawn(
            SIDE_CORE,
            server,
            str(REDIS_CONF),
            *("--port", str(self.redis_port), "--bind", "127.0.0.1", "--dir", str(data)),
            *("--save", "", "--auto-aof-rewrite-percentage", "0"),
            *("--logfile", str(self.tmp / "redis.log")),
        )
        self.client = redis.Redis(port=self.redis_port, socket_timeout=10)
        deadline = time.monotonic() + START_S
        while True:
            try:
                self.client.ping()
                break
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise SystemExit("bench: redis-server did not start") from None
                time.sleep(0.05)

    def fsync(self, policy: str) -> None:
        """`CONFIG SET appendfsync` (always, everysec), checked."""
        self.redis.config_set("appendfsync", policy)
        if self.durability()["appendfsync"] != policy:
            raise SystemExit(f"bench: redis-server did not take appendfsync {policy}")

    def durability(self) -> dict[str, str]:
        config = self.redis.config_get("append*")
        return {str(k): str(v) for k, v in config.items()}

    def version(self) -> str:
        return str(self.redis.info("server")["redis_version"])

    def entries(self, contender: Contender) -> int:
        """Entries in the contender's stream(s): the front door's dead-letter stream too,
        so that a callback moved there (never, with the call center down) still counts."""
        streams = (STREAM, DEAD) if contender.name == DOOR else (BARE_STREAM,)
        return sum(int(self.redis.xlen(s)) for s in streams)

    def door(self) -> Contender:
        port, closed = free_port(), free_port()  # nothing listens on `closed`
        lines = [
            f"[server]\nport = {port}",
            ops_section(port),
            f'[redis]\nurl = "{self.redis_url}"',
            f'[callbacks]\nspool_path = "{self.tmp / "callbacks.spool"}"\nconsumer = "bench"',
            f'[[callcenters]]\nname = "cc"\nurl = "http://127.0.0.1:{closed}"',
        ]
        config = self.tmp / f"switchboard-{port}.toml"
        config.write_text("\n".join(lines) + "\n")
        argv = door_argv(config)
        return Contender(DOOR, "door", argv, port, "/readyz", ROUTE, self.tmp / "door.log")

    def bare(self) -> Contender:
        port = free_port()
        script = str(Path(__file__).with_name("callbacks_bare.py"))
        argv = (sys.executable, script, str(port), self.redis_url, BARE_STREAM)
        return Contender(BARE, "bare", argv, port, "/healthz", ROUTE, self.tmp / "bare.log")
