"""Attack: fingerprint the front door and the call centers behind it by their `Server`
header (issue 14, item 8). aiohttp says `Python/3.11 aiohttp/3.x.y` by default and a
call center names its own software; every answer must say `Server: switchboard`, the
answers aiohttp makes before any handler runs (a request it cannot parse, the router's
404 and 405, a handler's crash) and the call centers' relayed pages included.

The call center here is a small aiohttp app of the test's own that sends a versioned
`Server` and its own security headers, with a page small enough to be buffered and one
large enough to be streamed (failover/proxy.py takes two paths).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from failover.admin import SWITCHBOARD
from failover.settings import load_settings
from kernel.security_headers import SERVER
from switchboard.app import POOL, create_app
from tests.support.stack import FAST_HEALTH, listen_loopback, wait_for

pytestmark = pytest.mark.timeout(30)

TOKEN = "admin-token-" + "v" * 20
THEIR_SERVER = "Apache/2.4.58 (Unix) OpenSSL/3.0.2"
THEIR_HEADERS = {
    "Server": THEIR_SERVER,
    "Content-Security-Policy": "default-src 'self'",
    "X-Frame-Options": "SAMEORIGIN",
}
BIG = 256 * 1024  # over [proxy] buffer_bytes below: streamed


@dataclass(frozen=True, slots=True)
class Door:
    url: str
    app: web.Application
    ops_url: str


def call_center() -> web.Application:
    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"}, headers={"Server": THEIR_SERVER})

    async def small(request: web.Request) -> web.Response:
        return web.Response(text="<p>billing</p>", content_type="text/html", headers=THEIR_HEADERS)

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * BIG, content_type="text/html", headers=THEIR_HEADERS)

    app = web.Application()
    app.router.add_get("/health", health)
    app.router.add_get("/billing", small)
    app.router.add_get("/manual", big)
    return app


@asynccontextmanager
async def serve(app: web.Application, *, ops: list[str] | None = None) -> AsyncIterator[str]:
    """`app` on a free port; with `ops`, the front door's ops listener too (its URL is
    appended to `ops`)."""
    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    try:
        if ops is None:
            await web.TCPSite(runner, "127.0.0.1", 0).start()
            yield f"http://127.0.0.1:{runner.addresses[0][1]}"
        else:
            port, ops_port = await listen_loopback(runner, app)
            ops.append(f"http://127.0.0.1:{ops_port}")
            yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@asynccontextmanager
async def front_door(tmp_path: Path) -> AsyncIterator[Door]:
    async with serve(call_center()) as upstream:
        config = tmp_path / "switchboard.toml"
        config.write_text(
            '[server]\nport = 0\n[proxy]\nbuffer_bytes = 4096\n' + FAST_HEALTH
            + f'[[callcenters]]\nname = "solo"\nurl = "{upstream}"\n'
        )  # fmt: skip
        settings = load_settings(config, env={"SWITCHBOARD_ADMIN_TOKEN": TOKEN})
        app = create_app(settings, registry=CollectorRegistry())
        ops: list[str] = []
        async with serve(app, ops=ops) as url:
            await wait_for(lambda: app.get(SWITCHBOARD) is not None and _routed(app), within=5,
                           what="first probe")  # fmt: skip
            yield Door(url, app, ops[0])


def _routed(app: web.Application) -> bool:
    return app[POOL].snapshot().router.current == "solo"


async def raw(url: str, request: bytes) -> bytes:
    """Send `request` as it is and read what comes back until the server closes."""
    host, port = url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(65536), 5)
    finally:
        writer.close()
        await writer.wait_closed()


def header(response: bytes, name: str) -> list[str]:
    head = response.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")[1:]
    return [
        line.split(":", 1)[1].strip()
        for line in head
        if line.lower().startswith(name.lower() + ":")
    ]


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40,  # TLS to a plain port
        b"GET /help HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
        b"G@T /help HTTP/1.1\r\nHost: x\r\n\r\n",
    ],
    ids=["bad-length", "tls-hello", "bad-header", "bad-method"],
)
async def test_a_request_aiohttp_cannot_parse_gets_a_400_without_versions(
    tmp_path: Path, request_bytes: bytes
) -> None:
    async with front_door(tmp_path) as door:
        answer = await raw(door.url, request_bytes)
    assert answer.startswith(b"HTTP/1."), answer[:80]
    assert b" 400 " in answer.split(b"\r\n", 1)[0]
    assert header(answer, "Server") == [SERVER]
    assert b"aiohttp" not in answer
    assert b"Python" not in answer


async def test_no_answer_of_ours_or_theirs_names_a_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with front_door(tmp_path) as door, aiohttp.ClientSession() as s:

        def crash() -> dict[str, object]:
            raise RuntimeError("a bug")

        monkeypatch.setattr(door.app[SWITCHBOARD], "describe", crash)
        admin = {"Authorization": f"Bearer {TOKEN}"}
        seen: dict[str, tuple[int, list[str]]] = {}
        for name, method, path, headers in (
            ("404 of the router", "GET", "/nope", {}),
            ("405 of the router", "DELETE", "/help", {}),
            ("500 of a crash", "GET", "/admin/switches", admin),
            ("401", "GET", "/admin/switches", {}),
            ("redirect", "GET", "/help/search", {}),
            ("JSON", "GET", "/api/v1/status", {}),
            ("page", "GET", "/help", {}),
            ("relayed, buffered", "GET", "/support/billing", {}),
            ("relayed, streamed", "GET", "/support/manual", {}),
        ):
            base = door.ops_url if path.startswith(("/admin", "/api/v1/status")) else door.url
            async with s.request(method, base + path, headers=headers,
                                 allow_redirects=False) as resp:  # fmt: skip
                await resp.read()
                seen[name] = (resp.status, resp.headers.getall("Server", []))
    assert seen["500 of a crash"][0] == 500
    assert seen["relayed, buffered"][0] == seen["relayed, streamed"][0] == 200
    wrong = {name: s for name, s in seen.items() if s[1] != [SERVER]}
    assert not wrong, wrong


async def test_a_relayed_page_keeps_the_call_centers_own_policy_untouched(
    tmp_path: Path,
) -> None:
    async with front_door(tmp_path) as door, aiohttp.ClientSession() as s:
        for path in ("/support/billing", "/support/manual"):
            async with s.get(door.url + path) as resp:
                body = await resp.read()
                assert resp.status == 200
                assert resp.headers.getall("Content-Security-Policy") == ["default-src 'self'"]
                assert resp.headers.getall("X-Frame-Options") == ["SAMEORIGIN"]
                assert "Referrer-Policy" not in resp.headers  # none of ours added
                assert resp.headers["Server"] == SERVER
        assert len(body) == BIG
