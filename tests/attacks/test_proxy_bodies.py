"""Attacks with request bodies, through a real front door.

Before: a small gzip body was decompressed but forwarded with its original
Content-Encoding and Content-Length, so the call center waited for bytes that never came
and got the blame (bodies that inflate were silently truncated); an upload that announced
a length and then disconnected counted as the call center's failure; three of either
ejected a healthy call center.
"""

from __future__ import annotations

import asyncio
import gzip
from pathlib import Path

import aiohttp

from tests.support.attack import attack_stack, raw_request
from tests.support.stack import wait_for

TIMEOUT = aiohttp.ClientTimeout(total=10, sock_connect=5, sock_read=10)


def post(path: str, body: bytes, *, headers: str = "", length: int | None = None) -> bytes:
    n = len(body) if length is None else length
    return (
        f"POST {path} HTTP/1.1\r\nHost: front.example\r\nContent-Length: {n}\r\n"
        f"{headers}Connection: close\r\n\r\n"
    ).encode() + body


async def test_a_compressed_body_is_relayed_byte_for_byte_with_its_encoding(
    tmp_path: Path,
) -> None:
    async with attack_stack(tmp_path) as stack:
        small = gzip.compress(b'{"topic": "router"}')
        bomb = gzip.compress(b"\0" * 8_000_000)  # 8 MB that inflate from ~8 KB
        for body in (small, bomb, small, small):
            answer = await raw_request(
                stack.port,
                post("/support/upload", body, headers="Content-Encoding: gzip\r\n"
                     "Content-Type: application/json\r\n"),
            )  # fmt: skip
            assert answer.status == 200
        seen = stack.centers["primary"].customer_requests()
        assert [s.body for s in seen] == [small, bomb, small, small]
        for s in seen:
            assert s.headers["Content-Encoding"] == "gzip"
            assert int(s.headers["Content-Length"]) == len(s.body)
        assert stack.failures_recorded() == {"primary": 0, "backup": 0}


async def test_a_compressed_body_to_the_front_doors_own_routes_is_a_415(tmp_path: Path) -> None:
    async with attack_stack(tmp_path) as stack:
        body = gzip.compress(b"name=A&phone=%2B15550100")
        answer = await raw_request(
            stack.port,
            post("/help/callbacks", body, headers="Content-Encoding: gzip\r\n"
                 "Content-Type: application/x-www-form-urlencoded\r\n"),
        )  # fmt: skip
        assert answer.status == 415
        assert stack.refused("content_encoding") == 1


async def _cut_upload(port: int, path: str, *, announced: int, sent: bytes) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(post(path, sent, length=announced))
    await writer.drain()
    writer.transport.abort()  # gone: no FIN, no rest of the body
    del reader


async def test_uploads_cut_off_before_their_length_never_count_against_a_call_center(
    tmp_path: Path,
) -> None:
    async with attack_stack(tmp_path) as stack:
        for _ in range(10):  # three ejected the call center before
            await _cut_upload(stack.port, "/support/upload", announced=100_000, sent=b"x" * 10)
        await wait_for(lambda: stack.refused("client_gone") == 10, within=5,
                       what="10 cut uploads counted")  # fmt: skip
        assert stack.centers["primary"].customer_requests() == []
        assert stack.failures_recorded() == {"primary": 0, "backup": 0}
        async with (
            aiohttp.ClientSession(timeout=TIMEOUT) as session,
            session.get(f"{stack.url}/support/still-there") as resp,
        ):
            assert resp.status == 200
            assert (await resp.json())["center"] == "primary"


async def test_a_body_over_the_limit_is_a_413_and_a_late_body_a_408(tmp_path: Path) -> None:
    server = ""
    extra = "[proxy]\nmax_body_bytes = 1000\nbody_timeout_ms = 300\n"
    async with attack_stack(tmp_path, server=server, extra=extra) as stack:
        answer = await raw_request(stack.port, post("/support/u", b"x" * 1001))
        assert answer.status == 413
        # Chunked, no length announced: counted while it arrives.
        chunked = (
            b"POST /support/u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
            b"Connection: close\r\n\r\n" + b"3e8\r\n" + b"y" * 1000 + b"\r\n"
            + b"1\r\nz\r\n0\r\n\r\n"
        )  # fmt: skip
        answer = await raw_request(stack.port, chunked)
        assert answer.status == 413
        # Announces 100 bytes, sends 10, then says nothing more.
        answer = await raw_request(stack.port, post("/support/u", b"x" * 10, length=100))
        assert answer.status == 408
        assert stack.refused("body_too_large") == 2
        assert stack.refused("body_timeout") == 1
        assert stack.centers["primary"].customer_requests() == []
        assert stack.failures_recorded() == {"primary": 0, "backup": 0}


async def test_a_chunked_body_arrives_whole_with_a_length(tmp_path: Path) -> None:
    async with attack_stack(tmp_path) as stack:
        chunked = (
            b"POST /support/u HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
            b"Connection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
        )
        answer = await raw_request(stack.port, chunked)
        assert answer.status == 200
        seen = stack.centers["primary"].customer_requests()[-1]
        assert seen.body == b"hello world"
        assert seen.headers["Content-Length"] == "11"
        assert "Transfer-Encoding" not in seen.headers
