"""Attack: read the front door's internals off its public status (issue 14, item 7).

`/status` and `/api/v1/status` answer only on the ops listener (failover/opsport.py);
on the customer port they are a 404 (tests/attacks/test_ops_listener.py). Whoever reads
the public view there without the admin token during an outage must learn where
customers go and how each call center is doing, and nothing about the inside: not the
call centers' addresses (a probe's connect error names host and port), not who
operated the switches or from where, not what an operator wrote, not the Redis URL,
the replica's host name or a file path. The same
requests with the admin token show all of it: the control that the facts were there.
"""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from failover.callbacks.wiring import replica_name
from failover.routing import SELF_HELP
from tests.support.redis import RedisServer
from tests.support.stack import FAST_HEALTH, Stack, running_stack, wait_for

pytestmark = pytest.mark.timeout(30)

TOKEN = "admin-token-" + "p" * 20
ACTORS = ("alice.sre", "bob-oncall")
INTERNAL = "pbx-7.manila.corp.internal:5060"  # what an operator may write in a reason


async def fetch(
    s: aiohttp.ClientSession, url: str, headers: dict[str, str] | None = None
) -> tuple[int, str]:
    async with s.get(url, headers=headers or {}) as resp:
        return resp.status, await resp.text()


def internals(stack: Stack, redis: RedisServer, tmp_path: Path) -> list[str]:
    """Every internal detail this stack has, as an outsider could see it in text."""
    found = [redis.url, redis.url.split("//", 1)[1].split("/", 1)[0], "127.0.0.1",
             "localhost", socket.gethostname(), replica_name(stack.settings), str(tmp_path),
             INTERNAL, "ClientConnectorError", "Connect call failed", *ACTORS]  # fmt: skip
    for c in stack.centers.values():
        for url in (c.fault.url, c.sim.url):
            found += [url, url.split("//", 1)[1], f":{url.rsplit(':', 1)[1]}"]
    return found


async def outage_with_operators(stack: Stack, s: aiohttp.ClientSession) -> None:
    """primary answers 503, backup refuses connections; two SREs act, one writes an
    internal host name into the override's reason."""
    await stack.centers["primary"].sim.set_mode("error")
    await stack.centers["backup"].fault.set_mode("refuse")
    await wait_for(lambda: stack.pool.snapshot().router.current == SELF_HELP, within=5,
                   what="failover")  # fmt: skip
    for actor, path, body in (
        (ACTORS[1], "/admin/callcenters/backup/drain", {"on": True}),
        (ACTORS[0], "/admin/override", {"mode": "self-help", "reason": f"{INTERNAL} is down"}),
    ):
        headers = {"Authorization": f"Bearer {TOKEN}", "X-Actor": actor}
        async with s.post(f"{stack.ops_url}{path}", json=body, headers=headers) as resp:
            assert resp.status == 200


@pytest_asyncio.fixture
async def redis(tmp_path: Path) -> AsyncIterator[RedisServer]:
    async with RedisServer(tmp_path / "redis") as server:
        yield server


@pytest.fixture
def extra(redis: RedisServer) -> str:
    return FAST_HEALTH + f'[routing]\nhold_down_ms = 0\n[redis]\nurl = "{redis.url}"\n'


async def test_the_public_status_shows_the_outage_but_no_address_operator_or_url(
    tmp_path: Path, redis: RedisServer, extra: str
) -> None:
    async with (
        running_stack(tmp_path, extra=extra, token=TOKEN) as stack,
        aiohttp.ClientSession() as s,
    ):
        await outage_with_operators(stack, s)
        secrets = internals(stack, redis, tmp_path)
        operator = {"Authorization": f"Bearer {TOKEN}"}

        leaks: list[str] = []
        for path in ("/status", "/api/v1/status"):
            status, text = await fetch(s, stack.ops_url + path)
            assert status == 200
            leaks += [f"{path}: {secret!r}" for secret in secrets if secret in text]
            # What everyone may know is there.
            assert "self-help" in text.lower()
            assert "backup" in text
            assert "could not connect" in text
        assert not leaks, "\n".join(["", *leaks])

        # The control: the operator view has the facts the public one left out.
        _, facts = await fetch(s, f"{stack.ops_url}/api/v1/status", operator)
        _, page = await fetch(s, f"{stack.ops_url}/status", operator)
        for text in (facts, page):
            for secret in (*ACTORS, INTERNAL, "127.0.0.1", "ClientConnectorError"):
                assert secret in text, secret


@pytest.mark.parametrize(
    "authorization",
    [f"Bearer {'p' * 32}", f"Bearer {TOKEN[:-1]}", TOKEN, f"Basic {TOKEN}", "Bearer", ""],
)
async def test_a_wrong_or_malformed_token_gets_401_and_no_detail(
    tmp_path: Path, redis: RedisServer, extra: str, authorization: str
) -> None:
    async with (
        running_stack(tmp_path, extra=extra, token=TOKEN) as stack,
        aiohttp.ClientSession() as s,
    ):
        await outage_with_operators(stack, s)
        secrets = internals(stack, redis, tmp_path)
        for path in ("/status", "/api/v1/status"):
            status, text = await fetch(s, stack.ops_url + path, {"Authorization": authorization})
            assert status == 401, (path, authorization)
            assert not [secret for secret in secrets if secret in text]


async def test_with_admin_disabled_a_token_gets_403_and_the_public_view_stays_public(
    tmp_path: Path, redis: RedisServer, extra: str
) -> None:
    async with running_stack(tmp_path, extra=extra) as stack, aiohttp.ClientSession() as s:
        status, _ = await fetch(s, f"{stack.ops_url}/api/v1/status", {"Authorization": "Bearer x"})
        assert status == 403
        status, text = await fetch(s, f"{stack.ops_url}/api/v1/status")
        assert status == 200
        body: dict[str, Any] = json.loads(text)
        assert body["view"] == "public"
        assert "admin_log" not in body
