"""Slow and numerous connections (slowloris), against the front door's own server.

Before: 300 connections sending one header byte every 2 s stayed open indefinitely; there
was no header deadline and no per-client connection cap. These tests also pin the two
attributes of aiohttp's RequestHandler that failover/connections.py reads: if a release
changes them, the header deadline tests here fail.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import aiohttp

from tests.support.attack import attack_stack, read_answer
from tests.support.stack import wait_for

TIMEOUT = aiohttp.ClientTimeout(total=10, sock_connect=5, sock_read=10)
FAST = "header_timeout_ms = 600\nkeepalive_timeout_ms = 1500\n"


async def _dribble(port: int, source: str, *, every: float, within: float) -> bool:
    """Send a request's headers one byte every `every` s; True if the server closed the
    connection before `within` s."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0))
    header = b"GET /support/x HTTP/1.1\r\nHost: a\r\nX-Padding: " + b"p" * 200
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    try:
        for byte in header:
            if loop.time() > deadline:
                return False
            writer.write(bytes([byte]))
            try:
                await writer.drain()
                async with asyncio.timeout(every):
                    if await reader.read(1024) == b"":
                        return True  # closed by the server
            except TimeoutError:
                continue
            except ConnectionError:
                return True
        return False
    finally:
        writer.transport.abort()


async def test_slow_headers_are_cut_at_the_deadline_and_customers_are_served_meanwhile(
    tmp_path: Path,
) -> None:
    server = "header_timeout_ms = 2000\n"
    async with attack_stack(tmp_path, server=server) as stack:
        sources = [f"127.0.0.{2 + i % 3}" for i in range(300)]  # 100 from each of 3
        slow = [
            asyncio.ensure_future(_dribble(stack.port, s, every=0.2, within=6.0)) for s in sources
        ]
        try:
            await wait_for(lambda: stack.runner.connections.total >= 300, within=5,
                           what="300 slow connections open")  # fmt: skip
            async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
                for i in range(10):
                    async with session.get(f"{stack.url}/support/p{i}") as resp:
                        assert resp.status == 200
                        assert (await resp.json())["center"] == "primary"
        finally:
            closed = await asyncio.gather(*slow)
        assert all(closed), f"{closed.count(False)} of 300 slow connections still open"
        assert stack.refused("header_timeout") == 300
        assert stack.failures_recorded() == {"primary": 0, "backup": 0}


async def test_a_client_over_its_connection_cap_is_refused_others_are_not(
    tmp_path: Path,
) -> None:
    server = "max_connections_per_client = 20\n"
    async with attack_stack(tmp_path, server=server) as stack:
        opened: list[asyncio.StreamWriter] = []
        closed_at_once = 0
        try:
            for _ in range(30):
                reader, writer = await asyncio.open_connection(
                    "127.0.0.1", stack.port, local_addr=("127.0.0.2", 0)
                )
                opened.append(writer)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(0.2):
                        if await reader.read(1) == b"":
                            closed_at_once += 1
            assert closed_at_once == 10
            assert stack.refused("client_connection_limit") == 10
            assert stack.runner.connections.by_client.get("4:127.0.0.2") == 20
            connector = aiohttp.TCPConnector(local_addr=("127.0.0.3", 0))
            async with (
                aiohttp.ClientSession(connector=connector, timeout=TIMEOUT) as session,
                session.get(f"{stack.url}/help") as resp,
            ):
                assert resp.status == 200
        finally:
            for writer in opened:
                writer.transport.abort()
        await wait_for(lambda: stack.runner.connections.total == 0, within=5,
                       what="every connection released")  # fmt: skip


async def test_the_connection_cap_groups_ipv6_clients_by_the_configured_prefix(
    tmp_path: Path,
) -> None:
    # Before: `runner_for` never passed `[limits] ipv6_prefix` on; the cap used /64.
    # The peers are given to the runner's guard as a connection's arrival does (binding
    # addresses of 2001:db8::/48 would need root).
    server, extra = "max_connections_per_client = 2\n", "[limits]\nipv6_prefix = 48\n"
    async with attack_stack(tmp_path, server=server, extra=extra) as stack:
        conns = stack.runner.connections
        keys = [conns.admit(f"2001:db8:0:{net}::1") for net in (1, 2, 3)]
        assert keys[:2] == [("6:2001:db8::/48", None)] * 2
        assert keys[2] == (None, "client_connection_limit")
        for key, _ in keys[:2]:
            assert key is not None
            conns.release(key)


async def test_keep_alive_connections_are_not_cut_between_requests_but_idle_ones_close(
    tmp_path: Path,
) -> None:
    # Each request's headers take 0.4 s (under the 1.2 s deadline, with room for a slow
    # machine), and the pauses between requests (0.9 s: with the headers, past the
    # deadline) do not count towards it.
    server = "header_timeout_ms = 1200\nkeepalive_timeout_ms = 2500\n"
    async with attack_stack(tmp_path, server=server) as stack:
        reader, writer = await asyncio.open_connection("127.0.0.1", stack.port)
        try:
            for i in range(3):
                request = f"GET /support/k{i} HTTP/1.1\r\nHost: a\r\n\r\n".encode()
                for part in (request[:10], request[10:20], request[20:]):
                    writer.write(part)
                    await writer.drain()
                    await asyncio.sleep(0.2)
                answer = await read_answer(reader)
                assert answer is not None
                assert answer.status == 200
                await asyncio.sleep(0.9)
            # Idle past keepalive_timeout (2.5 s): the server closes it.
            async with asyncio.timeout(5):
                assert await reader.read(1) == b""
        finally:
            writer.transport.abort()
        assert stack.refused("header_timeout") == 0


async def test_a_body_slower_than_the_header_deadline_is_not_cut(tmp_path: Path) -> None:
    async with attack_stack(tmp_path, server=FAST) as stack:
        reader, writer = await asyncio.open_connection("127.0.0.1", stack.port)
        try:
            body = b"b" * 50_000
            writer.write(
                b"POST /support/up HTTP/1.1\r\nHost: a\r\nConnection: close\r\n"
                b"Content-Length: 50000\r\n\r\n"
            )
            for i in range(10):  # 1.5 s in all, past the 0.6 s header deadline
                writer.write(body[i * 5000 : (i + 1) * 5000])
                await writer.drain()
                await asyncio.sleep(0.15)
            answer = await read_answer(reader)
            assert answer is not None
            assert answer.status == 200
        finally:
            writer.transport.abort()
        assert stack.centers["primary"].customer_requests()[-1].body == body
