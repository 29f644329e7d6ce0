"""The JSON callback intake over real HTTP: invalid and malformed requests refused with
nothing queued, and one Idempotency-Key with two bodies is two callbacks. The front door
in-process on 127.0.0.1 with a real redis-server and call-center simulators (shared parts
in tests/support/callback_form.py).
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest
from redis.asyncio import Redis

from switchboard.callbacks_web import MAX_BODY
from tests.support.callback_form import (
    FORM,
    client,
    deliveries,
    queued,
    redis_client,
    sims,
    stack,
)
from tests.support.callbacks import first_arrivals
from tests.support.rawhttp import post_in_two_writes
from tests.support.stack import Stack, wait_for

__all__ = ["client", "redis_client", "stack"]  # the shared fixtures


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


async def test_a_json_body_that_arrives_in_two_parts_is_read_whole_and_accepted(
    stack: Stack, redis_client: Redis
) -> None:
    # Before: read(MAX_BODY + 1) returned the 700 bytes buffered, and this valid request
    # got 400 "body must be a JSON object".
    body = json.dumps(FORM | {"note": "x" * 1000}).encode()
    headers = {"Content-Type": "application/json", "Idempotency-Key": "split"}

    answer = await post_in_two_writes(f"{stack.url}/help/callbacks", headers, body, split_at=700)

    assert answer.status == 202, answer.body
    assert json.loads(answer.body)["status"] == "accepted"
    assert await queued(redis_client) == 1


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
