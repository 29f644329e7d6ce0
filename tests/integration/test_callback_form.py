"""The callback form and the JSON intake over real HTTP: the front door in-process on
127.0.0.1 with a real redis-server and call-center simulators, a client with a cookie jar
as a browser has.

"Nothing queued" is read from Redis itself: the stream's ``entries-added`` counter
(XINFO STREAM), which counts every entry ever appended, delivered and deleted ones too.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from redis.asyncio import Redis
from redis.exceptions import ResponseError

from failover.callbacks import formtoken
from failover.callbacks.intake import INTAKE
from failover.callbacks.stream import STREAM
from failover.redisconn import connect
from sims.callcenter import CallCenterSim
from switchboard.callback_pages import COOKIE
from switchboard.callbacks_web import MAX_BODY, TOKEN_FIELD
from tests.integration.test_callbacks import all_down, all_up, first_arrivals
from tests.support.redis import RedisServer
from tests.support.stack import FAST_HEALTH, Stack, running_stack, wait_for

CALLBACKS = """
[callbacks]
rate_per_s = 2000.0
burst = 50
delivery_timeout_ms = 1000
reclaim_idle_ms = 3000
"""
TIMEOUT = aiohttp.ClientTimeout(total=10, sock_connect=5, sock_read=5)
TICKET = re.compile(r'<strong class="ticket">(cb_[a-z2-7]{16})</strong>')
FORM = {"name": "Ada Lovelace", "phone": "+14155552671", "topic": "router keeps rebooting"}
XSS = "<script>alert(1)</script>"


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


async def send_json(
    client: aiohttp.ClientSession,
    stack: Stack,
    body: bytes,
    *,
    content_type: str = "application/json",
    key: str | None = None,
) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": content_type} | ({"Idempotency-Key": key} if key else {})
    async with client.post(f"{stack.url}/help/callbacks", data=body, headers=headers) as r:
        return r.status, await r.json()


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


async def test_the_form_sets_a_strict_httponly_cookie_for_help_and_a_token_bound_to_it(
    stack: Stack, client: aiohttp.ClientSession
) -> None:
    async with client.get(f"{stack.url}/help/callbacks/new") as r:
        assert r.status == 200
        assert r.headers["Cache-Control"] == "no-store"
        cookies: SimpleCookie = SimpleCookie()
        for header in r.headers.getall("Set-Cookie"):
            cookies.load(header)
        page = Rendered(await r.text())
    cookie = cookies[COOKIE]
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Strict"
    assert cookie["path"] == "/help"
    assert not cookie["secure"]  # plain HTTP here; behind TLS it is Secure
    secret = stack.app[INTAKE].secrets.current
    verdict = formtoken.verify(
        secret, cookie.value, page.values[TOKEN_FIELD], time.time(), max_age=60
    )
    assert verdict.ok

    async with client.get(f"{stack.url}/help/callbacks/new") as again:
        assert "Set-Cookie" not in again.headers  # the browser's cookie is kept...
        second = Rendered(await again.text())
    assert second.values[TOKEN_FIELD] != page.values[TOKEN_FIELD]  # ...each render is new
    assert formtoken.verify(
        secret, cookie.value, second.values[TOKEN_FIELD], time.time(), max_age=60
    ).ok


async def test_a_topic_in_the_query_prefills_the_form_escaped(
    stack: Stack, client: aiohttp.ClientSession
) -> None:
    topic = f'wifi "dropping"> {XSS}'
    async with client.get(f"{stack.url}/help/callbacks/new", params={"topic": topic}) as r:
        text = await r.text()
    assert Rendered(text).values["topic"] == topic
    assert XSS not in text
    assert "&#34;dropping&#34;&gt;" in text


async def test_a_valid_form_gets_a_ticket_a_resent_form_the_same_and_it_is_delivered_once(
    stack: Stack, client: aiohttp.ClientSession, redis_client: Redis
) -> None:
    # Hold deliveries back until both posts are in: with every call center down and the
    # front door failed over, none is tried (a refused try would count as a failed POST).
    await all_down(stack)
    fields = FORM | {TOKEN_FIELD: (await open_form(client, stack)).values[TOKEN_FIELD]}

    status, page = await send_form(client, stack, fields)
    again_status, again = await send_form(client, stack, fields)  # a double click

    assert (status, again_status) == (202, 202)
    ticket = TICKET.search(page)
    assert ticket is not None, page
    assert "What happens next" in page
    assert "+14155552671" in page
    assert TICKET.findall(again) == [ticket.group(1)]
    assert await queued(redis_client) == 1
    await all_up(stack)
    await wait_for(lambda: len(deliveries(stack)) >= 1, within=5, what="the delivery")
    await asyncio.sleep(0.3)  # room for a second delivery, were there one
    # One ticket, POSTed again only after a POST that failed (delivery is at least once).
    assert first_arrivals(sims(stack), [stack.app]) == [ticket.group(1)]
    delivered = deliveries(stack)[0]
    assert delivered["ticket"] == ticket.group(1)
    assert delivered["name"] == FORM["name"]


def _tampered(token: str) -> str:
    return token[:-1] + ("A" if token[-1] != "A" else "B")  # one character of the MAC


@pytest.mark.parametrize("forgery", ["missing", "tampered", "another_cookie"])
async def test_a_form_without_its_own_valid_token_is_refused_403_keeping_what_was_typed(
    forgery: str, stack: Stack, client: aiohttp.ClientSession, redis_client: Redis
) -> None:
    token = (await open_form(client, stack)).values[TOKEN_FIELD]
    if forgery == "missing":
        fields = dict(FORM)
    elif forgery == "tampered":
        fields = FORM | {TOKEN_FIELD: _tampered(token)}
    else:  # a token another browser was given, sent with this browser's cookie
        async with browser_like() as other:
            fields = FORM | {TOKEN_FIELD: (await open_form(other, stack)).values[TOKEN_FIELD]}

    status, text = await send_form(client, stack, fields)

    assert status == 403
    page = Rendered(text)
    assert {k: page.values[k] for k in FORM} == FORM
    (alert,) = page.alerts
    assert alert.startswith("Please send the form again.")
    assert "reload the page" in alert
    assert await queued(redis_client) == 0
    # Nothing lost: the form shown again carries a good token for this browser.
    status, accepted = await send_form(
        client, stack, FORM | {TOKEN_FIELD: page.values[TOKEN_FIELD]}
    )
    assert status == 202
    assert TICKET.search(accepted)
    assert await queued(redis_client) == 1


# Where each error's summary link leads, and the fields it makes invalid, each described
# by its hint (if any) and the error.
LINKED: dict[str, tuple[str, dict[str, str]]] = {
    "phone": ("#cb-phone", {"phone": "cb-phone-hint cb-phone-error"}),
    "name": ("#cb-name", {"name": "cb-name-error"}),
    "contact": ("#cb-phone", {"phone": "cb-phone-hint cb-contact-error",
                              "email": "cb-contact-error"}),
}  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"phone": "12345"}, "phone", "not a valid phone number for region US"),
        ({"name": "  "}, "name", "required"),
        ({"phone": ""}, "contact", "give a phone number or an email address"),
    ],
    ids=["bad_phone", "missing_name", "no_phone_or_email"],
)
async def test_invalid_fields_are_refused_422_with_a_message_per_field_keeping_values(
    *,
    changes: dict[str, str],
    field: str,
    message: str,
    stack: Stack,
    client: aiohttp.ClientSession,
    redis_client: Redis,
) -> None:
    typed = FORM | {"preferred_time": "after 18:00", "note": "line one\nline two"} | changes
    token = (await open_form(client, stack)).values[TOKEN_FIELD]

    status, text = await send_form(client, stack, typed | {TOKEN_FIELD: token})

    assert status == 422
    page = Rendered(text)
    assert list(page.errors) == [field]
    assert page.errors[field].startswith(message)
    (summary,) = page.alerts
    assert summary.startswith("Please check these fields ")
    assert message in summary
    assert summary.endswith("Nothing was sent yet; what you typed is kept.")
    href, invalid = LINKED[field]
    assert page.links == [href]
    for name, (flag, described) in page.aria.items():
        if name in invalid:
            assert (flag, described) == ("true", invalid[name]), name
        else:
            assert flag == "", name
    kept = {k: page.values[k] for k in typed}
    assert kept == typed | {"note": "line one\nline two"}
    assert await queued(redis_client) == 0


async def test_markup_typed_into_a_refused_form_is_shown_escaped(
    stack: Stack, client: aiohttp.ClientSession
) -> None:
    token = (await open_form(client, stack)).values[TOKEN_FIELD]
    typed = {"name": XSS, "phone": "", "topic": f"</textarea>{XSS}", "note": f"</textarea>{XSS}"}

    status, text = await send_form(client, stack, typed | {TOKEN_FIELD: token})

    assert status == 422
    assert "<script>" not in text
    assert "</textarea><script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    page = Rendered(text)
    assert (page.values["name"], page.values["topic"], page.values["note"]) == (
        typed["name"],
        typed["topic"],
        typed["note"],
    )


async def test_invalid_json_is_refused_422_naming_each_bad_field(
    stack: Stack, client: aiohttp.ClientSession, redis_client: Redis
) -> None:
    body = json.dumps({"name": "", "phone": "12345", "topic": "router"}).encode()

    status, answer = await send_json(client, stack, body, key="bad-fields")

    assert status == 422
    assert set(answer["fields"]) == {"name", "phone"}
    assert answer["fields"]["name"] == "required"
    assert await queued(redis_client) == 0


VALID_JSON = json.dumps(FORM).encode()


@pytest.mark.parametrize(
    ("body", "content_type", "key", "expected"),
    [
        (b"[1, 2]", "application/json", "k", 400),
        (VALID_JSON, "application/json", "k" * 300, 400),
        (VALID_JSON[:-1] + b', "note": "' + b"x" * MAX_BODY + b'"}', "application/json", "k", 413),
        (VALID_JSON, "text/plain", "k", 415),
    ],
    ids=["not_an_object", "key_too_long", "body_over_16_kib", "unsupported_type"],
)
async def test_a_malformed_json_request_is_refused_and_nothing_is_queued(
    *,
    body: bytes,
    content_type: str,
    key: str,
    expected: int,
    stack: Stack,
    client: aiohttp.ClientSession,
    redis_client: Redis,
) -> None:
    status, answer = await send_json(client, stack, body, content_type=content_type, key=key)

    assert status == expected
    assert answer["error"]
    assert await queued(redis_client) == 0


async def test_one_idempotency_key_with_two_different_bodies_is_two_callbacks(
    stack: Stack, client: aiohttp.ClientSession, redis_client: Redis
) -> None:
    first = json.dumps(FORM).encode()
    second = json.dumps(FORM | {"topic": "billing"}).encode()

    status_1, answer_1 = await send_json(client, stack, first, key="shared-key")
    status_2, answer_2 = await send_json(client, stack, second, key="shared-key")

    assert (status_1, status_2) == (202, 202)
    assert answer_1["ticket"] != answer_2["ticket"]
    assert (answer_1["duplicate"], answer_2["duplicate"]) == (False, False)
    assert await queued(redis_client) == 2
    # Two tickets, not two POSTs: one answered after its timeout is sent again (at least once).
    await wait_for(lambda: len({d["ticket"] for d in deliveries(stack)}) >= 2, within=5,
                   what="both deliveries")  # fmt: skip
    assert sorted(first_arrivals(sims(stack), [stack.app])) == sorted(
        [answer_1["ticket"], answer_2["ticket"]]
    )
    assert {(d["ticket"], d["topic"]) for d in deliveries(stack)} == {
        (answer_1["ticket"], FORM["topic"]),
        (answer_2["ticket"], "billing"),
    }


async def test_with_redis_the_help_footer_links_to_the_callback_form(
    stack: Stack, client: aiohttp.ClientSession
) -> None:
    async with client.get(f"{stack.url}/help") as r:
        assert r.status == 200
        text = await r.text()
    footer = text[text.index("<footer") :]
    assert '<a href="/help/callbacks/new">Ask us to call you back</a>' in footer


async def test_without_redis_there_is_no_callback_form_and_no_link_to_it(
    tmp_path: Path, client: aiohttp.ClientSession
) -> None:
    async with running_stack(tmp_path, extra=config(None)) as stack:
        async with client.get(f"{stack.url}/help/callbacks/new") as form:
            assert form.status == 404
        async with client.post(f"{stack.url}/help/callbacks", json=FORM) as post:
            assert post.status == 404
        async with client.get(f"{stack.url}/help") as landing:
            assert landing.status == 200
            assert "/help/callbacks" not in await landing.text()
