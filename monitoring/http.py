"""Per-route request metrics for aiohttp handlers, without a middleware.

aiohttp runs new-style middlewares as extra coroutine layers on every request (plus its
own `_fix_request_current_app` layer once any middleware exists); wrapping each
handler once at registration gives the same counts for less work on the hot path.
The route name is the label: bounded, never the raw path.

The same wrapper gives each request its id (`failover/logs.py`): the client's sane
`X-Request-ID` or a new one, set in the logging context for the handler and sent back
in the response header. Handlers that prepare (stream) their response themselves must
set the header before `prepare`, as the proxy does; this wrapper only reaches a
response that has not been sent yet.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web

from failover.logs import REQUEST_ID, REQUEST_ID_HEADER, accept_request_id
from monitoring.metrics import Metrics

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Wrap = Callable[[str, Handler], Handler]

# Where a request was sent, set by handlers that route customers (a call-center name
# or "self-help"); everything else is answered by the front door itself.
DESTINATION: Final = web.RequestKey("destination", str)
FRONT_DOOR: Final = "front-door"


def observed(metrics: Metrics) -> Wrap:
    def wrap(route: str, handler: Handler) -> Handler:
        async def observed_handler(request: web.Request) -> web.StreamResponse:
            started = time.monotonic()
            request_id = accept_request_id(request.headers.get(REQUEST_ID_HEADER))
            token = REQUEST_ID.set(request_id)
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                exc.headers[REQUEST_ID_HEADER] = request_id
                metrics.observe_request(route, FRONT_DOOR, exc.status, time.monotonic() - started)
                raise
            except asyncio.CancelledError:
                # The client went away (nginx logs this as 499): not our error.
                metrics.observe_request(route, FRONT_DOOR, 499, time.monotonic() - started)
                raise
            except Exception:
                metrics.observe_request(route, FRONT_DOOR, 500, time.monotonic() - started)
                raise
            finally:
                REQUEST_ID.reset(token)
            if not response.prepared:
                response.headers[REQUEST_ID_HEADER] = request_id
            metrics.observe_request(
                route,
                request.get(DESTINATION, FRONT_DOOR),
                response.status,
                time.monotonic() - started,
            )
            return response

        observed_handler.__name__ = f"observed_{route}"
        return observed_handler

    return wrap
