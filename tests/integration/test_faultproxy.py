"""Integration tests for the TCP fault proxy, in front of a real call-center simulator."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import aiohttp
import pytest
import pytest_asyncio

from sims.callcenter import BIG_BODY, CallCenterSim
from tests.support.faultproxy import FaultMode, FaultProxy

TIMEOUT = aiohttp.ClientTimeout(total=2.0, sock_connect=1.0, sock_read=1.0)
SHORT = aiohttp.ClientTimeout(total=0.3, sock_connect=0.3, sock_read=0.3)
REQUEST = b"GET /health HTTP/1.1\r\nHost: test\r\n\r\n"

Stream = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@pytest_asyncio.fixture
async def proxy(sim: CallCenterSim) -> AsyncIterator[FaultProxy]:
    port = int(sim.url.rsplit(":", 1)[1])
    proxy = FaultProxy("127.0.0.1", port)
    await proxy.start()
    try:
        yield proxy
    finally:
        await proxy.stop()


@pytest_asyncio.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector, timeout=TIMEOUT) as session:
        yield session


@contextlib.asynccontextmanager
async def raw_connection(proxy: FaultProxy) -> AsyncIterator[Stream]:
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def read_response(reader: asyncio.StreamReader) -> bytes:
    """Read one small HTTP response (headers plus its short JSON body)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return head + await reader.readexactly(length)


async def test_pass_mode_forwards_requests_and_responses(
    proxy: FaultProxy, client: aiohttp.ClientSession
) -> None:
    async with client.post(f"{proxy.url}/echo?x=1", data="ping") as resp:
        assert resp.status == 200
        assert resp.headers["X-Served-By"] == "A"
        echoed = await resp.json()
    assert (echoed["body"], echoed["query"]) == ("ping", "x=1")
    assert proxy.connections_total == 1


async def test_pass_mode_streams_a_large_body_intact(
    proxy: FaultProxy, client: aiohttp.ClientSession
) -> None:
    async with client.get(f"{proxy.url}/big") as resp:
        assert await resp.read() == BIG_BODY


async def test_connections_total_counts_each_accepted_connection(
    proxy: FaultProxy, client: aiohttp.ClientSession
) -> None:
    for _ in range(3):
        async with client.get(f"{proxy.url}/health") as resp:
            assert resp.status == 200
    assert proxy.connections_total == 3


async def test_refuse_mode_refuses_new_connections(
    proxy: FaultProxy, client: aiohttp.ClientSession
) -> None:
    await proxy.set_mode("refuse")
    with pytest.raises(aiohttp.ClientConnectorError):
        await client.get(f"{proxy.url}/health")


async def test_refuse_mode_closes_existing_connections(proxy: FaultProxy) -> None:
    async with raw_connection(proxy) as (reader, writer):
        writer.write(REQUEST)
        assert b"200 OK" in await read_response(reader)
        await proxy.set_mode(FaultMode.REFUSE)
        # Closed either way: a FIN, or an RST if unread data was pending.
        async with asyncio.timeout(1.0):
            with contextlib.suppress(ConnectionResetError):
                assert await reader.read() == b""


async def test_leaving_refuse_listens_again_on_the_same_port(
    proxy: FaultProxy, client: aiohttp.ClientSession
) -> None:
    port = proxy.port
    await proxy.set_mode("refuse")
    await proxy.set_mode("pass")
    assert proxy.port == port
    async with client.get(f"{proxy.url}/health") as resp:
        assert resp.status == 200


async def test_blackhole_mode_never_answers(
    proxy: FaultProxy, client: aiohttp.ClientSession
) -> None:
    await proxy.set_mode("blackhole")
    with pytest.raises(TimeoutError):
        await client.get(f"{proxy.url}/health", timeout=SHORT)
    assert proxy.connections_total == 1


async def test_blackhole_mode_stops_forwarding_on_existing_connections(
    proxy: FaultProxy, sim: CallCenterSim
) -> None:
    async with raw_connection(proxy) as (reader, writer):
        writer.write(REQUEST)
        await read_response(reader)
        await proxy.set_mode("blackhole")
        writer.write(REQUEST)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(reader.read(1), 0.3)
    assert sim.requests_by_path["/health"] == 1


async def test_slow_mode_delays_each_forwarded_chunk(
    proxy: FaultProxy, client: aiohttp.ClientSession
) -> None:
    await proxy.set_mode("slow", delay_ms=150)
    started = time.monotonic()
    async with client.get(f"{proxy.url}/health") as resp:
        assert resp.status == 200
    # One delay for the request chunk, one (at least) for the response chunk.
    assert time.monotonic() - started >= 0.3


async def test_reset_mode_resets_new_connections(proxy: FaultProxy) -> None:
    await proxy.set_mode("reset")
    async with raw_connection(proxy) as (reader, writer):
        writer.write(REQUEST)
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(reader.read(), 1.0)


async def test_reset_mode_resets_existing_connections(proxy: FaultProxy) -> None:
    async with raw_connection(proxy) as (reader, writer):
        writer.write(REQUEST)
        await read_response(reader)
        await proxy.set_mode("reset")
        with pytest.raises(ConnectionResetError):
            await asyncio.wait_for(reader.read(), 1.0)


async def test_reset_mode_fails_http_clients_with_a_client_error(
    proxy: FaultProxy, client: aiohttp.ClientSession
) -> None:
    await proxy.set_mode("reset")
    with pytest.raises((aiohttp.ClientOSError, aiohttp.ServerDisconnectedError)):
        await client.post(f"{proxy.url}/echo", data="x")


async def test_upstream_down_closes_the_client_connection(
    proxy: FaultProxy, sim: CallCenterSim, client: aiohttp.ClientSession
) -> None:
    await sim.set_mode("down")
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await client.post(f"{proxy.url}/echo", data="x")


async def test_stop_closes_open_connections_and_the_listener(sim: CallCenterSim) -> None:
    proxy = FaultProxy("127.0.0.1", int(sim.url.rsplit(":", 1)[1]))
    await proxy.start()
    async with raw_connection(proxy) as (reader, _writer):
        await proxy.stop()
        async with asyncio.timeout(1.0):
            with contextlib.suppress(ConnectionResetError):
                assert await reader.read() == b""
    with pytest.raises(ConnectionRefusedError):
        await asyncio.open_connection("127.0.0.1", proxy.port)


async def test_drop_mode_silences_existing_links_and_never_completes_a_new_connect(
    proxy: FaultProxy, client: aiohttp.ClientSession
) -> None:
    async with raw_connection(proxy) as (reader, writer):
        writer.write(REQUEST)
        await read_response(reader)  # forwarded while passing
        await proxy.set_mode("drop")
        writer.write(REQUEST)
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(reader.read(1), 0.3)  # swallowed, never answered
    with pytest.raises(TimeoutError):  # the SYN is dropped: no refusal, no answer
        await asyncio.wait_for(asyncio.open_connection("127.0.0.1", proxy.port), 0.5)
    await proxy.set_mode("pass")
    async with client.get(f"{proxy.url}/health") as resp:
        assert resp.status == 200  # listening again on the same port
