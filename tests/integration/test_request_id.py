"""Request ids end to end: customer -> front door -> call center, and into our logs."""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from kernel.logs import JsonFormatter
from sims.callcenter_service import BIG_BODY
from tests.support.stack import running_stack

TIMEOUT = aiohttp.ClientTimeout(total=10, sock_connect=2, sock_read=10)
SANE = re.compile(r"[A-Za-z0-9._:-]{1,128}")
GOOD = "3f2a9c1e-77b1-4c2e-9d4a-0b1f2e3d4c5b"


async def echo(
    s: aiohttp.ClientSession, url: str, headers: dict[str, str] | None = None
) -> tuple[str, dict[str, Any]]:
    """(our X-Request-ID, the headers the call center received) for `/support/echo`."""
    async with s.get(f"{url}/support/echo", headers=headers, timeout=TIMEOUT) as resp:
        assert resp.status == 200
        assert resp.headers["X-Served-By"] == "primary"
        seen = await resp.json()
        return resp.headers["X-Request-ID"], seen["headers"]


async def test_a_sane_request_id_is_passed_to_the_call_center_and_returned(
    tmp_path: Path,
) -> None:
    async with running_stack(tmp_path) as stack, aiohttp.ClientSession() as s:
        ours, seen = await echo(s, stack.url, {"X-Request-ID": GOOD})
        assert ours == GOOD
        assert seen["X-Request-ID"] == GOOD


@pytest.mark.parametrize(
    "junk", ["has space", "x" * 129, "<script>alert(1)</script>", "a;b", "Zürich"]
)
async def test_a_junk_request_id_is_replaced_never_echoed(tmp_path: Path, junk: str) -> None:
    async with running_stack(tmp_path) as stack, aiohttp.ClientSession() as s:
        ours, seen = await echo(s, stack.url, {"X-Request-ID": junk})
        assert ours != junk
        assert SANE.fullmatch(ours)
        assert seen["X-Request-ID"] == ours  # one value: the junk one did not go along


async def test_without_a_request_id_one_is_made_and_passed_on(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack, aiohttp.ClientSession() as s:
        first, seen = await echo(s, stack.url)
        second, _ = await echo(s, stack.url)
        assert SANE.fullmatch(first)
        assert seen["X-Request-ID"] == first
        assert second != first


async def test_a_streamed_answer_carries_the_request_id(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack, aiohttp.ClientSession() as s:
        headers = {"X-Request-ID": GOOD}
        async with s.get(f"{stack.url}/support/big", headers=headers, timeout=TIMEOUT) as resp:
            assert len(BIG_BODY) > stack.settings.proxy.buffer_bytes  # streamed, not buffered
            assert resp.status == 200
            assert resp.headers["X-Request-ID"] == GOOD
            assert await resp.read() == BIG_BODY


async def test_the_self_help_redirect_carries_the_request_id(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack, aiohttp.ClientSession() as s:
        for center in stack.centers.values():
            await center.fault.set_mode("refuse")
        async with s.get(
            f"{stack.url}/support/router/setup", headers={"X-Request-ID": GOOD},
            allow_redirects=False, timeout=TIMEOUT,
        ) as resp:  # fmt: skip
            assert resp.status == 303
            assert resp.headers["Location"] == "/help/search?q=router+setup"
            assert resp.headers["X-Request-ID"] == GOOD
        async with s.get(
            f"{stack.url}/support/billing", allow_redirects=False, timeout=TIMEOUT
        ) as resp:
            assert resp.status == 303
            assert SANE.fullmatch(resp.headers["X-Request-ID"])


async def test_our_own_answers_and_errors_carry_a_request_id(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack, aiohttp.ClientSession() as s:
        async with s.get(f"{stack.url}/healthz", headers={"X-Request-ID": GOOD}) as resp:
            assert resp.status == 200
            assert resp.headers["X-Request-ID"] == GOOD
        async with s.get(f"{stack.url}/api/v1/search", headers={"X-Request-ID": GOOD}) as resp:
            assert resp.status == 400  # raised as web.HTTPBadRequest: no q
            assert resp.headers["X-Request-ID"] == GOOD


async def test_a_failed_attempt_is_logged_with_the_request_id(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="switchboard.frontdoor")
    caplog.handler.setFormatter(JsonFormatter())  # formats as each record is emitted
    async with running_stack(tmp_path) as stack, aiohttp.ClientSession() as s:
        await stack.centers["primary"].fault.set_mode("refuse")
        async with s.get(
            f"{stack.url}/support/billing", headers={"X-Request-ID": GOOD}, timeout=TIMEOUT
        ) as resp:
            assert resp.status == 200
            assert resp.headers["X-Served-By"] == "backup"  # retried within the request
            assert resp.headers["X-Request-ID"] == GOOD
    lines = [json.loads(line) for line in caplog.text.splitlines()]
    failed = [obj for obj in lines if obj.get("event") == "attempt_failed"]
    assert failed, caplog.text
    assert failed[0]["request_id"] == GOOD
    assert failed[0]["backend"] == "primary"
    assert failed[0]["outcome"] == "local_failure"
    assert failed[0]["logger"] == "switchboard.frontdoor"
