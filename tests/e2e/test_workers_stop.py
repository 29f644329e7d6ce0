"""Stopping several workers (`server.workers = 2`): SIGTERM closes the ports at once,
as a single process does, while requests in flight finish. Real processes on 127.0.0.1.

Before: the master kept its copies of the customers' and ops sockets open until every
worker had exited, so a connection made during the drain was queued in the backlog,
hung, then was reset (with one process it is refused at once).
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from tests.support.frontdoor import FrontDoors
from tests.support.redis import RedisServer
from tests.support.stack import wait_for
from tests.support.workers import two_workers

IN_FLIGHT = 4


class HeldCenter:
    """A call center whose `/slow` answers are held until `release` is set."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.held = 0
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/health", self._health)
        app.router.add_get("/slow", self._slow)
        self.runner = web.AppRunner(app, shutdown_timeout=1)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = self.runner.addresses[0][1]

    async def stop(self) -> None:
        self.release.set()
        if self.runner is not None:
            await self.runner.cleanup()

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def _slow(self, request: web.Request) -> web.Response:
        self.held += 1
        await self.release.wait()
        return web.Response(text="done")


async def refused(port: int) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 0.5)
    except ConnectionRefusedError:
        return True
    except TimeoutError:
        return False  # hanging: what it did before
    except ConnectionResetError:
        return False  # met a listener as it closed: not refused yet, the next look is
    writer.transport.abort()  # taken (by a worker still accepting, or into a backlog)
    return False


async def test_sigterm_refuses_new_connections_at_once_while_in_flight_requests_finish(
    tmp_path: Path,
) -> None:
    center = HeldCenter()
    await center.start()
    try:
        async with RedisServer(tmp_path / "redis") as redis, FrontDoors(tmp_path) as doors:
            proxy = "[proxy]\nread_timeout_ms = 8000\nrequest_budget_ms = 9000\n"
            door = await doors.start("fd", lambda port: two_workers(
                port, redis_url=redis.url, center_url=f"http://127.0.0.1:{center.port}",
                server="shutdown_grace_ms = 8000\n", sections=proxy))  # fmt: skip
            connector = aiohttp.TCPConnector(force_close=True)  # spread over both workers
            async with aiohttp.ClientSession(connector=connector) as s:
                await door.wait_ready(s)

                async def slow() -> int:
                    url = f"{door.url}/support/slow"
                    async with s.get(url, allow_redirects=False) as resp:
                        await resp.read()
                        return resp.status

                flight = [asyncio.create_task(slow()) for _ in range(IN_FLIGHT)]
                await wait_for(lambda: center.held == IN_FLIGHT, within=10,
                               what="every request held at the call center")  # fmt: skip
                door.proc.send_signal(signal.SIGTERM)
                sent = time.monotonic()
                # Requests are still in flight (held): the ports must close anyway.
                await wait_for(lambda: refused(door.port), within=2,
                               what="the customers' port refusing after SIGTERM")  # fmt: skip
                await wait_for(lambda: refused(door.ops_port), within=2,
                               what="the ops port refusing after SIGTERM")  # fmt: skip
                assert time.monotonic() - sent < 3
                assert not any(task.done() for task in flight)
                center.release.set()
                statuses = await asyncio.wait_for(asyncio.gather(*flight), 10)
            assert statuses == [200] * IN_FLIGHT, door.output()[-3000:]
            assert await asyncio.wait_for(door.proc.wait(), 15) == 0
    finally:
        await center.stop()


async def test_a_configuration_the_workers_cannot_run_stops_the_master_with_2(
    tmp_path: Path,
) -> None:
    """`server.data_dir` a regular file: check-config passes, each worker exits 2 at start.
    Before: the master started them again every second for ever, the port accepting and
    hanging; now it stops them and exits 2 with the worker's message, as one process."""
    afile = tmp_path / "afile"
    afile.write_text("not a folder\n")
    async with RedisServer(tmp_path / "redis") as redis, FrontDoors(tmp_path) as doors:
        door = await doors.start(
            "fd",
            lambda port: two_workers(
                port, redis_url=redis.url, center_url="http://127.0.0.1:9", data_dir=str(afile)
            ),
        )
        code = await asyncio.wait_for(door.proc.wait(), 20)
        output = door.output()
        assert code == 2, output[-3000:]
        assert "bad configuration" in output
        assert "callbacks.spool_path (server.data_dir)" in output
        assert "starting it again" not in output
        assert await refused(door.port)
