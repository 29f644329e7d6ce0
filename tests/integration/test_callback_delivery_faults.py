"""One callback POST to a call center that answers oddly: a redirect, a status outside
200-599, an endless error page, a charset Python cannot decode with. None of them is
taken for a delivery, none is blamed on the entry unless it is a 4xx or 5xx, and none
costs more than the start of the answer. Real HTTP servers on 127.0.0.1."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from aiohttp import web

from failover.callbacks.delivery import (
    TRIES,
    Delivered,
    EntryFailed,
    Unreachable,
)
from tests.integration.test_callback_delivery import deliver, serving

pytestmark = pytest.mark.timeout(30)


@asynccontextmanager
async def site(*routes: web.RouteDef) -> AsyncIterator[str]:
    """A server on 127.0.0.1 with these routes: its base URL."""
    app = web.Application()
    app.add_routes(routes)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}"
    finally:
        await runner.cleanup()


@pytest.mark.parametrize("status", [301, 302, 303])
async def test_a_redirect_to_a_maintenance_page_is_the_call_centers_trouble(status: int) -> None:
    """Followed, the redirect's GET of the page answered 200 was taken for a delivery:
    the entry was acked and deleted, and the callback lost."""
    posts: list[str] = []
    pages: list[str] = []

    async def callbacks(request: web.Request) -> web.Response:
        posts.append(await request.text())
        return web.Response(status=status, headers={"Location": "/maintenance"})

    async def maintenance(request: web.Request) -> web.Response:
        pages.append(request.method)
        return web.Response(text="<html>down for maintenance</html>")

    async with site(web.post("/callbacks", callbacks), web.get("/maintenance", maintenance),
                    web.post("/maintenance", maintenance)) as base:  # fmt: skip
        outcome = await deliver(f"{base}/callbacks")
    assert isinstance(outcome, Unreachable), outcome
    assert f"HTTP {status}" in outcome.reason
    assert pages == []
    assert len(posts) == TRIES  # retried like any call-center trouble, then backed off


async def test_a_307_elsewhere_does_not_post_the_customers_data_there() -> None:
    elsewhere: list[bytes] = []

    async def record(request: web.Request) -> web.Response:
        elsewhere.append(await request.read())
        return web.json_response({}, status=201)

    async with site(web.post("/elsewhere", record)) as other:

        async def callbacks(request: web.Request) -> web.Response:
            await request.read()
            return web.Response(status=307, headers={"Location": f"{other}/elsewhere"})

        async with serving(callbacks) as url:
            outcome = await deliver(url)
    assert isinstance(outcome, Unreachable), outcome
    assert "HTTP 307" in outcome.reason
    assert elsewhere == []


@pytest.mark.parametrize("status", [600, 999])
async def test_a_status_outside_200_to_599_is_not_the_entrys_fault(status: int) -> None:
    """Counted against the entry, it dead-lettered good callbacks for the call center's
    fault after max_attempts."""
    seen: list[int] = []

    async def nonsense(request: web.Request) -> web.Response:
        seen.append(len(await request.read()))
        return web.Response(status=status, text="?")

    async with serving(nonsense) as url:
        outcome = await deliver(url)
    assert isinstance(outcome, Unreachable), outcome
    assert f"HTTP {status}" in outcome.reason
    assert len(seen) == TRIES


async def test_only_the_start_of_an_error_page_is_read() -> None:
    """The page never ends: read whole, the POST ran into its timeout (each try) and the
    call center was reported unreachable; before that, a 150 MB page was held in memory.
    Now the first EXCERPT_BYTES make the reason, and the answer's 500 counts."""
    sent: list[int] = []
    done = asyncio.Event()  # set when the test ends: the page is endless until then

    async def endless(request: web.Request) -> web.StreamResponse:
        await request.read()
        page = web.StreamResponse(status=500, headers={"Content-Type": "text/html"})
        await page.prepare(request)
        chunk = b"<p>" + b"x" * (64 * 1024) + b"</p>"
        await page.write(chunk)
        sent.append(len(chunk))
        await done.wait()
        return page

    async with serving(endless) as url:
        try:
            outcome = await deliver(url, limit=2.0)
        finally:
            done.set()
    assert isinstance(outcome, EntryFailed), outcome
    assert outcome.reason.startswith("HTTP 500: <p>xxx")
    assert len(outcome.reason) <= len("HTTP 500: ") + 200
    assert sent == [64 * 1024 + 7]  # one POST, answered


@pytest.mark.parametrize("charset", ["idna", "base64", "no-such-codec"])
async def test_an_error_page_in_an_odd_charset_still_gives_its_reason(charset: str) -> None:
    """`charset=idna` made the decoding raise UnicodeError out of deliver (the dispatcher
    stopped)."""

    async def odd(request: web.Request) -> web.Response:
        await request.read()
        headers = {"Content-Type": f"text/plain; charset={charset}"}
        return web.Response(status=500, body=b"\xffbroken", headers=headers)

    async with serving(odd) as url:
        outcome = await deliver(url)
    assert outcome == EntryFailed("HTTP 500: \ufffdbroken")


async def test_a_2xx_is_delivered_whatever_its_body() -> None:
    """The body of a 2xx is not read: one the client cannot decode is still a delivery."""

    async def garbled(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=200, body=b"not gzip", headers={"Content-Encoding": "gzip"})

    async with serving(garbled) as url:
        assert await deliver(url) == Delivered(200)
