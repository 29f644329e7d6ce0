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


def _key(alert: Seen) -> str:
    labels = alert["labels"]
    return "/".join(filter(None, (labels["alertname"], labels.get("backend"),
                                  labels.get("instance"))))  # fmt: skip


async def _post_and_read(
    url: str, alerts: list[dict[str, object]], *, inhibited: tuple[str, ...] = ()
) -> dict[str, Seen]:
    """Alerts as Alertmanager shows them once all arrived and, for `inhibited` (keys), once
    its inhibitor has seen their source: after that, another alert's state is final."""
    async with aiohttp.ClientSession(timeout=TIMEOUT) as session:
        async with session.post(f"{url}/api/v2/alerts", json=alerts) as resp:
            assert resp.status == 200, await resp.text()
        seen: dict[str, Seen] = {}

        async def settled() -> bool:
            async with session.get(f"{url}/api/v2/alerts") as resp:
                seen.clear()
                seen.update((_key(a), a) for a in await resp.json())
            return len(seen) == len(alerts) and all(
                seen[k]["status"]["state"] == "suppressed" for k in inhibited if k in seen
            )

        await wait_for(settled, within=5, what="alerts received (and inhibited)")
    return seen


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


async def test_a_front_door_down_covers_its_own_warnings_only(alertmanager: str) -> None:
    # Before, `equal: [job]`: fd-a down suppressed fd-b's Redis alert and the callback
    # backlog's age, which the other replicas still report.
    seen = await _post_and_read(
        alertmanager,
        [
            _alert("SwitchboardFrontDoorDown", "critical", instance="fd-a"),
            _alert("SwitchboardRedisDown", "warning", instance="fd-a"),
            _alert("SwitchboardRedisDown", "warning", instance="fd-b"),
            _alert("SwitchboardCallbackTooOld", "warning"),  # max by (job): no instance
        ],
        inhibited=("SwitchboardRedisDown/fd-a",),
    )
    state = {k: a["status"]["state"] for k, a in seen.items()}
    assert state == {
        "SwitchboardFrontDoorDown/fd-a": "active",
        "SwitchboardRedisDown/fd-a": "suppressed",
        "SwitchboardRedisDown/fd-b": "active",
        "SwitchboardCallbackTooOld": "active",
    }
    assert seen["SwitchboardRedisDown/fd-a"]["status"]["inhibitedBy"]


async def test_no_front_door_scraped_covers_every_warning_of_the_job(alertmanager: str) -> None:
    seen = await _post_and_read(
        alertmanager,
        [
            _alert("SwitchboardFrontDoorMissing", "critical"),  # absent(up): job only
            _alert("SwitchboardRedisDown", "warning", instance="fd-b"),
            _alert("SwitchboardCallbackTooOld", "warning"),
        ],
        inhibited=("SwitchboardRedisDown/fd-b", "SwitchboardCallbackTooOld"),
    )
    state = {k: a["status"]["state"] for k, a in seen.items()}
    assert state == {
        "SwitchboardFrontDoorMissing": "active",
        "SwitchboardRedisDown/fd-b": "suppressed",
        "SwitchboardCallbackTooOld": "suppressed",
    }
