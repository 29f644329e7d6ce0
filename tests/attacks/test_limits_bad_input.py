"""Hostile request bodies get a 4xx with a reason: never a 5xx, never an outage metric
(issue 14, point 5). Before: `{"name": [[[... 4000 deep]]]}` (8 kB) to
`POST /help/callbacks` answered 503 "could not be saved" and counted
`callbacks_refused_total{reason="unavailable"}`, which pages an SRE about Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from prometheus_client import generate_latest
from redis.exceptions import ResponseError

from failover.callbacks.stream import STREAM
from failover.redisconn import connect
from switchboard.app import METRICS
from tests.support.rawhttp import post_in_two_writes
from tests.support.redis import RedisServer
from tests.support.stack import FAST_HEALTH, Stack, running_stack

TOKEN = "admin-token-" + "x" * 20
NESTED = b'{"name": ' + b"[" * 4000 + b"]" * 4000 + b"}"
REFUSED = "switchboard_callbacks_refused_total"


def metric(stack: Stack, name: str) -> float:
    text = generate_latest(stack.app[METRICS].registry).decode()
    for line in text.splitlines():
        if line.startswith((name + " ", name + "{")):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def server_errors(stack: Stack) -> float:
    text = generate_latest(stack.app[METRICS].registry).decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("switchboard_requests_total{") and 'code="5' in line
    )


@pytest_asyncio.fixture
async def redis_server(tmp_path: Path) -> AsyncIterator[RedisServer]:
    async with RedisServer(tmp_path / "redis") as server:
        yield server


@pytest_asyncio.fixture
async def stack(tmp_path: Path, redis_server: RedisServer) -> AsyncIterator[Stack]:
    extra = FAST_HEALTH + f'[redis]\nurl = "{redis_server.url}"\n'
    async with running_stack(tmp_path, extra=extra, token=TOKEN) as s:
        yield s


async def appended(redis_server: RedisServer) -> int:
    client = connect(redis_server.url)
    try:
        return int((await client.xinfo_stream(STREAM))["entries-added"])
    except ResponseError:  # no stream: nothing was ever queued
        return 0
    finally:
        await client.aclose(close_connection_pool=True)


async def test_4000_deep_json_is_a_400_and_raises_no_outage_metric(
    stack: Stack, redis_server: RedisServer
) -> None:
    assert 8000 <= len(NESTED) <= 8200
    async with aiohttp.ClientSession() as s:
        headers = {"Content-Type": "application/json", "Idempotency-Key": "deep"}
        async with s.post(f"{stack.url}/help/callbacks", data=NESTED, headers=headers) as r:
            assert r.status == 400
            answer = await r.json()
    assert "nested deeper than 32" in answer["error"]
    assert metric(stack, f'{REFUSED}{{reason="invalid"}}') == 1
    assert metric(stack, f'{REFUSED}{{reason="unavailable"}}') == 0
    assert metric(stack, f'{REFUSED}{{reason="error"}}') == 0
    assert server_errors(stack) == 0
    assert await appended(redis_server) == 0


BAD_JSON = [
    NESTED,
    b"[" * 100_000,  # over the 16 kB limit: 413
    b'{"name": ' + b'{"a": ' * 3000 + b"1" + b"}" * 3000 + b"}",
    b'{"name": "\\"' + b"[" * 5000 + b'"}',  # brackets in a string: valid, then 422
    b"\xff\xfe\x00{",
    b'{"name": NaN}',
    b'{"name": 1e999999}',
    b'{"name": ' + b"9" * 5000 + b"}",  # past int()'s digit limit: ValueError
    b"[]",
    b"null",
    b'{"name": "a", "name": ["b"], "phone": {"x": []}}',
    b'{"\\ud800": "lone surrogate", "name": "\\udfff"}',
    b"",
]


@pytest.mark.parametrize("body", BAD_JSON, ids=range(len(BAD_JSON)))
async def test_no_json_body_ends_in_a_5xx_or_a_false_alert(
    stack: Stack, redis_server: RedisServer, body: bytes
) -> None:
    async with aiohttp.ClientSession() as s:
        headers = {"Content-Type": "application/json", "Idempotency-Key": "bad"}
        async with s.post(f"{stack.url}/help/callbacks", data=body, headers=headers) as r:
            assert 400 <= r.status < 500, await r.text()
            assert "error" in await r.json()
    assert metric(stack, f'{REFUSED}{{reason="unavailable"}}') == 0
    assert metric(stack, f'{REFUSED}{{reason="error"}}') == 0
    assert server_errors(stack) == 0
    assert await appended(redis_server) == 0


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("application/x-www-form-urlencoded", b"\xff\xfe=\xff"),
        ("application/x-www-form-urlencoded", b"&".join(b"f%d=1" % i for i in range(200))),
        ("application/x-www-form-urlencoded; charset=nope", b"name=a"),
        ("multipart/form-data", b"--x\r\ngarbage\r\n"),
        ("multipart/form-data; boundary=x", b"--x\r\ngarbage\r\n\r\n"),
        ("text/plain", b"name=a"),
        ("application/json; charset=utf-32", b"{}"),
        ('application/json;;; ="\\"; charset', b"{}"),
        ("/", b"{}"),
    ],
)
async def test_no_form_or_content_type_ends_in_a_5xx_or_a_false_alert(
    stack: Stack, content_type: str, body: bytes
) -> None:
    async with aiohttp.ClientSession() as s:
        headers = {"Content-Type": content_type}
        async with s.post(f"{stack.url}/help/callbacks", data=body, headers=headers) as r:
            assert 400 <= r.status < 500, await r.text()
    assert metric(stack, f'{REFUSED}{{reason="unavailable"}}') == 0
    assert metric(stack, f'{REFUSED}{{reason="error"}}') == 0
    assert server_errors(stack) == 0


async def test_deep_json_to_the_admin_api_is_a_400_not_a_500(stack: Stack) -> None:
    async with aiohttp.ClientSession() as s:
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        async with s.post(f"{stack.ops_url}/admin/override", data=NESTED, headers=headers) as r:
            assert r.status == 400
            assert "nested deeper" in (await r.json())["error"]
    assert stack.pool.snapshot().override is None
    assert server_errors(stack) == 0


@pytest.mark.parametrize(
    ("content_type", "body", "status"),
    [
        ("multipart/form-data; boundary=x", b"--x\r\ngarbage\r\n\r\n", 415),
        ("multipart/form-data", b"helpful=yes", 415),
        ("application/x-www-form-urlencoded; charset=nope", b"helpful=yes", 404),
        ("application/x-www-form-urlencoded", b"helpful=\xff", 400),
        ("application/x-www-form-urlencoded", b"&".join([b"a=1"] * 20), 400),
        ("application/x-www-form-urlencoded", b"helpful=" + b"y" * 5000, 413),
        ("application/x-www-form-urlencoded", b"helpful=maybe", 400),
        ("application/json", b'{"helpful": "yes"}', 415),
    ],
)
async def test_no_vote_body_ends_on_the_help_is_limited_page(
    stack: Stack, caplog: pytest.LogCaptureFixture, content_type: str, body: bytes, status: int
) -> None:
    # Before: request.post() raised on a bad multipart body or charset, and the page's
    # catch-all answered 200 "Help is limited" and logged the traceback as an error.
    async with aiohttp.ClientSession() as s:
        headers = {"Content-Type": content_type}
        async with s.post(f"{stack.url}/help/bulletins/1/vote", data=body, headers=headers) as r:
            assert r.status == status  # 404: a good form, but no bulletin 1 here
            assert "Help is limited" not in await r.text()
    assert not [r for r in caplog.records if r.levelname == "ERROR" and "failed" in r.message]
    assert server_errors(stack) == 0


async def test_a_vote_that_arrives_in_two_parts_is_read_whole(stack: Stack) -> None:
    # Before: read(MAX_VOTE_BODY + 1) returned "helpful=y", buffered so far: a 400
    # "Field 'helpful' must be 'yes' or 'no'" for a valid vote.
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    url = f"{stack.url}/help/bulletins/1/vote"

    answer = await post_in_two_writes(url, headers, b"helpful=yes", split_at=9)

    assert answer.status == 404, answer.body  # a good form read whole; no bulletin 1 here
    assert server_errors(stack) == 0
