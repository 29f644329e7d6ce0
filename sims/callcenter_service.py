"""Call-center simulator service listener: fault middleware and the support-site handlers.

``service_app`` builds the app ``CallCenterSim`` serves while not ``down``; every handler reads
the simulator's ``SimState`` through ``STATE_KEY``. ``POST /callbacks`` records each delivery
(201 first time per ``Idempotency-Key``, 200 on a repeat), except a poisoned one (its body
holds ``SimState.poison``'s substring): that gets the poison's status and
``{"error": "poison callback"}``, and is only counted in ``SimState.poisoned``.
"""

from __future__ import annotations

import asyncio
import html
from collections.abc import Mapping
from dataclasses import asdict
from typing import Final, cast

from aiohttp import web
from aiohttp.typedefs import Handler

from sims.callcenter_state import JSON, CallbackDelivery, Mode, SimState

PAGES: Final[Mapping[str, str]] = {
    "/": "Customer support",
    "/billing": "Billing questions",
    "/router/setup": "Setting up your router",
    "/wifi/troubleshooting": "Wi-Fi troubleshooting",
    "/internet/outage": "Internet outage",
    "/account/password-reset": "Resetting your password",
    "/contact": "Contact an agent",
}
BIG_BODY: Final = bytes(range(256)) * 4096  # 1 MiB, the same bytes on every run
_CHUNK: Final = 64 * 1024

STATE_KEY: Final = web.AppKey("callcenter_state", SimState)


@web.middleware
async def _fault_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    state = request.app[STATE_KEY]
    state.requests[request.path] += 1
    settings = await state.pass_gate()
    if settings.mode is Mode.SLOW:
        await asyncio.sleep(settings.delay_ms / 1000)
    if settings.mode is Mode.ERROR:
        body: JSON = {"error": "simulated failure", "callcenter": state.name}
        return web.json_response(body, status=settings.status)
    return await handler(request)


async def _served_by(request: web.Request, response: web.StreamResponse) -> None:
    response.headers["X-Served-By"] = request.app[STATE_KEY].name


async def _health(request: web.Request) -> web.Response:
    return web.json_response(asdict(request.app[STATE_KEY].health))


async def _page(request: web.Request) -> web.Response:
    name = html.escape(request.app[STATE_KEY].name)
    path = html.escape(request.path)
    title = PAGES.get(request.path)
    if title is None:
        raise web.HTTPNotFound(text=f"{name}: no page at {path}\n")
    text = (
        f"<!doctype html><html><head><title>{title} - {name}</title></head>"
        f"<body><h1>{title}</h1><p>Call center {name} serving {path}</p></body></html>\n"
    )
    return web.Response(text=text, content_type="text/html")


async def _big(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
    response.content_length = len(BIG_BODY)
    await response.prepare(request)
    for start in range(0, len(BIG_BODY), _CHUNK):
        await response.write(BIG_BODY[start : start + _CHUNK])
    await response.write_eof()
    return response


async def _callbacks(request: web.Request) -> web.Response:
    state = request.app[STATE_KEY]
    key = request.headers.get("Idempotency-Key", "").strip()
    if not key:
        return web.json_response({"error": "Idempotency-Key header required"}, status=400)
    try:
        body: JSON = await request.json()
    except ValueError:
        return web.json_response({"error": "body must be JSON"}, status=400)
    # The raw text, not the parsed JSON: a test can poison on any byte pattern it sends,
    # the way a real call center's parser chokes on one payload on every retry.
    if state.poison is not None and state.poison[0] in await request.text():
        state.poisoned[key] += 1
        return web.json_response({"error": "poison callback"}, status=state.poison[1])
    duplicate = key in state.key_counts
    state.key_counts[key] += 1
    state.deliveries.append(CallbackDelivery(key=key, body=body, duplicate=duplicate))
    result: JSON = {"key": key, "status": "duplicate" if duplicate else "accepted"}
    return web.json_response(result, status=200 if duplicate else 201)


async def _echo(request: web.Request) -> web.Response:
    headers: dict[str, str] = {}
    for key, value in request.headers.items():
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    result: JSON = {
        "method": request.method,
        "path": request.path,
        "raw_path": request.raw_path,
        "query": request.query_string,
        "headers": cast(JSON, headers),
        "body": await request.text(),
    }
    return web.json_response(result)


def service_app(state: SimState) -> web.Application:
    """The service listener's app, sharing ``state`` with every earlier and later one."""
    app = web.Application(middlewares=[_fault_middleware])
    app[STATE_KEY] = state
    app.on_response_prepare.append(_served_by)
    app.router.add_get("/health", _health)
    app.router.add_get("/big", _big)
    app.router.add_post("/callbacks", _callbacks)
    app.router.add_route("*", "/echo", _echo)
    app.router.add_route("*", "/echo/{tail:.*}", _echo)
    app.router.add_get("/{tail:.*}", _page)
    return app
