"""Redis made highly available, for integration tests: a primary, a replica and three
``redis-sentinel`` processes (Debian package redis-sentinel), all on free loopback ports
in a temporary directory, never 6379 or 26379::

    async with SentinelGroup(tmp_path) as group:
        client = connect(group.url)           # redis+sentinel://127.0.0.1:p1,.../mymaster/0
        took = await group.fail_primary()      # SIGKILL the primary, wait for the promotion

Timings are small so a test stays short: a primary silent for `DOWN_AFTER_MS` is
subjectively down, two sentinels agreeing (quorum 2 of 3) make it objectively down, and
the failover must finish within `FAILOVER_TIMEOUT_MS` (Redis docs, "High availability
with Redis Sentinel": down-after-milliseconds, failover-timeout).

Every process is started in its own session with PR_SET_PDEATHSIG (tests/support/
processes.py), so none outlives the test process, and each is stopped on the way out.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Final

from redis.asyncio import Redis
from redis.exceptions import RedisError

from sims.harness.lifecycle import AsyncResource
from sims.harness.redis import sentinel_sees_all
from tests.support.processes import free_port
from tests.support.redis import RedisServer

SERVICE: Final = "mymaster"
QUORUM: Final = 2
DOWN_AFTER_MS: Final = 500
FAILOVER_TIMEOUT_MS: Final = 2000
READY_WITHIN_S: Final = 15.0
FORBIDDEN_PORTS: Final = frozenset({6379, 26379})  # the machine's own Redis and Sentinel
DATA_OPTIONS: Final = {"appendonly": "yes", "appendfsync": "always", "save": ""}


def _port() -> int:
    while True:
        port = free_port()
        if port not in FORBIDDEN_PORTS:
            return port


class _Node(RedisServer):
    """A redis-server holding data; started as a replica of ``replica_of`` when set."""

    def __init__(self, directory: Path, *, replica_of: int | None = None) -> None:
        super().__init__(directory, options=DATA_OPTIONS, port=_port())
        self.replica_of = replica_of

    def _argv(self) -> list[str]:
        if self.replica_of is None:
            return super()._argv()
        # Two arguments: redis-server joins the words after --replicaof into one line.
        return [*super()._argv(), "--replicaof", "127.0.0.1", str(self.replica_of)]


class _Sentinel(RedisServer):
    """``redis-sentinel <conf>``: Sentinel rewrites its file (it records what it learns),
    so the file lives in the process's own directory."""

    def __init__(self, directory: Path, *, primary_port: int) -> None:
        super().__init__(directory, port=_port())
        self.primary_port = primary_port

    def _argv(self) -> list[str]:
        conf = self.directory / "sentinel.conf"
        if not conf.exists():
            conf.write_text(
                f"port {self.port}\nbind 127.0.0.1\ndaemonize no\n"
                f'dir "{self.directory}"\nlogfile "{self.logfile}"\n'
                f"sentinel monitor {SERVICE} 127.0.0.1 {self.primary_port} {QUORUM}\n"
                f"sentinel down-after-milliseconds {SERVICE} {DOWN_AFTER_MS}\n"
                f"sentinel failover-timeout {SERVICE} {FAILOVER_TIMEOUT_MS}\n"
                f"sentinel parallel-syncs {SERVICE} 1\n"
            )
        return ["redis-sentinel", str(conf)]


class SentinelGroup(AsyncResource):
    """Primary + replica + 3 sentinels; `url` is the front door's ``[redis] url``."""

    def __init__(self, directory: Path | None = None) -> None:
        self._own_dir = directory is None
        self.directory = (
            Path(tempfile.mkdtemp(prefix="sb-sentinel-")) if directory is None else directory
        )
        first = _Node(self.directory / "node-0")
        self.nodes = [first, _Node(self.directory / "node-1", replica_of=first.port)]
        self.sentinels = [
            _Sentinel(self.directory / f"sentinel-{i}", primary_port=first.port) for i in range(3)
        ]

    @property
    def url(self) -> str:
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return f"redis+sentinel://{hosts}/{SERVICE}/0"

    def node_on(self, port: int) -> RedisServer:
        return next(n for n in self.nodes if n.port == port)

    async def rejoin(self, port: int) -> None:
        """Start a stopped node again as a replica of the current primary, as a restarted
        pod's start script does after asking Sentinel (left to Sentinel, a returning old
        primary is converted only after it has reported itself master for 8 s:
        sentinel.c, SENTINEL_PUBLISH_PERIOD * 4), and wait until it is in sync."""
        primary = await self.primary_port()
        if primary is None or primary == port:
            raise RuntimeError("sentinel group: no other primary to follow")
        node = next(n for n in self.nodes if n.port == port)
        node.replica_of = primary
        await node.start()
        await self._wait(self.settled, "the node to rejoin as a replica")

    async def primary_port(self) -> int | None:
        """The primary's port as the first sentinel that answers reports it."""
        for s in self.sentinels:
            if not s.running:
                continue
            client = Redis(host="127.0.0.1", port=s.port, socket_timeout=1.0)
            try:
                answer = await client.sentinel_get_master_addr_by_name(SERVICE)
            except (RedisError, OSError):
                continue
            finally:
                await client.aclose()
            if isinstance(answer, tuple | list):
                return int(answer[1])
        return None

    async def start(self) -> None:
        for node in self.nodes:
            await node.start()
        for s in self.sentinels:
            await s.start()
        await self._wait(self.settled, "sentinels to know each other and the replica")

    async def settled(self) -> bool:
        """Every sentinel sees the primary with the replica and the two other sentinels,
        and the replica's link to the primary is up."""
        primary = await self.primary_port()
        if primary is None:
            return False
        for s in self.sentinels:
            client = Redis(host="127.0.0.1", port=s.port, socket_timeout=1.0)
            if not await sentinel_sees_all(client, SERVICE):
                return False
        for node in self.nodes:
            if node.port == primary or not node.running:
                continue
            client = Redis(host="127.0.0.1", port=node.port, socket_timeout=1.0)
            try:
                replication = await client.info("replication")
            finally:
                await client.aclose()
            if replication.get("master_link_status") != "up":
                return False
        return True

    async def _wait(
        self, check: Callable[[], Awaitable[bool]], what: str, within: float = READY_WITHIN_S
    ) -> float:
        started = time.monotonic()
        while time.monotonic() - started < within:
            try:
                if await check():
                    return time.monotonic() - started
            except (RedisError, OSError, KeyError):  # a node still starting: ask again
                pass
            await asyncio.sleep(0.05)
        raise TimeoutError(f"sentinel group: timed out after {within} s waiting for {what}")

    async def kill_primary(self) -> int:
        """SIGKILL the primary; its port."""
        old = await self.primary_port()
        if old is None:
            raise RuntimeError("sentinel group: no primary to fail")
        await self.node_on(old).kill()
        return old

    async def promoted(self, old: int, within: float = 15.0) -> float:
        """Wait until a sentinel names a primary other than ``old``; seconds waited."""

        async def moved() -> bool:
            now = await self.primary_port()
            return now is not None and now != old

        return await self._wait(moved, "a replica to be promoted", within)

    async def fail_primary(self, within: float = 15.0) -> float:
        """SIGKILL the primary; return the seconds until a sentinel names a new one."""
        started = time.monotonic()
        old = await self.kill_primary()
        await self.promoted(old, within)
        return time.monotonic() - started

    async def aclose(self) -> None:
        try:
            for server in [*self.sentinels, *self.nodes]:
                await server.stop()
        finally:
            if self._own_dir:
                shutil.rmtree(self.directory, ignore_errors=True)
