"""The OpenAPI description (`/api/v1/openapi.json`, failover/openapi.py) against the
live app, by schemathesis: every operation, with valid and invalid inputs; every answer
must match its documented status, content type and schema, no input may get a 5xx, and
invalid input must be refused (4xx). The customers' API on the customers' port, the
admin API on the ops listener with the admin token."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from sims.community import CommunitySim
from tests.support.redis import RedisServer
from tests.support.selfhelp_stack import HelpStack, help_stack

TOKEN = "o" * 32
RUN_TIMEOUT = 120.0
SCHEMATHESIS = Path(sys.executable).with_name("schemathesis")


async def schemathesis(stack: HelpStack, base: str, paths: str, *extra: str) -> str:
    proc = await asyncio.create_subprocess_exec(
        str(SCHEMATHESIS), "run", f"{stack.url}/api/v1/openapi.json", "--url", base,
        "--checks", "all", "--max-examples", "25", "--seed", "20261205", "--no-shrink",
        "--include-path-regex", paths, "--request-timeout", "10", *extra,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    try:
        out, _ = await asyncio.wait_for(proc.communicate(), RUN_TIMEOUT)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    text = out.decode(errors="replace")
    assert proc.returncode == 0, text[-6000:]
    return text


@pytest.fixture
async def community() -> AsyncIterator[CommunitySim]:
    sim = CommunitySim(topics=20)
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


async def test_the_customer_api_matches_its_description(
    tmp_path: Path, redis: RedisServer, community: CommunitySim
) -> None:
    async with help_stack(tmp_path, redis=redis, community=community, token=TOKEN) as stack:
        out = await schemathesis(stack, stack.url, r"^/api/v1/(bulletins|search|authors)")
    assert "No issues found" in out


async def test_the_admin_api_matches_its_description(
    tmp_path: Path, redis: RedisServer, community: CommunitySim
) -> None:
    async with help_stack(tmp_path, redis=redis, community=community, token=TOKEN) as stack:
        out = await schemathesis(
            stack, stack.ops_url, r"^/(admin|api/v1/status)", "-H", f"Authorization: Bearer {TOKEN}"
        )
    assert "Selected: 9/" in out  # every admin operation, /admin/reload and /admin/message included


async def test_json_errors_are_problem_documents(
    tmp_path: Path, redis: RedisServer, community: CommunitySim
) -> None:
    async with (
        help_stack(tmp_path, redis=redis, community=community, token=TOKEN) as stack,
        aiohttp.ClientSession() as s,
    ):
        bad = {"Authorization": f"Bearer {TOKEN}"}
        for base, method, path, kwargs in (
            (stack.url, "GET", "/api/v1/bulletins?limit=0", {}),
            (stack.url, "GET", "/api/v1/search?q=", {}),
            (stack.url, "GET", "/api/v1/bulletins/999999", {}),
            (stack.url, "GET", "/api/v1/bulletins/abc", {}),
            (stack.ops_url, "GET", "/admin/log", {}),
            (stack.ops_url, "POST", "/admin/override", {"json": {"mode": "x"}, "headers": bad}),
            (stack.ops_url, "POST", "/admin/callcenters/solo/x", {"json": {"on": 1},
                                                                  "headers": bad}),
        ):  # fmt: skip
            async with s.request(method, base + path, **kwargs) as resp:
                assert 400 <= resp.status < 500, path
                assert resp.content_type == "application/problem+json", path
                doc = await resp.json(content_type=None)
                assert doc["status"] == resp.status
                assert doc["type"] == "about:blank"
                assert doc["title"]
                assert doc["detail"] == doc["error"]
