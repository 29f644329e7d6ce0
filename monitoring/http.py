"""Per-route request metrics for aiohttp handlers, without a middleware.

aiohttp runs new-style middlewares as extra coroutine layers on every request (plus its
own `_fix_request_current_app` layer once any middleware exists); wrapping each
handler once at registration gives the same counts for less work on the hot path.
The route name is the label: bounded, never the raw path.

A `fallback` turns a fault of ours (any exception but an HTTP one) into an answer, counted
with its status, instead of a 500: self-help's "help is limited" page. The busiest
answer of a route (a 200 of the front door's own) is counted through a `Timer` resolved
at its first one (monitoring/hotpath.py), as the hot bulletin page needs.

The same wrapper gives each request its id (`kernel/logs.py`): the client's sane
`X-Request-ID` or a new one, set in the logging context for the handler and sent back
in the response header. Handlers that prepare (stream) their response themselves must
set the header before `prepare`, as the proxy does; this wrapper only reaches a
response that has not been sent yet.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web
from multidict import istr

from kernel.clock import Clock
from kernel.logs import REQUEST_ID, REQUEST_ID_HEADER, accept_request_id
from monitoring.hotpath import Timer
from monitoring.metrics import Metrics

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Wrap = Callable[[str, Handler], Handler]
# The answer when a handler fails; called in its `except` block (it may log the error).
Fallback = Callable[[web.Request], web.StreamResponse]
# An answer without a coroutine of its own, tried before the handler; None: the handler's.
Fast = Callable[[web.Request], web.StreamResponse | None]

# Where a request was sent, set by handlers that route customers (a call-center name
# or "self-help"); everything else is answered by the front door itself.
DESTINATION: Final = web.RequestKey("destination", str)
FRONT_DOOR: Final = "front-door"
REQUEST_ID_KEY: Final = istr(REQUEST_ID_HEADER)  # a CIMultiDict takes an istr key faster


def observed(metrics: Metrics, clock: Clock) -> Observed:
    return Observed(metrics, clock)


class Observed:
    """A `Wrap`: requests timed on `clock`'s monotonic seconds and counted per route."""

    def __init__(self, metrics: Metrics, clock: Clock) -> None:
        self._metrics = metrics
        self._now = clock.monotonic

    def __call__(
        self, route: str, handler: Handler, fallback: Fallback | None = None, *,
        series_now: bool = False, fast: Fast | None = None,
    ) -> Handler:  # fmt: skip
        """`series_now`: the route's 200 series exists from the start (at 0), as the
        dashboards read it; otherwise from its first answer. `fast`: tried first, for
        the hottest page: one coroutine (this one) per answer, and the request id set
        in the logging context only for the handler (a fast answer logs nothing)."""
        metrics, now = self._metrics, self._now
        observe = metrics.observe_request
        # (route, front door, 200), resolved at the first one
        ok: Timer | None = metrics.timer(route, FRONT_DOOR, 200) if series_now else None

        async def observed_handler(request: web.Request) -> web.StreamResponse:
            nonlocal ok
            started = now()
            request_id = accept_request_id(request.headers.get(REQUEST_ID_KEY))
            token = None
            try:
                response = None if fast is None else fast(request)
                if response is None:
                    token = REQUEST_ID.set(request_id)
                    response = await handler(request)
            except web.HTTPException as exc:
                exc.headers[REQUEST_ID_HEADER] = request_id
                observe(route, FRONT_DOOR, exc.status, now() - started)
                raise
            except asyncio.CancelledError:
                # The client went away (nginx logs this as 499): not our error.
                observe(route, FRONT_DOOR, 499, now() - started)
                raise
            except Exception:
                if fallback is None:
                    observe(route, FRONT_DOOR, 500, now() - started)
                    raise
                response = fallback(request)
            finally:
                if token is not None:
                    REQUEST_ID.reset(token)
            if not response.prepared:
                response.headers[REQUEST_ID_KEY] = request_id
            status = response.status
            # Mapping.get raises and catches a KeyError when the key is absent: an empty
            # request state (every page but /support) skips that on the hot path.
            destination = request.get(DESTINATION, FRONT_DOOR) if len(request) else FRONT_DOOR
            if status == 200 and destination == FRONT_DOOR:
                if ok is None:
                    ok = metrics.timer(route, FRONT_DOOR, 200)
                ok.observe(now() - started)
            else:
                observe(route, destination, status, now() - started)
            return response

        observed_handler.__name__ = f"observed_{route}"
        return observed_handler
