"""The self-help bench's stage: a healthy call center (the proxy bench's nginx), a real
redis-server on a free port, the community simulator as origin, and the contenders: front
doors configured against them, and the bare app serving a page's bytes.

Redis, the community sim and nginx run on core 1 with the load generators (this machine
has two cores), outside valgrind; front doors and the bare app run on core 0.
"""

from __future__ import annotations

import json
import shutil
import socket
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from loadtests.bench.stage import (
    DOOR,
    Contender,
    Processes,
    door_argv,
    ops_base,
    ops_section,
    start_community,
    start_upstream,
)
from sims.community_seed import DEFAULT_SEED, Seed, build_seed
from sims.demo import free_port

TOPICS = 300  # the community sim's default, and its default seed: the same bulletins here
READY_LOG = "bulletins known"  # cache/runtime.py logs it when the start-up fill is done
SIDE_CORE = 1
FORBIDDEN_REDIS_PORT = 6379  # the machine's own Redis: never ours
LOOKUPS = "switchboard_cache_lookups_total"
BARE_PAGE = "bare aiohttp, same bytes"
Lookups = dict[tuple[str, str], float]  # (tier, result) -> count


def get(url: str, *, timeout: float = 10.0) -> tuple[int, str, bytes]:
    """Status, Content-Type and body of a loopback GET (4xx/5xx too)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as answer:  # noqa: S310 - loopback
            return answer.status, answer.headers.get("Content-Type", ""), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read()


def post(url: str, payload: object = None) -> None:
    """A loopback POST of `payload` as JSON (the community sim's switches)."""
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, method="POST")  # noqa: S310 - loopback
    with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - loopback
        pass


def lookups(base: str) -> Lookups:
    """`switchboard_cache_lookups_total` by (tier, result), scraped from /metrics."""
    _, _, body = get(f"{ops_base(base)}/metrics")
    found: Lookups = {}
    for family in text_string_to_metric_families(body.decode()):
        for sample in family.samples:
            if sample.name == LOOKUPS:
                found[(sample.labels["tier"], sample.labels["result"])] = sample.value
    return found


def fill_seconds(log: str) -> float | None:
    """From "listening" to the end of the self-help start-up fill, by the door's log."""
    stamps = {}
    for line in log.splitlines():
        for key in ("listening on", READY_LOG):
            if key in line and key not in stamps:
                stamps[key] = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")  # noqa: DTZ007
    if len(stamps) < 2:
        return None
    return (stamps[READY_LOG] - stamps["listening on"]).total_seconds()


def _redis_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(64).startswith(b"+PONG")
    except OSError:
        return False


@dataclass(slots=True)
class SelfHelpStage:
    tmp: Path
    procs: Processes
    upstream: str = ""  # a healthy call center, so that no outage banner shows
    origin: str = ""
    control: str = ""
    redis_port: int = 0
    redis_pid: int = 0
    seed: Seed = field(default_factory=lambda: build_seed(TOPICS, DEFAULT_SEED))

    @property
    def redis_url(self) -> str:
        return f"redis://127.0.0.1:{self.redis_port}/0"

    def start(self) -> None:
        self.upstream = start_upstream(self.tmp, self.procs)
        self.redis_port = free_port()
        if self.redis_port == FORBIDDEN_REDIS_PORT:
            raise SystemExit("bench: got port 6379, the machine's own Redis; run again")
        self.start_redis()
        self.origin, self.control = start_community(
            self.procs, self.tmp, core=SIDE_CORE, topics=TOPICS
        )

    def start_redis(self) -> None:
        """A redis-server of ours (no persistence) on `redis_port`; again after a kill."""
        server = shutil.which("redis-server") or "redis-server"
        self.redis_pid = self.procs.spawn(
            SIDE_CORE,
            server,
            "--port",
            str(self.redis_port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.tmp),
            "--logfile",
            str(self.tmp / "redis.log"),
        )
        self._wait(lambda: _redis_answers(self.redis_port), "redis-server")

    def kill_redis(self) -> None:
        """`kill -9` our redis-server."""
        self.procs.kill(self.redis_pid)

    @staticmethod
    def _wait(ok: Callable[[], bool], what: str, seconds: float = 15.0) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                if ok():
                    return
            except OSError:
                pass
            time.sleep(0.05)
        raise SystemExit(f"bench: {what} did not start")

    def community(self, mode: str) -> None:
        """Switch the community sim: up, down, ..."""
        post(f"{self.control}/_sim/mode", {"mode": mode})

    def community_requests(self, *, reset: bool = False) -> dict[str, int]:
        """Requests the community sim served, by path; `reset` zeroes them afterwards."""
        _, _, body = get(f"{self.control}/_sim/state")
        counts: dict[str, int] = json.loads(body)["requests_by_path"]
        if reset:
            post(f"{self.control}/_sim/reset")
        return counts

    def door(
        self,
        slug: str,
        *,
        page_path: str,
        health: tuple[int, int] | None = None,
        max_age_s: int | None = None,
    ) -> Contender:
        """A front door on a fresh port: [redis] and [selfhelp] origin set to ours, one
        healthy call center; otherwise the defaults, except `health` = (probe interval,
        probe timeout) in ms and `[selfhelp] max_age_s`."""
        port = free_port()
        lines = [f'[server]\nport = {port}\ndata_dir = "{self.tmp}"', ops_section(port)]
        lines.append(f'[redis]\nurl = "{self.redis_url}"')
        if health is not None:
            lines.append(f"[health]\ninterval_ms = {health[0]}\ntimeout_ms = {health[1]}")
        lines.append(f'[selfhelp]\norigin = "{self.origin}"')
        if max_age_s is not None:
            lines.append(f"max_age_s = {max_age_s}")
        lines.append(f'[[callcenters]]\nname = "cc"\nurl = "{self.upstream}"')
        config = self.tmp / f"switchboard-{slug}-{port}.toml"
        config.write_text("\n".join(lines) + "\n")
        argv = door_argv(config)
        log = self.tmp / f"door-{slug}-{port}.log"
        return Contender(DOOR, slug, argv, port, "/readyz", page_path, log, READY_LOG)

    def bare(self, slug: str, *, page_path: str, body: bytes, content_type: str) -> Contender:
        """The bare aiohttp app (bare.py page) answering `body` with `content_type`."""
        port = free_port()
        page = self.tmp / f"page-{slug}-{port}.html"
        page.write_bytes(body)
        script = str(Path(__file__).with_name("bare.py"))
        argv = (sys.executable, script, "page", str(port), str(page), content_type)
        return Contender(BARE_PAGE, slug, argv, port, page_path, page_path)
