"""A front door in front of call centers that record everything they receive, and a raw
HTTP client that can send what no well-behaved client library would: the harness of the
attack tests (tests/attacks/).

`RecordingCallCenter` is a real aiohttp server on 127.0.0.1 that answers its health path
with `{"status": "ok"}` and every other request with 200 and a small JSON of what it
got, and keeps each request (method, raw path, headers, body). `Trap` is a TCP listener
that only counts connections: a front door tricked into fetching from it shows up there.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy
from prometheus_client import CollectorRegistry

from failover.pool import Pool
from failover.server import GuardedRunner, runner_for
from failover.settings import load_settings
from switchboard.app import METRICS, POOL, create_app
from tests.support.stack import FAST_HEALTH, listen_loopback, wait_for

RAW_TIMEOUT = 10.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Seen:
    method: str
    raw_path: str
    headers: CIMultiDictProxy[str]
    body: bytes


@dataclass(slots=True, kw_only=True)
class RecordingCallCenter:
    name: str
    base_path: str = ""
    seen: list[Seen] = field(default_factory=list)
    runner: web.AppRunner | None = None
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{self.base_path}"

    async def start(self) -> None:
        app = web.Application(client_max_size=64 * 1024**2)
        app.router.add_get("/health", self._health)
        app.router.add_route("*", "/{tail:.*}", self._record)
        # Bodies as they were sent: a compressed one must arrive compressed.
        self.runner = web.AppRunner(app, access_log=None, auto_decompress=False)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _record(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.seen.append(
            Seen(method=request.method, raw_path=request.raw_path, headers=request.headers,
                 body=body)
        )  # fmt: skip
        if request.path.endswith("/slow"):  # `/slow?s=2`: a slow answer, for pool tests
            await asyncio.sleep(min(float(request.query.get("s", "1")), 10.0))
        return web.json_response({"center": self.name, "bytes": len(body)})

    def customer_requests(self) -> list[Seen]:
        return [s for s in self.seen if not s.raw_path.endswith("/health")]


@dataclass(slots=True)
class Trap:
    """Counts connections made to it; answers nothing."""

    connections: int = 0
    server: asyncio.Server | None = None
    port: int = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        writer.close()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()


@dataclass(frozen=True, slots=True, kw_only=True)
class AttackStack:
    url: str
    ops_url: str
    port: int
    app: web.Application
    runner: GuardedRunner
    centers: dict[str, RecordingCallCenter]

    @property
    def pool(self) -> Pool:
        return self.app[POOL]

    def refused(self, reason: str) -> float:
        value = self.app[METRICS].registry.get_sample_value(
            "switchboard_requests_refused_total", {"reason": reason}
        )
        return value or 0.0

    def failures_recorded(self) -> dict[str, float]:
        """Per call center: failed attempts counted against it (the metric, which only
        grows), plus its breaker's current run of failures and its ejections."""
        registry = self.app[METRICS].registry
        out: dict[str, float] = {}
        for m in self.pool.snapshot().members:
            failed = sum(
                registry.get_sample_value(
                    "switchboard_upstream_attempts_total", {"backend": m.spec.name, "outcome": o}
                )
                or 0.0
                for o in ("local_failure", "backend_failure")
            )
            b = m.breaker
            out[m.spec.name] = failed + b.consecutive_5xx + b.consecutive_local + b.ejections_total
        return out


@asynccontextmanager
async def attack_stack(
    tmp: Path, *, server: str = "", extra: str = "",
    names: tuple[str, ...] = ("primary", "backup"), base_path: str = "",
    urls: dict[str, str] | None = None,
) -> AsyncIterator[AttackStack]:  # fmt: skip
    """`server`: more [server] keys; `extra`: more sections; `urls`: call centers that
    are not recording ones (name -> base URL)."""
    centers = {name: RecordingCallCenter(name=name, base_path=base_path) for name in names}
    runner: GuardedRunner | None = None
    try:
        for center in centers.values():
            await center.start()
        lines = [
            '[server]\nhost = "127.0.0.1"\nport = 0\ndata_dir = "."\n' + server,
            FAST_HEALTH,
            extra,
        ]
        for priority, c in enumerate(centers.values(), start=1):
            url = (urls or {}).get(c.name, c.url)
            lines.append(
                f'[[callcenters]]\nname = "{c.name}"\nurl = "{url}"\npriority = {priority}\n'
                'health_path = "/health"\n'
            )
        config = tmp / "switchboard.toml"
        config.write_text("\n".join(lines))
        app = create_app(load_settings(config, env={}), registry=CollectorRegistry())
        runner = runner_for(app, shutdown_timeout=1.0)
        await runner.setup()
        port, ops_port = await listen_loopback(runner, app)
        stack = AttackStack(url=f"http://127.0.0.1:{port}", ops_url=f"http://127.0.0.1:{ops_port}",
                            port=port, app=app, runner=runner, centers=centers)  # fmt: skip
        await wait_for(
            lambda: all(m.last_probe is not None for m in stack.pool.snapshot().members),
            within=5, what="first probes",
        )  # fmt: skip
        yield stack
    finally:
        if runner is not None:
            await runner.cleanup()
        for center in centers.values():
            await center.stop()


@dataclass(frozen=True, slots=True, kw_only=True)
class RawAnswer:
    status: int
    headers: CIMultiDict[str]
    body: bytes


async def raw_request(
    port: int, data: bytes, *, source: str = "127.0.0.1", within: float = RAW_TIMEOUT
) -> RawAnswer:
    """Send `data` as it is and read one answer until the server closes or the body's
    length is in (fails the test if the server closed without answering)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    try:
        writer.write(data)
        await writer.drain()
        async with asyncio.timeout(within):
            answer = await read_answer(reader)
        if answer is None:
            raise AssertionError("the front door closed the connection without an answer")
        return answer
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def read_answer(reader: asyncio.StreamReader) -> RawAnswer | None:
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = await reader.read(4096)
        if not chunk:
            return None if not head else _parse(head, b"")
        head += chunk
    head, _, rest = head.partition(b"\r\n\r\n")
    answer = _parse(head, b"")
    length = int(answer.headers.get("Content-Length", "0"))
    while len(rest) < length:
        chunk = await reader.read(65536)
        if not chunk:
            break
        rest += chunk
    return RawAnswer(status=answer.status, headers=answer.headers, body=rest)


def _parse(head: bytes, body: bytes) -> RawAnswer:
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers: CIMultiDict[str] = CIMultiDict()
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.add(name.strip(), value.strip())
    return RawAnswer(status=status, headers=headers, body=body)


def get(target: str, *, host: str = "front.example", extra: str = "") -> bytes:
    return f"GET {target} HTTP/1.1\r\nHost: {host}\r\n{extra}Connection: close\r\n\r\n".encode()
