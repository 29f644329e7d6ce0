"""The callback form over real HTTP: its cookie and token, prefilled and refused forms
(forged token 403, invalid fields 422, markup escaped), a ticket delivered once, and the
link to it only with Redis. The front door in-process on 127.0.0.1 with a real
redis-server and call-center simulators, a client with a cookie jar as a browser has
(shared parts in tests/support/callback_form.py).
"""

from __future__ import annotations

import asyncio
import time
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

import aiohttp
import pytest
from redis.asyncio import Redis
from yarl import URL

from failover.callbacks import formtoken
from failover.callbacks.intake import INTAKE
from switchboard.callback_pages import COOKIE
from switchboard.callbacks_web import TOKEN_FIELD
from tests.support.callback_form import (
    FORM,
    TICKET,
    Rendered,
    browser_like,
    client,
    config,
    deliveries,
    open_form,
    queued,
    redis_client,
    send_form,
    sims,
    stack,
)
from tests.support.callbacks import all_down, all_up, first_arrivals
from tests.support.rawhttp import post_in_two_writes
from tests.support.stack import Stack, running_stack, wait_for

__all__ = ["client", "redis_client", "stack"]  # the shared fixtures

XSS = "<script>alert(1)</script>"


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


async def test_a_form_that_arrives_in_two_parts_is_read_whole_and_accepted(
    stack: Stack, client: aiohttp.ClientSession, redis_client: Redis
) -> None:
    # Before: read(MAX_BODY + 1) returned the first part only, cut before form_token,
    # and this valid form was refused 403 "Please send the form again".
    token = (await open_form(client, stack)).values[TOKEN_FIELD]
    cookie = client.cookie_jar.filter_cookies(URL(stack.url + "/help"))[COOKIE]
    body = urlencode(FORM | {"note": "x" * 1000, TOKEN_FIELD: token}).encode()
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "Cookie": f"{COOKIE}={cookie.value}",
    }

    answer = await post_in_two_writes(f"{stack.url}/help/callbacks", headers, body, split_at=700)

    assert answer.status == 202, answer.body
    assert TICKET.search(answer.body.decode()) is not None
    assert await queued(redis_client) == 1


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
