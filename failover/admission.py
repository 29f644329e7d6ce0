"""What one client may hold on the proxy path at once, and how its body is read.

The call-center connection pool is shared by every customer. Before this, 260 stalled
uploads held all of it and every GET waited 10 s and more. Now:

- a request body is read whole, under `proxy.body_timeout_ms` and `proxy.max_body_bytes`,
  before a call center is chosen (nginx's `proxy_request_buffering on`): a slow or
  stalled upload holds a coroutine and its bytes, never a call-center connection;
- bodies being received at once are capped (`proxy.max_uploads`), which bounds their
  memory;
- proxied requests in progress are capped per client (`proxy.max_in_flight_per_client`),
  so one client cannot queue the whole pool behind a slow call center.

A body that is late, too large or cut off is the client's fault: the client gets a 4xx
(408, 413, 400) and no call center is contacted, so nothing counts against one.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiohttp import web


class ClientFaultError(Exception):
    """The request cannot go on by the client's doing; `reason` is the metric label."""

    def __init__(self, status: int, reason: str, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.reason = reason
        self.text = text


@dataclass(slots=True)
class InFlight:
    """Counts per key, each at most `limit`."""

    limit: int
    by_key: dict[str, int] = field(default_factory=dict)

    def enter(self, key: str) -> bool:
        held = self.by_key.get(key, 0)
        if held >= self.limit:
            return False
        self.by_key[key] = held + 1
        return True

    def leave(self, key: str) -> None:
        left = self.by_key[key] - 1
        if left:
            self.by_key[key] = left
        else:
            del self.by_key[key]


async def read_body(request: web.Request, *, limit: int, deadline: float) -> bytes:
    """The whole body (deadline: loop time), or `ClientFaultError`."""
    length = request.content_length
    if length is not None and length > limit:
        raise ClientFaultError(413, "body_too_large", f"request body over {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout_at(deadline):
            while True:
                chunk = await request.content.readany()
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    raise ClientFaultError(413, "body_too_large", f"body over {limit} bytes")
                chunks.append(chunk)
    except TimeoutError:
        raise ClientFaultError(408, "body_timeout", "request body not received in time") from None
    except (web.RequestPayloadError, ConnectionError, OSError) as exc:
        # Cut off before its announced length, or malformed chunked framing.
        text = f"request body incomplete: {exc}"[:200]
        raise ClientFaultError(400, "client_gone", text) from None
    return b"".join(chunks)


def refusal(status: int, text: str) -> web.Response:
    """The answer to a request refused as the client's fault or over a limit: plain text
    saying why, never cached; a hint to come back for 429 and 503; and for 400, 408 and
    413 the connection closed (what is left of the request is not worth reading)."""
    response = web.Response(status=status, text=text + "\n", headers={"Cache-Control": "no-store"})
    if status in {429, 503}:
        response.headers["Retry-After"] = "1"
    if status in {400, 408, 413}:
        response.force_close()
    return response
