"""The Discourse origin client against a tiny fake origin, for shapes the community
simulator never sends (HTML instead of JSON, JSON of the wrong shape, recorded samples, a
category newer than the cached map), over real loopback HTTP."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from cache.origin import OriginBadResponse
from tests.integration.test_origin_client_reading import client_for, session, tries

__all__ = ["session", "tries"]  # the shared fixtures

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "discourse"


class FakeOrigin:
    """Answers fixed bodies by path (404 JSON otherwise) and counts what it was asked."""

    def __init__(self) -> None:
        self.answers: dict[str, tuple[int, str, str]] = {}
        self.requests: Counter[str] = Counter()
        self.url = ""
        self._runner: web.AppRunner | None = None

    def answer(self, path: str, body: object, *, status: int = 200) -> None:
        if isinstance(body, str):
            self.answers[path] = (status, body, "text/html")
        else:
            self.answers[path] = (status, json.dumps(body), "application/json")

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site.port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        self.requests[request.path] += 1
        missing = (404, '{"errors": ["not found"], "error_type": "not_found"}', "application/json")
        status, text, content_type = self.answers.get(request.path, missing)
        return web.Response(text=text, status=status, content_type=content_type)


@pytest_asyncio.fixture
async def fake() -> AsyncIterator[FakeOrigin]:
    origin = FakeOrigin()
    await origin.start()
    try:
        yield origin
    finally:
        await origin.stop()


def sample(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SAMPLES / name).read_text(encoding="utf-8"))
    return loaded


async def test_an_html_page_instead_of_json_is_a_bad_response_without_a_retry(
    fake: FakeOrigin, session: aiohttp.ClientSession
) -> None:
    fake.answer("/latest.json", "<html><body>Maintenance</body></html>")
    with pytest.raises(OriginBadResponse, match=r"GET /latest\.json: body is not JSON"):
        await client_for(session, fake.url, attempts=3).latest()
    assert fake.requests["/latest.json"] == 1


async def test_json_of_the_wrong_shape_is_a_bad_response_naming_the_field(
    fake: FakeOrigin, session: aiohttp.ClientSession
) -> None:
    fake.answer("/latest.json", {"topic_list": {"topics": [{"title": "no id"}]}})
    with pytest.raises(OriginBadResponse, match=r"missing field topic_list\.topics\[0\]\.id"):
        await client_for(session, fake.url, attempts=3).latest()
    assert fake.requests["/latest.json"] == 1


async def test_recorded_samples_read_over_http_become_a_bulletin(
    fake: FakeOrigin, session: aiohttp.ClientSession
) -> None:
    fake.answer("/t/4127.json", sample("topic.json"))
    fake.answer("/categories.json", sample("categories.json"))
    bulletin = await client_for(session, fake.url).topic(4127)
    assert (bulletin.author, bulletin.category) == ("routerwhisperer", "Internet & Wi-Fi")


async def test_a_category_newer_than_the_cached_map_reloads_it_once(
    fake: FakeOrigin, session: aiohttp.ClientSession
) -> None:
    flat = sample("categories.json")
    for category in flat["category_list"]["categories"]:
        category.pop("subcategory_list", None)
    fake.answer("/categories.json", flat)
    client = client_for(session, fake.url)
    assert 15 not in await client.categories()
    topic = sample("topic.json")
    topic["category_id"] = 15
    fake.answer("/t/4127.json", topic)
    fake.answer("/categories.json", sample("categories.json"))  # the site gained category 15
    assert (await client.topic(4127)).category == "Mesh & Extenders"
    topic["category_id"] = 99  # a category we may never see: one reload, then Uncategorized
    fake.answer("/t/4127.json", topic)
    assert (await client.topic(4127)).category == "Uncategorized"
    assert (await client.topic(4127)).category == "Uncategorized"
    assert fake.requests["/categories.json"] == 3
