"""The callback bench's baseline: a bare aiohttp app doing the minimum durable thing.

``POST /help/callbacks``: read the body, parse it as JSON (400 unless an object), one
``XADD`` of the raw body and the ``Idempotency-Key`` header to a Redis stream, answer
202 with the entry id as JSON. No validation, no idempotency, no spool, no metrics:
what a developer might write in minutes. ``GET /healthz`` says it is up.

The Redis client is redis-py's own default (`Redis.from_url`: an unbounded pool, one
connection per concurrent request), with a socket timeout so that nothing hangs.

Run as a script, not imported: ``python callbacks_bare.py PORT REDIS_URL STREAM``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator, Callable

from aiohttp import web
from redis.asyncio import Redis

ROUTE = "/help/callbacks"
SOCKET_TIMEOUT_S = 5.0
REDIS = web.AppKey("redis", Redis)
STREAM = web.AppKey("stream", str)
URL = web.AppKey("url", str)


async def _redis(app: web.Application) -> AsyncIterator[None]:
    app[REDIS] = Redis.from_url(app[URL], socket_timeout=SOCKET_TIMEOUT_S)
    yield
    await app[REDIS].aclose()


async def submit(request: web.Request) -> web.Response:
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


def _app(url: str, stream: str) -> web.Application:
    app = web.Application()
    app[URL] = url
    app[STREAM] = stream
    app.cleanup_ctx.append(_redis)
    app.router.add_post(ROUTE, submit)
    app.router.add_get("/healthz", healthz)
    return app


async def _serve(app: web.Application, port: int) -> None:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def main() -> None:
    port, url, stream = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None
    try:
        import uvloop  # noqa: PLC0415 - same optional speed-up as the front door

        loop_factory = uvloop.new_event_loop
    except ImportError:  # pragma: no cover
        loop_factory = None
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(_serve(_app(url, stream), port))


if __name__ == "__main__":
    main()
