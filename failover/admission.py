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
(408, 413, 400) and no call center is contacted, so nothing counts against one. The
body is read by kernel/body.py's `read_body`, shared with the callback intake and votes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web


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
