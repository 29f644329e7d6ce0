"""The cached bulletin page answered by the server before routing (issue 18:
failover/server.py `checked`, monitoring/http.py `Observed.ahead`, cache/bulletin_route.py
`hot_ahead`) is exactly what the routed route answers from the same hot page: status,
headers and body, for plain, gzip, conditional, other-language and request-id requests;
counted under the same route; and everything it does not answer goes on to the router.

The same page both ways on one front door: `/help/bulletins/<id>` with the id
percent-escaped is not a key of the hot pages, so the server's early answer declines it,
and the router decodes it to the same id, whose route answers from the same hot page.

Real servers: the front door, the community simulator, a call-center simulator and a
redis-server (tests/support/selfhelp_stack.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest_asyncio
from aiohttp import web
from multidict import CIMultiDictProxy
from yarl import URL

from failover.appkeys import AHEAD, METRICS
from monitoring.http import Ahead
from tests.support.selfhelp_stack import HelpStack, help_world

PER_ANSWER = {"date", "age", "x-request-id"}  # the clock's and the request's own


class Spy:
    """The app's `AHEAD`, recording what it answered (a status) or declined (None)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int | None]] = []

    def install(self, app: web.Application) -> None:
        inner: Ahead = app[AHEAD]

        def spied(request: web.BaseRequest) -> web.StreamResponse | None:
            response = inner(request)
            self.calls.append((request.raw_path, None if response is None else response.status))
            return response

        app[AHEAD] = spied


@pytest_asyncio.fixture
async def spied(tmp_path: Path) -> AsyncIterator[tuple[HelpStack, Spy]]:
    spy = Spy()
    async with help_world(tmp_path, before_serving=spy.install) as stack:
        yield stack, spy


def escaped(bulletin: int) -> str:
    return "".join(f"%{ord(c):02X}" for c in str(bulletin))


def comparable(headers: CIMultiDictProxy[str]) -> list[tuple[str, str]]:
    return sorted((k.lower(), v) for k, v in headers.items() if k.lower() not in PER_ANSWER)


async def get(
    session: aiohttp.ClientSession, url: str, headers: dict[str, str] | None = None
) -> tuple[int, CIMultiDictProxy[str], bytes]:
    # encoded: the target as written (yarl would turn "%34" back into "4")
    async with session.get(
        URL(url, encoded=True), headers=headers or {}, allow_redirects=False
    ) as r:
        return r.status, r.headers, await r.read()


async def test_the_early_answer_is_the_routed_one(spied: tuple[HelpStack, Spy]) -> None:
    stack, spy = spied
    bulletin = stack.community.seed.topics[0].id
    page, routed = f"/help/bulletins/{bulletin}", f"/help/bulletins/{escaped(bulletin)}"
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        first = await get(session, stack.url + page, {"Accept-Encoding": "identity"})  # renders
        zipped = await get(session, stack.url + page, {"Accept-Encoding": "gzip"})
        assert first[0] == zipped[0] == 200
        etag, gz_etag = first[1]["ETag"], zipped[1]["ETag"]
        assert etag != gz_etag  # an ETag per encoding
        kinds: dict[str, dict[str, str]] = {
            "plain": {"Accept-Encoding": "identity"},
            "gzip": {"Accept-Encoding": "gzip"},
            "conditional": {"If-None-Match": etag, "Accept-Encoding": "identity"},
            "gzip conditional": {"If-None-Match": gz_etag, "Accept-Encoding": "gzip"},
            "french": {"Accept-Language": "fr", "Accept-Encoding": "identity"},
            "request id": {"X-Request-ID": "case-4711", "Accept-Encoding": "identity"},
        }
        for kind, headers in kinds.items():
            await get(session, stack.url + page, headers)  # a language's first renders
            spy.calls.clear()
            early = await get(session, stack.url + page, headers)
            late = await get(session, stack.url + routed, headers)
            assert spy.calls == [(page, early[0]), (routed, None)], kind
            assert early[0] == late[0] == (304 if "conditional" in kind else 200), kind
            assert early[1]["Age"].isdigit(), kind
            assert late[1]["Age"].isdigit(), kind
            assert comparable(early[1]) == comparable(late[1]), kind
            assert early[2] == late[2], kind
            assert early[1]["Content-Security-Policy"], kind  # the page's own headers
            assert early[1]["Server"] == "switchboard", kind
            if kind == "request id":
                assert early[1]["X-Request-ID"] == late[1]["X-Request-ID"] == "case-4711"
            else:
                assert early[1]["X-Request-ID"] != late[1]["X-Request-ID"], kind
        assert (await get(session, stack.url + page, kinds["gzip"]))[1][
            "Content-Encoding"
        ] == "gzip"


async def test_what_it_does_not_answer_goes_to_the_router(spied: tuple[HelpStack, Spy]) -> None:
    stack, spy = spied
    bulletin = stack.community.seed.topics[0].id
    page = f"/help/bulletins/{bulletin}"
    async with aiohttp.ClientSession() as session:
        assert (await get(session, stack.url + page))[0] == 200  # hot from now on
        spy.calls.clear()
        async with session.head(stack.url + page) as r:
            assert r.status == 200
        async with session.post(stack.url + page) as r:
            assert r.status == 405
        for path, status in [
            (page + "?lang=fr", 200),
            (page + "/", 404),
            ("/help/bulletins/999999", 404),
            ("/help", 200),
        ]:
            assert (await get(session, stack.url + path))[0] == status, path
    declined = [page, page, page + "?lang=fr", page + "/", "/help/bulletins/999999", "/help"]
    assert spy.calls == [(path, None) for path in declined]  # HEAD, POST, then the GETs


async def raw_get(stack: HelpStack, path: str, *headers: str) -> bytes:
    """A GET written by hand (aiohttp's client sends no Expect on a GET): what came back
    within 2 s, the connection closed after."""
    host, port = stack.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        lines = [f"GET {path} HTTP/1.1", f"Host: {host}", "Connection: close", *headers]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
        await writer.drain()
        async with asyncio.timeout(2):
            return await reader.read()
    finally:
        writer.close()


async def test_an_expectation_goes_to_the_router(spied: tuple[HelpStack, Spy]) -> None:
    """aiohttp's router answers `Expect`: 417 for one it does not know, an interim 100
    Continue for `100-continue`; the early answer leaves both to it."""
    stack, spy = spied
    page = f"/help/bulletins/{stack.community.seed.topics[0].id}"
    assert (await raw_get(stack, page)).startswith(b"HTTP/1.1 200 ")  # hot from now on
    spy.calls.clear()
    assert (await raw_get(stack, page, "Expect: foo")).startswith(b"HTTP/1.1 417 ")
    continued = await raw_get(stack, page, "Expect: 100-continue")
    assert continued.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 ")
    assert spy.calls == [(page, None), (page, None)]


async def test_each_early_answer_is_one_l1_hit(spied: tuple[HelpStack, Spy]) -> None:
    """Each early answer is a view: one L1 hit, noted at once (`views.hot`) and counted
    in `switchboard_cache_lookups_total` when the views are folded (their sum moves by
    one a page, whenever the fold runs)."""
    stack, spy = spied
    page = f"/help/bulletins/{stack.community.seed.topics[0].id}"
    views = stack.self_help.service.views
    counted = stack.app[METRICS].cache_lookups_total.cell(("l1", "hit"))

    def hits() -> float:
        return counted[0] + views.hot

    async with aiohttp.ClientSession() as session:
        assert (await get(session, stack.url + page))[0] == 200
        spy.calls.clear()
        before = hits()
        for _ in range(5):
            assert (await get(session, stack.url + page))[0] == 200
    assert [answered for _, answered in spy.calls] == [200] * 5
    assert hits() - before == 5


async def test_early_answers_count_under_the_route(spied: tuple[HelpStack, Spy]) -> None:
    stack, spy = spied
    bulletin = stack.community.seed.topics[0].id
    page = f"/help/bulletins/{bulletin}"
    metrics = stack.app[METRICS]
    ok = metrics.requests_total.cell(("help_bulletin", "front-door", "200"))
    async with aiohttp.ClientSession() as session:
        assert (await get(session, stack.url + page))[0] == 200
        before = ok[0]
        spy.calls.clear()
        for _ in range(7):
            assert (await get(session, stack.url + page))[0] == 200
    assert [answered for _, answered in spy.calls] == [200] * 7
    assert ok[0] - before == 7
