"""A call center's answer passed on to the customer: whole, or streamed.

Response bodies up to `buffer_bytes` (with a known length, or chunked and ending within
it) are read whole before the customer sees a byte, so a failure while reading them can
still be retried elsewhere (`failover/proxy.py` decides that). Larger bodies are
streamed; once streaming has begun, a failure can only cut the connection (the status
line is gone), and it is counted against the call center.

A streamed body, once started, is bounded by `sock_read` between chunks, not by the
customer's budget: a large download on a slow phone must not be cut off.

The headers that go back are the call center's as
`kernel.headers.downstream_response_headers` rewrites them (a Location at the call
center goes through the front door again), plus the front door's own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

import aiohttp
from aiohttp import web
from multidict import CIMultiDict

from kernel.breaker import Outcome
from kernel.headers import downstream_response_headers

STREAM_CHUNK = 64 * 1024


def response_headers(
    upstream: aiohttp.ClientResponse,
    *,
    base: str,
    mount: str,
    extra: Mapping[str, str] | None,
    request_id: str | None,
    keep_content_length: bool,
) -> CIMultiDict[str]:
    headers = downstream_response_headers(
        upstream.headers,
        upstream_base=base,
        mount=mount,
        keep_content_length=keep_content_length,
        request_id=request_id,
    )
    if extra:
        headers.update(extra)
    return headers


def buffered(
    upstream: aiohttp.ClientResponse, body: bytes, headers: CIMultiDict[str]
) -> web.Response:
    """The whole answer, read: the connection goes back to the pool at once."""
    upstream.release()
    return web.Response(status=upstream.status, reason=upstream.reason, body=body, headers=headers)


async def stream(
    request: web.Request,
    upstream: aiohttp.ClientResponse,
    headers: CIMultiDict[str],
    *,
    prefix: bytes = b"",
) -> tuple[web.StreamResponse, Outcome]:
    """Relay the answer as it comes: `prefix` (what was read while trying to buffer it)
    first. LOCAL_FAILURE if the call center's body broke off after the status line."""
    response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
    response.headers.extend(headers)
    try:
        await response.prepare(request)
        if prefix:
            await response.write(prefix)
        while True:
            try:
                chunk = await upstream.content.read(STREAM_CHUNK)
            except (aiohttp.ClientError, OSError, TimeoutError):
                # The status line is out: all that is left is to cut the connection,
                # so the customer's client sees a truncated body, not a short one.
                if request.transport is not None:
                    request.transport.close()
                return response, Outcome.LOCAL_FAILURE
            if not chunk:
                break
            await response.write(chunk)
        await response.write_eof()
    except (ConnectionResetError, OSError):
        pass  # the customer went away: not the call center's fault
    finally:
        # A connection with unread body cannot go back to the pool.
        if upstream.content.at_eof():
            upstream.release()
        else:
            upstream.close()
    return response, Outcome.SUCCESS


async def read_up_to(upstream: aiohttp.ClientResponse, limit: int) -> tuple[bytes, bool]:
    """The body if it ends within `limit` bytes (True), else its first `limit + 1`."""
    try:
        return await upstream.content.readexactly(limit + 1), False
    except asyncio.IncompleteReadError as short:
        return short.partial, True  # the body ended first: that is all of it
