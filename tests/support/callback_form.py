"""Shared parts of the callback form and JSON intake tests (test_callback_form_page.py,
test_callback_intake_json.py, and others that post the form): the config, a browser-like
client with a cookie jar, the fixtures (the front door in-process on 127.0.0.1 with a real
redis-server and call-center simulators), a parser of rendered pages, and readers of what
was queued and delivered.

"Nothing queued" is read from Redis itself: the stream's ``entries-added`` counter
(XINFO STREAM), which counts every entry ever appended, delivered and deleted ones too.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import aiohttp
import pytest_asyncio
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from failover.callbacks.stream import STREAM
from failover.redisconn import connect
from sims.callcenter import CallCenterSim
from tests.support.redis import RedisServer
from tests.support.stack import FAST_HEALTH, Stack, running_stack

CALLBACKS = """
[callbacks]
rate_per_s = 2000.0
burst = 50
delivery_timeout_ms = 1000
reclaim_idle_ms = 7000
"""
TIMEOUT = aiohttp.ClientTimeout(total=10, sock_connect=5, sock_read=5)
TICKET = re.compile(r'<strong class="ticket">(cb_[a-z2-7]{16})</strong>')
FORM = {"name": "Ada Lovelace", "phone": "+14155552671", "topic": "router keeps rebooting"}


class Rendered(HTMLParser):
    """What a rendered page shows a customer: the form's values (attributes and textareas,
    unescaped), the message of each field (``contact`` for phone-or-email), the error
    summary (issue 19: "alerts"), where its links lead, and each field's ARIA wiring."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.values: dict[str, str] = {}
        self.errors: dict[str, str] = {}
        self.alerts: list[str] = []
        self.links: list[str] = []  # the summary's
        self.aria: dict[str, tuple[str, str]] = {}  # field -> (aria-invalid, aria-describedby)
        self._capture: tuple[str, str, str] | None = None  # (end tag, where, key)
        self._text: list[str] = []
        self.feed(page)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        classes = a.get("class", "").split()
        if tag in ("input", "textarea") and "name" in a:
            self.aria[a["name"]] = (a.get("aria-invalid", ""), a.get("aria-describedby", ""))
        if tag == "a" and self._capture is not None and self._capture[1] == "alerts":
            self.links.append(a.get("href", ""))
        if tag == "input" and "name" in a:
            self.values[a["name"]] = a.get("value", "")
        elif tag == "textarea":
            self._start(tag, "values", a["name"])
        elif "error" in classes:
            self._start(tag, "errors", a.get("id", "cb-contact-error")[3:-6])
        elif "errors" in classes and a.get("id") == "errors" and a.get("tabindex") == "-1":
            self._start(tag, "alerts", "")

    def _start(self, tag: str, where: str, key: str) -> None:
        self._capture, self._text = (tag, where, key), []

    def handle_data(self, data: str) -> None:
        if self._capture is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if self._capture is None or tag != self._capture[0]:
            return
        _, where, key = self._capture
        text = "".join(self._text)
        if where == "alerts":
            self.alerts.append(" ".join(text.split()))
        else:
            getattr(self, where)[key] = text
        self._capture = None


def config(redis: RedisServer | None) -> str:
    return FAST_HEALTH + (f'[redis]\nurl = "{redis.url}"\n' if redis else "") + CALLBACKS


@pytest_asyncio.fixture
async def redis_client(redis: RedisServer) -> AsyncIterator[Redis]:
    client = connect(redis.url)
    try:
        yield client
    finally:
        await client.aclose(close_connection_pool=True)


@pytest_asyncio.fixture
async def stack(tmp_path: Path, redis: RedisServer) -> AsyncIterator[Stack]:
    async with running_stack(tmp_path, extra=config(redis)) as s:
        yield s


def browser_like() -> aiohttp.ClientSession:
    # unsafe=True: the jar otherwise keeps no cookies for a host given as an IP address.
    return aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True), timeout=TIMEOUT)


@pytest_asyncio.fixture
async def client() -> AsyncIterator[aiohttp.ClientSession]:
    async with browser_like() as session:
        yield session


async def open_form(client: aiohttp.ClientSession, stack: Stack, query: str = "") -> Rendered:
    async with client.get(f"{stack.url}/help/callbacks/new{query}") as r:
        assert r.status == 200
        return Rendered(await r.text())


async def send_form(
    client: aiohttp.ClientSession, stack: Stack, fields: dict[str, str]
) -> tuple[int, str]:
    async with client.post(f"{stack.url}/help/callbacks", data=fields) as r:
        assert r.headers["Cache-Control"] == "no-store"
        return r.status, await r.text()


async def queued(redis: Redis) -> int:
    """Entries ever appended to the callback stream (delivered ones are deleted from it)."""
    try:
        info = await redis.xinfo_stream(STREAM)
    except ResponseError:  # no stream yet
        return 0
    return int(info["entries-added"])


def deliveries(stack: Stack) -> list[dict[str, Any]]:
    """Every POST /callbacks the call centers received, repeats included."""
    out = []
    for center in stack.centers.values():
        for d in center.sim.callbacks:
            assert isinstance(d.body, dict)
            out.append(d.body)
    return out


def sims(stack: Stack) -> list[CallCenterSim]:
    return [center.sim for center in stack.centers.values()]
