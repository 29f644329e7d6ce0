"""The access log of a real front door process: off by default, and when on, one JSON
line per answered request with the request id the customer and the call center see."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiohttp
import pytest

from sims.callcenter import CallCenterSim
from tests.support.frontdoor import FrontDoors
from tests.support.stack import wait_for

TIMEOUT = aiohttp.ClientTimeout(total=10, sock_connect=2, sock_read=10)


@pytest.fixture
async def callcenter() -> AsyncIterator[CallCenterSim]:
    sim = CallCenterSim(name="primary")
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()


def _config(callcenter: CallCenterSim, *, access_log: bool) -> Callable[[int], str]:
    def text(port: int) -> str:
        return (
            f'[server]\nhost = "127.0.0.1"\nport = {port}\n'
            f"access_log = {'true' if access_log else 'false'}\n"
            "[health]\ninterval_ms = 100\ntimeout_ms = 500\nhealthy_threshold = 1\n"
            f'[[callcenters]]\nname = "primary"\nurl = "{callcenter.url}"\n'
        )

    return text


def _access_lines(log: str) -> list[dict[str, object]]:
    return [
        json.loads(line)
        for line in log.splitlines()
        if line.startswith("{") and '"switchboard.access"' in line
    ]


@pytest.mark.parametrize("enabled", [True, False])
async def test_the_access_log_has_one_json_line_per_request_with_its_id(
    tmp_path: Path, callcenter: CallCenterSim, enabled: bool
) -> None:
    async with FrontDoors(tmp_path) as doors, aiohttp.ClientSession(timeout=TIMEOUT) as session:
        door = await doors.start("a", _config(callcenter, access_log=enabled))
        await door.wait_ready(session)
        async with session.get(
            f"{door.url}/support/router/setup?secret=typed-by-a-customer",
            headers={"X-Request-ID": "trace-42", "User-Agent": "phone-browser"},
        ) as resp:
            assert resp.headers["X-Request-ID"] == "trace-42"
            status = resp.status
        async with session.get(f"{door.url}/help/no-such-page") as resp:
            assert resp.status == 404
        if not enabled:
            assert _access_lines(door.output()) == []
            return
        await wait_for(lambda: len(_access_lines(door.output())) >= 3, within=5,
                       what="access lines")  # fmt: skip
    lines = _access_lines(door.output())
    support = next(line for line in lines if line["request_id"] == "trace-42")
    assert support["method"] == "GET"
    assert support["path"] == "/support/router/setup"  # the query stays out of the log
    assert support["status"] == status
    assert support["destination"] == "primary"
    assert support["user_agent"] == "phone-browser"
    assert support["client"] == "127.0.0.1"
    assert isinstance(support["ms"], float)
    assert "typed-by-a-customer" not in door.output()
    missing = next(line for line in lines if line["path"] == "/help/no-such-page")
    assert missing["status"] == 404
