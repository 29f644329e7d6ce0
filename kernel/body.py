"""Reading a request body whole, under a size cap and a deadline.

`request.content.read(n)` returns what is buffered so far, not the body: a body that
arrives in two TCP segments is cut at the first. `read_body` reads to the end (the
announced length, or the last chunk), so a slow link never turns a valid request into
a refused one. Used by the proxy path (failover/admission.py), the callback intake
(switchboard/callbacks_web.py) and the self-help votes (cache/votes.py).

A body that is late, too large or cut off is the client's fault: `ClientFaultError`
carries the status (408, 413, 400) and a reason for the metrics.

`read_at_most` is the same care for a body we read as a client (a call center's answer
to the proxy, a probe or a callback delivery): up to `n` bytes, waiting for them.
"""

from __future__ import annotations

import asyncio

from aiohttp import StreamReader, web


class ClientFaultError(Exception):
    """The request cannot go on by the client's doing; `reason` is the metric label."""

    def __init__(self, status: int, reason: str, text: str) -> None:
        super().__init__(text)
        self.status = status
        self.reason = reason
        self.text = text


async def read_at_most(stream: StreamReader, n: int) -> bytes:
    """The first `n` bytes of a body, or all of it if it ends first. `stream.read(n)`
    would return only what is buffered: a body in two chunks was cut after the first."""
    try:
        return await stream.readexactly(n)
    except asyncio.IncompleteReadError as short:
        return short.partial  # the body ended first: that is all of it


async def read_body(request: web.Request, *, limit: int, deadline: float) -> bytes:
    """The whole body (deadline: loop time), or `ClientFaultError`: 413 over `limit`
    bytes (announced or received), 408 past the deadline, 400 when cut off."""
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
