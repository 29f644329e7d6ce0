"""The baselines: bare aiohttp apps, each what a developer might write in minutes.

- ``drop``: GET only, one ClientSession, read the body, answer it with the upstream's
  status and content type; every other header is dropped both ways.
- ``forward``: the minimal *correct* proxy: any method, the path and query, the request
  headers and body go up; status, response headers and body come back. Hop-by-hop
  headers (and those named by Connection), Host and Content-Length are dropped both ways.
- ``page``: ``GET /help/bulletins/{id}`` answers fixed bytes (read from FILE at start)
  with a fixed Content-Type: a page already rendered and cached, nothing else.

Run as a script, not imported: ``python bare.py {drop|forward} PORT UPSTREAM`` or
``python bare.py page PORT FILE CONTENT_TYPE``.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
from aiohttp import web
from multidict import CIMultiDictProxy

MOUNT = "/support"
PAGE_ROUTE = "/help/bulletins/{id}"
SESSION = web.AppKey("session", aiohttp.ClientSession)
UPSTREAM = web.AppKey("upstream", str)
BODY = web.AppKey("body", bytes)
CONTENT_TYPE = web.AppKey("content_type", str)
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
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
    return web.Response(body=app[BODY], headers={"Content-Type": app[CONTENT_TYPE]})


def _app(mode: str, args: list[str]) -> web.Application:
    app = web.Application()
    if mode == "page":
        app[BODY] = Path(args[0]).read_bytes()
        app[CONTENT_TYPE] = args[1]
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
    if mode not in {"drop", "forward", "page"}:
        raise SystemExit(f"bare: unknown mode {mode!r}")
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None
    try:
        import uvloop  # noqa: PLC0415 - same optional speed-up as the front door

        loop_factory = uvloop.new_event_loop
    except ImportError:  # pragma: no cover
        loop_factory = None
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(_serve(_app(mode, args), port))


if __name__ == "__main__":
    main()
