"""monitoring/alertmanager.yml in a real Alertmanager (Debian's prometheus-alertmanager):
the alerts of one outage make one page, and each severity goes to its receiver.

Before the configuration, a call center outage paged four alerts in the same second:
two SwitchboardCallCenterDown (warning), SwitchboardAllCallCentersDown (critical) and
SwitchboardFailoverActive (info).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio

from tests.support.processes import free_port, stop_process
from tests.support.stack import wait_for

REPO = Path(__file__).resolve().parents[2]
BINARY = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
TIMEOUT = aiohttp.ClientTimeout(total=5, sock_connect=2, sock_read=5)


@pytest_asyncio.fixture
async def alertmanager(tmp_path: Path) -> AsyncIterator[str]:
    if BINARY is None:
        pytest.fail("the Alertmanager binary is missing: `make test` installs Debian's "
                    "prometheus-alertmanager (scripts/ensure-debian-packages)")  # fmt: skip
    port = free_port()
    log = (tmp_path / "alertmanager.log").open("wb")
    proc = await asyncio.create_subprocess_exec(
        BINARY,
        f"--config.file={REPO / 'monitoring' / 'alertmanager.yml'}",
        f"--storage.path={tmp_path / 'am'}",
        f"--web.listen-address=127.0.0.1:{port}",
        "--cluster.listen-address=",  # no gossip: one instance, no port of its own
        stdout=subprocess.DEVNULL,
        stderr=log,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession(timeout=TIMEOUT) as session:

            async def ready() -> bool:
                try:
                    async with session.get(f"{url}/-/ready") as resp:
                        return resp.status == 200
                except aiohttp.ClientConnectionError:
                    return False

            await wait_for(ready, within=15, what="Alertmanager ready")
        yield url
    finally:
        await stop_process(proc, grace=5)
        log.close()


def _alert(name: str, severity: str, **labels: str) -> dict[str, object]:
    return {
        "labels": {"alertname": name, "severity": severity, "job": "switchboard", **labels},
        "annotations": {"summary": name},
        "startsAt": datetime.now(UTC).isoformat(),
    }


Seen = dict[str, Any]  # one alert as Alertmanager's API v2 shows it (JSON)


async def _post_and_read(url: str, alerts: list[dict[str, object]]) -> dict[str, Seen]:
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        async with session.post(f"{url}/api/v2/alerts", json=alerts) as resp:
            assert resp.status == 200, await resp.text()

        async def all_there() -> bool:
            async with session.get(f"{url}/api/v2/alerts") as resp:
                return len(await resp.json()) == len(alerts)

        await wait_for(all_there, within=5, what="alerts received")
        async with session.get(f"{url}/api/v2/alerts") as resp:
            seen: list[Seen] = await resp.json()
    return {
        "/".join(filter(None, (a["labels"]["alertname"], a["labels"].get("backend")))): a
        for a in seen
    }


async def test_one_call_center_outage_pages_once(alertmanager: str) -> None:
    seen = await _post_and_read(
        alertmanager,
        [
            _alert("SwitchboardCallCenterDown", "warning", backend="dublin"),
            _alert("SwitchboardCallCenterDown", "warning", backend="manila"),
            _alert("SwitchboardAllCallCentersDown", "critical"),
            _alert("SwitchboardFailoverActive", "info"),
        ],
    )
    active = sorted(k for k, a in seen.items() if a["status"]["state"] == "active")
    assert active == ["SwitchboardAllCallCentersDown"]
    for key in ("SwitchboardCallCenterDown/dublin", "SwitchboardCallCenterDown/manila",
                "SwitchboardFailoverActive"):  # fmt: skip
        status = seen[key]["status"]
        assert status["state"] == "suppressed", key
        assert status["inhibitedBy"], key
    receivers = [r["name"] for r in seen["SwitchboardAllCallCentersDown"]["receivers"]]
    assert receivers == ["pager"]


async def test_each_severity_goes_to_its_receiver_and_a_fast_burn_covers_the_slow(
    alertmanager: str,
) -> None:
    seen = await _post_and_read(
        alertmanager,
        [
            _alert("SwitchboardSelfHelpErrorBudgetBurn", "critical"),
            _alert("SwitchboardSelfHelpErrorBudgetBurnSlow", "warning"),
            _alert("SwitchboardCallbackTooOld", "warning"),
            _alert("SwitchboardFailoverActive", "info"),
        ],
    )

    def receivers(key: str) -> list[str]:
        return [r["name"] for r in seen[key]["receivers"]]

    assert receivers("SwitchboardSelfHelpErrorBudgetBurn") == ["pager"]
    assert receivers("SwitchboardCallbackTooOld") == ["tickets"]
    assert receivers("SwitchboardFailoverActive") == ["null"]
    slow = seen["SwitchboardSelfHelpErrorBudgetBurnSlow"]["status"]
    assert slow["state"] == "suppressed"
    assert seen["SwitchboardCallbackTooOld"]["status"]["state"] == "active"
