"""Request hygiene in haproxy mode, through a real HAProxy with the rendered config and an
echo call center that reports the request line and headers it got: the same outcome as
the aiohttp front door (tests/attacks/test_proxy_target.py, kernel/headers.py).

Before: an absolute-form target with userinfo or another scheme reached the call center
as sent, an https one kept its authority upstream, a Host of `evil@x` or `a b` was passed
verbatim, `Forwarded` from any client and method overrides from a trusted proxy passed,
`Expect` and the client's unchecked `X-Request-ID` went on."""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from failover.haproxy_hygiene import ALWAYS_DROPPED
from failover.target import host_problem
from kernel import headers as kernel_headers
from tests.support.haproxy import HaproxyStack, running_haproxy_stack
from tests.support.stack import FAST_HEALTH

SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
TRUSTED_LOOPBACK = 'trusted_proxies = ["127.0.0.1/32"]\n'  # lands in [server]


@dataclass(frozen=True, slots=True, kw_only=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def echo(self) -> Echo:
        seen = json.loads(self.body)
        headers = {str(k).lower(): str(v) for k, v in seen["headers"].items()}
        return Echo(raw_path=seen["raw_path"], headers=headers, body=seen["body"])


@dataclass(frozen=True, slots=True, kw_only=True)
class Echo:
    """What the call center's /echo saw: the target as sent, headers in lower case."""

    raw_path: str
    headers: dict[str, str]
    body: str


def _parse(raw: bytes) -> Answer:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Answer(status=int(lines[0].split()[1]), headers=headers, body=body)


async def raw(h: HaproxyStack, request: str) -> Answer:
    """One request exactly as written (a client library would normalise it)."""
    port = int(h.url.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request.encode("latin-1"))
        await writer.drain()
        return _parse(await asyncio.wait_for(reader.read(), 5))
    finally:
        writer.close()


def get(target: str, *lines: str, host: str | None = "front.example") -> str:
    head = [f"GET {target} HTTP/1.1", *([f"Host: {host}"] if host is not None else []), *lines]
    return "\r\n".join([*head, "Connection: close", "", ""])


def echoes(h: HaproxyStack) -> int:
    return sum(n for c in h.stack.centers.values()
               for p, n in c.sim.requests_by_path.items() if p.startswith("/echo"))  # fmt: skip


async def test_userinfo_another_scheme_or_no_path_in_the_target_is_a_400(tmp_path: Path) -> None:
    async with running_haproxy_stack(tmp_path) as h:
        refused = [
            ("http://u:p@evil.example:9/support/echo/x", "evil.example:9", "userinfo"),
            ("http://a@evil.example:9/support/echo/x", "evil.example:9", "userinfo"),
            ("ftp://evil.example:9/support/echo/x", "evil.example:9", "unsupported"),
            ("gopher://evil.example/support/echo/x", "evil.example", "unsupported"),
            ("*", "front.example", "unsupported"),
        ]
        for target, host, why in refused:
            answer = await raw(h, get(target, host=host))
            assert answer.status == 400, target
            assert why.encode() in answer.body, (target, answer.body)
        answer = await raw(h, "CONNECT evil.example:443 HTTP/1.1\r\nHost: evil.example:443\r\n\r\n")
        assert answer.status == 400
        assert echoes(h) == 0


async def test_the_call_center_gets_the_origin_form_only(tmp_path: Path) -> None:
    """The aiohttp door serves the absolute form, never letting its authority upstream."""
    async with running_haproxy_stack(tmp_path) as h:
        for target, host, upstream in [
            ("https://evil.example:9/support/echo/x?a=1", "evil.example:9", "/echo/x?a=1"),
            ("HTTP://evil.example/support/echo/y", "evil.example", "/echo/y"),
            ("/support/echo/z?", "front.example", "/echo/z"),  # an empty query is dropped
            ("/support/echo/z?b=%2F", "front.example", "/echo/z?b=%2F"),
        ]:
            answer = await raw(h, get(target, host=host))
            assert answer.status == 200, target
            assert answer.echo().raw_path == upstream, target


BAD_HOSTS = ["evil@x", "x/y", "a b", "", "u:p@internal", "a:99999999", 'e.x/<s> x"', "[zz]"]
GOOD_HOSTS = ["front.example", "front.example:8080", "[::1]:80", "10.0.0.1", "in_ternal"]


async def test_a_host_that_fails_target_py_is_a_400_on_every_route(tmp_path: Path) -> None:
    async with running_haproxy_stack(tmp_path) as h:
        for host in BAD_HOSTS + GOOD_HOSTS:
            expected = 400 if host_problem(host, http11=True) else 200
            for path in ("/support/echo/x", "/help"):
                answer = await raw(h, get(path, host=host))
                assert answer.status == expected, (host, path)
                if expected == 400:
                    assert b"invalid Host header" in answer.body, (host, path)
        assert echoes(h) == len(GOOD_HOSTS)
        answer = await raw(h, get("/support/echo/x", host=None))
        assert (answer.status, answer.body) == (400, b"missing Host header")
        answer = await raw(h, "GET /support/echo/x HTTP/1.0\r\n\r\n")  # 1.0 needs none
        assert answer.status == 200


async def test_http10_with_transfer_encoding_is_a_400(tmp_path: Path) -> None:
    async with running_haproxy_stack(tmp_path) as h:
        chunked = "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
        answer = await raw(h, f"POST /support/echo/x HTTP/1.0\r\nHost: f.example\r\n{chunked}")
        assert (answer.status, answer.body) == (400, b"Transfer-Encoding in an HTTP/1.0 request")
        assert echoes(h) == 0


@pytest.mark.parametrize("trusted", [False, True])
async def test_forwarded_method_overrides_and_expect_as_the_aiohttp_door(
    tmp_path: Path, trusted: bool
) -> None:
    extra = (TRUSTED_LOOPBACK if trusted else "") + FAST_HEALTH
    async with running_haproxy_stack(tmp_path, extra=extra) as h:
        answer = await raw(h, get(
            "/support/echo/x",
            "Forwarded: for=6.6.6.6;host=evil.example;proto=https",
            "X-HTTP-Method-Override: DELETE", "X-HTTP-Method: DELETE",
            "X-Method-Override: PUT", "X-Customer: kept",
        ))  # fmt: skip
        seen = answer.echo().headers
        assert seen["x-customer"] == "kept"
        assert not ALWAYS_DROPPED & set(seen), seen
        # `Forwarded` is kept from a trusted proxy only (kernel/headers.py).
        assert seen.get("forwarded") == ("for=6.6.6.6;host=evil.example;proto=https"
                                         if trusted else None)  # fmt: skip
        # A GET with `Expect` (no body): the call center never sees it (the echo call
        # center, an aiohttp server, would answer a `100 Continue` first).
        answer = await raw(h, get("/support/echo/x", "Expect: 100-continue"))
        assert answer.status == 200
        assert "expect" not in answer.echo().headers


def test_the_always_dropped_names_are_kernel_headers_ones() -> None:
    assert kernel_headers._ALWAYS_DROPPED == ALWAYS_DROPPED


async def test_a_body_announced_with_expect_gets_haproxys_100_and_no_expect_upstream(
    tmp_path: Path,
) -> None:
    async with running_haproxy_stack(tmp_path) as h:
        port = int(h.url.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(
                b"POST /support/echo/p HTTP/1.1\r\nHost: front.example\r\nExpect: 100-continue"
                b"\r\nContent-Length: 5\r\nConnection: close\r\n\r\n"
            )
            await writer.drain()
            interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            assert interim.startswith(b"HTTP/1.1 100")
            writer.write(b"hello")
            await writer.drain()
            answer = _parse(await asyncio.wait_for(reader.read(), 5))
        finally:
            writer.close()
        assert answer.status == 200
        echo = answer.echo()
        assert echo.body == "hello"
        assert "expect" not in echo.headers


async def test_request_id_is_the_clients_when_sane_else_a_new_one(tmp_path: Path) -> None:
    async with running_haproxy_stack(tmp_path) as h:
        answer = await raw(h, get("/support/echo/x", "X-Request-ID: abc-123.4:5_6"))
        assert answer.echo().headers["x-request-id"] == "abc-123.4:5_6"
        assert answer.headers["x-request-id"] == "abc-123.4:5_6"
        answer = await raw(h, get("/support/echo/x", "X-Request-ID: a", "X-Request-ID: b"))
        assert answer.echo().headers["x-request-id"] == "a"
        for bad in ("a b", "x" * 129, "id;drop", "<script>"):
            answer = await raw(h, get("/support/echo/x", f"X-Request-ID: {bad}"))
            sent = answer.echo().headers["x-request-id"]
            assert sent != bad
            assert SANE_ID.fullmatch(sent), sent
            assert answer.headers["x-request-id"] == sent  # the customer sees the same
        answer = await raw(h, get("/support/echo/x"))
        assert SANE_ID.fullmatch(answer.echo().headers["x-request-id"])
        # Switchboard's own pages take HAProxy's id: one id in both logs.
        answer = await raw(h, get("/help", "X-Request-ID: from-client"))
        assert (answer.status, answer.headers["x-request-id"]) == (200, "from-client")
        answer = await raw(h, get("/help", "X-Request-ID: not sane"))
        assert SANE_ID.fullmatch(answer.headers["x-request-id"])
