"""What slow or stalled clients can hold on the proxy path.

Before: 260 stalled uploads to /support held every pooled call-center connection, and
customers' GETs got nothing for 10 s and more against the promised 4 s budget. Clients
here come from several loopback addresses (127.0.0.0/8 is all loopback on Linux), so
per-client limits apply to each as they would to customers on the internet.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from pathlib import Path

import aiohttp
from aiohttp import web

from switchboard.app import METRICS
from tests.support.attack import attack_stack, get, raw_request
from tests.support.stack import wait_for

TIMEOUT = aiohttp.ClientTimeout(total=15, sock_connect=5, sock_read=15)


async def _stalled_upload(port: int, source: str, hold: asyncio.Event) -> int | None:
    """Announce 10,000 bytes, send 10, then stall until `hold` is set. The status the
    front door answered with, if it answered while stalled (503 or 429), else None."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    try:
        writer.write(
            b"POST /support/upload HTTP/1.1\r\nHost: a\r\nContent-Length: 10000\r\n\r\n" + b"x" * 10
        )
        await writer.drain()
        read = asyncio.ensure_future(reader.readline())
        held = asyncio.ensure_future(hold.wait())
        done, _ = await asyncio.wait({read, held}, return_when=asyncio.FIRST_COMPLETED)
        held.cancel()
        if read in done and read.result():
            return int(read.result().split()[1])
        read.cancel()
        return None
    finally:
        writer.transport.abort()


async def _customer_get(url: str, source: str) -> tuple[int, str]:
    connector = aiohttp.TCPConnector(local_addr=(source, 0))
    async with (
        aiohttp.ClientSession(connector=connector, timeout=TIMEOUT) as session,
        session.get(url, allow_redirects=False) as resp,
    ):
        body = await resp.read()
        return resp.status, body.decode(errors="replace")


async def test_260_stalled_uploads_leave_customers_their_call_center(tmp_path: Path) -> None:
    async with attack_stack(tmp_path) as stack:
        hold = asyncio.Event()
        sources = [f"127.0.0.{2 + i % 26}" for i in range(260)]  # 10 from each of 26
        uploads = [
            asyncio.ensure_future(_stalled_upload(stack.port, source, hold)) for source in sources
        ]
        try:
            # The uploads the cap refuses are told so at once; the rest are held.
            await wait_for(lambda: stack.refused("uploads_full") >= 260 - 128, within=10,
                           what="uploads over max_uploads refused")  # fmt: skip
            answers = await asyncio.gather(
                *(_customer_get(f"{stack.url}/support/page-{i}", f"127.0.1.{i}")
                  for i in range(1, 21))
            )  # fmt: skip
            for status, body in answers:
                assert status == 200, body
                assert '"center": "primary"' in body
            assert stack.centers["primary"].customer_requests()[-1].method == "GET"
            assert all(s.method == "GET" for s in stack.centers["primary"].customer_requests())
        finally:
            hold.set()
            results = await asyncio.gather(*uploads)
        assert results.count(503) == 260 - 128
        assert stack.failures_recorded() == {"primary": 0, "backup": 0}


async def test_one_client_cannot_hold_more_than_its_share_of_a_slow_call_center(
    tmp_path: Path,
) -> None:
    extra = "[proxy]\nmax_connections = 12\nmax_in_flight_per_client = 8\n"
    async with attack_stack(tmp_path, extra=extra) as stack:
        greedy = [
            asyncio.ensure_future(_customer_get(f"{stack.url}/support/slow?s=1.5", "127.0.0.2"))
            for _ in range(30)
        ]
        try:
            await wait_for(lambda: stack.refused("client_in_flight") >= 22, within=5,
                           what="the greedy client's requests over its share refused")  # fmt: skip
            # Another customer still gets a connection: the greedy one holds 8 of 12.
            status, body = await _customer_get(f"{stack.url}/support/other", "127.0.0.3")
            assert status == 200
            assert '"center": "primary"' in body
        finally:
            results = await asyncio.gather(*greedy)
        statuses = sorted(status for status, _ in results)
        assert statuses == [200] * 8 + [429] * 22
        assert stack.failures_recorded() == {"primary": 0, "backup": 0}


async def test_a_stalled_upload_is_cut_at_the_body_deadline_without_blame(tmp_path: Path) -> None:
    extra = "[proxy]\nbody_timeout_ms = 400\n"
    async with attack_stack(tmp_path, extra=extra) as stack:
        hold = asyncio.Event()
        task = asyncio.ensure_future(_stalled_upload(stack.port, "127.0.0.2", hold))
        try:
            status = await asyncio.wait_for(task, 5)
        finally:
            hold.set()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        assert status == 408
        assert stack.refused("body_timeout") == 1
        assert stack.failures_recorded() == {"primary": 0, "backup": 0}


async def test_ipv6_clients_are_counted_by_the_configured_prefix(tmp_path: Path) -> None:
    # Before: the proxy path grouped IPv6 clients per /64 whatever `ipv6_prefix` said.
    extra = "[proxy]\nmax_in_flight_per_client = 1\n[limits]\nipv6_prefix = 128\n"
    server = 'trusted_proxies = ["127.0.0.1/32"]\n'

    def as_client(address: str, target: str) -> bytes:
        return get(target, extra=f"X-Forwarded-For: {address}\r\n")

    async with attack_stack(tmp_path, server=server, extra=extra) as stack:
        slow = asyncio.ensure_future(
            raw_request(stack.port, as_client("2001:db8::1", "/support/slow?s=1.5"))
        )
        try:
            await wait_for(lambda: len(stack.centers["primary"].customer_requests()) == 1,
                           within=5, what="the first client's request in progress")  # fmt: skip
            other = await raw_request(stack.port, as_client("2001:db8::2", "/support/other"))
            assert other.status == 200  # another /128: another client
            same = await raw_request(stack.port, as_client("2001:db8::1", "/support/again"))
            assert same.status == 429  # the same /128 is still held to its one
        finally:
            first = await slow
        assert first.status == 200


BIG = b"x" * (16 * 1024 * 1024)  # well past what the sockets' buffers hold


async def _big_center() -> tuple[web.AppRunner, str]:
    """A call center whose /big is 16 MiB (streamed by the front door) and /small small."""

    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=BIG, content_type="application/octet-stream")

    async def small(request: web.Request) -> web.Response:
        return web.json_response({"center": "big-center"})

    app = web.Application()
    app.router.add_get("/health", health)
    app.router.add_get("/big", big)
    app.router.add_get("/small", small)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


async def _stalled_download(
    port: int, source: str
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Ask for /support/big, take the status line and headers, then read no more (a
    small receive buffer, so the front door's writes block soon)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.bind((source, 0))
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=sock)
    writer.write(get("/support/big"))
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 200"), head
    return reader, writer


async def _rest_of(reader: asyncio.StreamReader) -> int:
    got = 0
    with contextlib.suppress(ConnectionResetError):
        while chunk := await reader.read(1 << 16):
            got += len(chunk)
    return got


async def test_customers_who_stop_reading_a_streamed_answer_do_not_hold_the_pool(
    tmp_path: Path,
) -> None:
    """Before: the relay's writes had no timeout (and aiohttp's sock_read timer stops
    while reading is paused), so two customers who stopped reading held both pooled
    connections for ever and every later customer went to self-help, cause busy."""
    runner, url = await _big_center()
    extra = "[proxy]\nmax_connections = 2\nsend_timeout_ms = 300\n"
    writers: list[asyncio.StreamWriter] = []
    try:
        async with attack_stack(tmp_path, extra=extra,
                                urls={"primary": url, "backup": url}) as stack:  # fmt: skip
            stalled = [await _stalled_download(stack.port, f"127.0.0.{2 + i}") for i in range(2)]
            for _, writer in stalled:
                writers.append(writer)
            # Both slots are held; the next customer waits (within its budget) for one.
            status, body = await _customer_get(f"{stack.url}/support/small", "127.0.0.9")
            assert status == 200, body
            assert "big-center" in body
            # The stalled customers were cut off: their answers end short.
            for reader, _ in stalled:
                assert await asyncio.wait_for(_rest_of(reader), 10) < len(BIG)
            # A customer who reads gets the whole of it: the timeout is per write.
            connector = aiohttp.TCPConnector(local_addr=("127.0.0.10", 0))
            async with (
                aiohttp.ClientSession(connector=connector, timeout=TIMEOUT) as session,
                session.get(f"{stack.url}/support/big") as resp,
            ):
                assert (resp.status, len(await resp.read())) == (200, len(BIG))
            registry = stack.app[METRICS].registry
            busy = registry.get_sample_value(
                "switchboard_selfhelp_redirects_total", {"cause": "busy"}
            )
            assert not busy
            assert stack.failures_recorded() == {"primary": 0, "backup": 0}
    finally:
        for writer in writers:
            writer.transport.abort()
        await runner.cleanup()
