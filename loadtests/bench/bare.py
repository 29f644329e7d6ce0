"""The baselines: bare aiohttp apps, run as a script by stage.bare, one app per mode
(`drop`, `forward`, `page`, `xadd`): what each does and its arguments are in
docs/benchmarks.md, "Method", Baselines."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import uvloop
from aiohttp import web
from multidict import CIMultiDictProxy
from redis.asyncio import Redis

MOUNT = "/support"
PAGE_ROUTE = "/help/bulletins/{id}"
CALLBACKS_ROUTE = "/help/callbacks"
REDIS_TIMEOUT_S = 5.0
SESSION = web.AppKey("session", aiohttp.ClientSession)
UPSTREAM = web.AppKey("upstream", str)
BODY = web.AppKey("body", bytes)
HEADERS = web.AppKey("headers", dict[str, str])
REDIS = web.AppKey("redis", Redis)
STREAM = web.AppKey("stream", str)
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
    "te", "trailer", "trailers", "transfer-encoding", "upgrade",
})  # fmt: skip
DROP = HOP_BY_HOP | {"host", "content-length"}


async def _session(app: web.Application) -> AsyncIterator[None]:
    app[SESSION] = aiohttp.ClientSession(auto_decompress=False)
    yield
    await app[SESSION].close()


async def drop(request: web.Request) -> web.Response:
    url = request.app[UPSTREAM] + "/" + request.match_info["tail"]
    async with request.app[SESSION].get(url) as r:
        body = await r.read()
        return web.Response(body=body, status=r.status, content_type=r.content_type)


def _forwardable(headers: CIMultiDictProxy[str]) -> list[tuple[str, str]]:
    names = DROP
    if "Connection" in headers:
        named = (t.strip().lower() for v in headers.getall("Connection") for t in v.split(","))
        names = names | frozenset(named)
    return [(k, v) for k, v in headers.items() if k.lower() not in names]


async def forward(request: web.Request) -> web.Response:
    url = request.app[UPSTREAM] + request.raw_path[len(MOUNT) :]
    data = await request.read() if request.body_exists else None
    headers = _forwardable(request.headers)
    session = request.app[SESSION]
    async with session.request(request.method, url, headers=headers, data=data) as r:
        body = await r.read()
        return web.Response(body=body, status=r.status, headers=_forwardable(r.headers))


async def page(request: web.Request) -> web.Response:
    app = request.app
    return web.Response(body=app[BODY], headers=app[HEADERS])


async def xadd(request: web.Request) -> web.Response:
    body = await request.read()
    try:
        fields = json.loads(body)
    except ValueError:  # UnicodeDecodeError is one
        fields = None
    if not isinstance(fields, dict):
        return web.json_response({"error": "body must be a JSON object"}, status=400)
    key = request.headers.get("Idempotency-Key", "")
    entry_id = await request.app[REDIS].xadd(request.app[STREAM], {"key": key, "payload": body})
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    return web.json_response({"id": text}, status=202)


async def healthz(_: web.Request) -> web.Response:
    return web.json_response({"alive": True})


def _redis(url: str) -> Callable[[web.Application], AsyncIterator[None]]:
    async def client(app: web.Application) -> AsyncIterator[None]:
        app[REDIS] = Redis.from_url(url, socket_timeout=REDIS_TIMEOUT_S)
        yield
        await app[REDIS].aclose()

    return client


def _app(mode: str, args: list[str]) -> web.Application:
    app = web.Application()
    if mode == "xadd":
        app[STREAM] = args[1]
        app.cleanup_ctx.append(_redis(args[0]))
        app.router.add_post(CALLBACKS_ROUTE, xadd)
        app.router.add_get("/healthz", healthz)
        return app
    if mode == "page":
        app[BODY] = Path(args[0]).read_bytes()
        extra = json.loads(Path(args[2]).read_text()) if len(args) > 2 else {}
        app[HEADERS] = {"Content-Type": args[1], **extra}
        app.router.add_get(PAGE_ROUTE, page)
        return app
    app[UPSTREAM] = args[0]
    app.cleanup_ctx.append(_session)
    if mode == "drop":
        app.router.add_get(MOUNT + "/{tail:.*}", drop)
    else:
        app.router.add_route("*", MOUNT + "/{tail:.*}", forward)
    return app


async def _serve(app: web.Application, port: int) -> None:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    await asyncio.Event().wait()


def main() -> None:
    mode, port, args = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    if mode not in {"drop", "forward", "page", "xadd"}:
        raise SystemExit(f"bare: unknown mode {mode!r}")
    uvloop.run(_serve(_app(mode, args), port))  # the front door's loop too


if __name__ == "__main__":
    main()
