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
import logging
from collections.abc import Awaitable, Callable
from typing import Final

from aiohttp import web
from multidict import istr

from kernel.clock import Clock
from kernel.logs import REQUEST_ID, REQUEST_ID_HEADER, accept_request_id
from monitoring.hotpath import Timer
from monitoring.metrics import Metrics

log = logging.getLogger("switchboard")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Wrap = Callable[[str, Handler], Handler]
# The answer when a handler fails; called in its `except` block (it may log the error).
Fallback = Callable[[web.Request], web.StreamResponse]
# An answer without a coroutine of its own, tried before the handler; None: the handler's.
Fast = Callable[[web.Request], web.StreamResponse | None]
# The same, tried by the server before routing (`Observed.ahead`): no match info, no app.
Ahead = Callable[[web.BaseRequest], web.StreamResponse | None]
Finish = Callable[[web.BaseRequest, web.StreamResponse, str, float], web.StreamResponse]

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
        now, observe = self._now, self._metrics.observe_request
        finish = self._finish(route, series_now=series_now)

        async def observed_handler(request: web.Request) -> web.StreamResponse:
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
            return finish(request, response, request_id, started)

        observed_handler.__name__ = f"observed_{route}"
        return observed_handler

    def ahead(self, route: str, fast: Ahead) -> Ahead:
        """`fast` for the server to try before routing (failover/server.py `checked`),
        counted and timed under `route` with its request id, as the route's own answers
        are: the hottest page without the router, the sub-app's match or the response
        hooks (its answer carries every header itself). None, or an error of `fast`,
        sends the request on to the router, where the route tries `fast` again inside
        the whole guard above (which answers an error with the route's fallback)."""
        now = self._now
        finish = self._finish(route, series_now=False)
        failed = False

        def answered_ahead(request: web.BaseRequest) -> web.StreamResponse | None:
            nonlocal failed
            started = now()
            try:
                response = fast(request)
            except Exception:  # the routed path answers it, see above
                if not failed:  # once: the routed path logs each through its fallback
                    failed = True
                    log.exception("%s: the answer before routing failed; the router answers", route)
                return None
            if response is None:
                return None
            request_id = accept_request_id(request.headers.get(REQUEST_ID_KEY))
            return finish(request, response, request_id, started)

        return answered_ahead

    def _finish(self, route: str, *, series_now: bool) -> Finish:
        """What every answer of `route` gets: its request id (if not sent yet), and its
        count and time under (route, destination, status)."""
        metrics, now = self._metrics, self._now
        observe = metrics.observe_request
        # (route, front door, 200), resolved at the first one
        ok: Timer | None = metrics.timer(route, FRONT_DOOR, 200) if series_now else None

        def finish(
            request: web.BaseRequest, response: web.StreamResponse, request_id: str,
            started: float,
        ) -> web.StreamResponse:  # fmt: skip
            nonlocal ok
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

        return finish
