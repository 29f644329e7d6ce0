"""Where the front door sends customers as real call-center simulators behind TCP fault
proxies fail, recover, degrade, close or are switched off."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from failover.health import HealthState
from failover.pool import HealthChange
from failover.routing import SELF_HELP
from tests.support.failover_checks import (
    PER_PHASE,
    customers_while_both_die,
    flapping_primary_stays_unrouted,
)
from tests.support.stack import FAST_HEALTH, Stack, running_stack, wait_for

TIMEOUT = aiohttp.ClientTimeout(total=10, sock_connect=2, sock_read=10)


async def get(
    session: aiohttp.ClientSession, url: str, **kw: object
) -> tuple[int, dict[str, str], bytes]:
    async with session.get(url, allow_redirects=False, timeout=TIMEOUT, **kw) as resp:  # type: ignore[arg-type]
        return resp.status, dict(resp.headers), await resp.read()


def health(stack: Stack, name: str) -> HealthState:
    return next(m.machine.state for m in stack.pool.snapshot().members if m.spec.name == name)


async def test_unknown_page_is_a_404_from_the_call_center_not_a_failover(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack, aiohttp.ClientSession() as s:
        for _ in range(20):  # far more than consecutive_5xx/local thresholds
            status, headers, _ = await get(s, f"{stack.url}/support/no/such/page")
            assert status == 404
            assert headers["X-Served-By"] == "primary"
        assert not stack.pool.snapshot().views[0].breaker.ejections_total


async def test_primary_refusing_moves_traffic_to_backup_then_self_help(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack, aiohttp.ClientSession() as s:
        await stack.centers["primary"].fault.set_mode("refuse")
        status, headers, _ = await get(s, f"{stack.url}/support/router/setup")
        assert status == 200  # retried on the backup within the same request
        assert headers["X-Served-By"] == "backup"
        await stack.centers["backup"].fault.set_mode("refuse")
        status, headers, _ = await get(s, f"{stack.url}/support/router/wifi-keeps-dropping")
        assert status == 303
        assert headers["Location"] == "/help/search?q=router+wifi+keeps+dropping"
        status, _, page = await get(s, f"{stack.url}{headers['Location']}")
        assert status == 200
        assert b"router wifi keeps dropping" in page


async def test_call_center_that_never_answers_is_detected_within_its_budget(
    tmp_path: Path,
) -> None:
    # A read timeout (3 s) far past the budget (0.5 s): only the budget can end the wait
    # within the bound below, with room for a slow machine.
    extra = FAST_HEALTH + "[proxy]\nread_timeout_ms = 3000\nrequest_budget_ms = 500\n"
    async with running_stack(tmp_path, extra=extra) as stack, aiohttp.ClientSession() as s:
        await stack.centers["primary"].sim.set_mode("hang")
        await stack.centers["backup"].fault.set_mode("blackhole")
        started = time.monotonic()
        status, headers, _ = await get(s, f"{stack.url}/support/billing")
        waited = time.monotonic() - started
        assert status == 303
        assert headers["Location"] == "/help/search?q=billing"
        assert waited < 1.5
        # Probes: interval 50 ms, timeout 100 ms, fall 2 => DOWN within ~0.3 s.
        took = await wait_for(
            lambda: health(stack, "primary") is HealthState.DOWN, within=2, what="primary DOWN"
        )
        assert took < 0.6  # ~0.2 s expected: fall 2 x timeout 100 ms


async def test_no_customer_sees_a_5xx_while_a_call_center_dies_under_load(
    tmp_path: Path,
) -> None:
    async with running_stack(tmp_path) as stack, aiohttp.ClientSession() as s:
        codes, served_by = await customers_while_both_die(s, stack.url, stack)
        assert not [c for c in codes if c >= 500], codes
        assert set(codes) <= {200, 303}
        assert min(served_by[k] for k in ("primary", "backup", "self-help")) >= PER_PHASE


async def test_failed_get_is_retried_once_on_the_backup_after_a_5xx(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack, aiohttp.ClientSession() as s:
        await stack.centers["primary"].sim.set_mode("error", status=503)
        # Straight after the switch, before any probe noticed: the request itself fails over.
        status, headers, _ = await get(s, f"{stack.url}/support/billing")
        assert (status, headers["X-Served-By"]) == (200, "backup")


async def test_post_is_not_replayed_when_the_call_center_fails(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack, aiohttp.ClientSession() as s:
        await stack.centers["primary"].sim.set_mode("error", status=500)
        async with s.post(
            f"{stack.url}/support/echo", data=b"order=1", allow_redirects=False, timeout=TIMEOUT
        ) as resp:
            assert resp.status == 303
            assert resp.headers["Location"] == "/help/search?q=echo"
        assert stack.centers["backup"].sim.requests_by_path.get("/echo", 0) == 0


async def test_recovery_after_healthy_threshold_probes_and_hold_down(tmp_path: Path) -> None:
    hold_down = 1.5  # long enough that the "still held down" check has room on a slow machine
    extra = FAST_HEALTH + f"[routing]\nhold_down_ms = {int(hold_down * 1000)}\n"
    async with running_stack(tmp_path, extra=extra) as stack, aiohttp.ClientSession() as s:
        primary = stack.centers["primary"]
        await primary.fault.set_mode("refuse")
        await wait_for(lambda: health(stack, "primary") is HealthState.DOWN, within=2, what="DOWN")
        _, headers, _ = await get(s, f"{stack.url}/support/billing")
        assert headers["X-Served-By"] == "backup"
        await primary.fault.set_mode("pass")
        await wait_for(lambda: health(stack, "primary") is HealthState.UP, within=2, what="UP")
        (up,) = [
            e.transition
            for e in stack.pool.snapshot().timeline
            if isinstance(e, HealthChange)
            and e.callcenter == "primary"
            and (e.transition.source, e.transition.target) == (HealthState.DOWN, HealthState.UP)
        ]
        assert up.reason.startswith("2 x ok")  # back on exactly healthy_threshold good probes
        _, headers, _ = await get(s, f"{stack.url}/support/billing")
        assert headers["X-Served-By"] == "backup"  # still held down

        async def served_by_primary() -> bool:
            _, headers, _ = await get(s, f"{stack.url}/support/billing")
            return headers["X-Served-By"] == "primary"

        await wait_for(served_by_primary, within=hold_down + 3, what="primary serving again")
        assert time.monotonic() - up.at >= hold_down - 0.05


async def test_flapping_faster_than_hold_down_does_not_flap_the_routing(tmp_path: Path) -> None:
    extra = FAST_HEALTH + "[routing]\nhold_down_ms = 2000\n"
    async with running_stack(tmp_path, extra=extra) as stack, aiohttp.ClientSession() as s:
        await flapping_primary_stays_unrouted(s, stack.url, stack)


async def test_degraded_call_center_offers_self_help_first_with_a_way_through(
    tmp_path: Path,
) -> None:
    async with running_stack(tmp_path, names=("solo",)) as stack, aiohttp.ClientSession() as s:
        stack.centers["solo"].sim.set_health(status="degraded")
        await wait_for(
            lambda: health(stack, "solo") is HealthState.DEGRADED, within=2, what="DEGRADED"
        )
        status, headers, _ = await get(s, f"{stack.url}/support/account/password-reset")
        assert status == 303
        location = headers["Location"]
        assert location.startswith("/help/search?q=account+password+reset&continue=")
        _, _, page = await get(s, f"{stack.url}{location}")
        assert b'href="/support/account/password-reset?sb_continue=1"' in page
        status, headers, body = await get(
            s, f"{stack.url}/support/account/password-reset?sb_continue=1"
        )
        assert (status, headers["X-Served-By"]) == (200, "solo")
        assert b"/account/password-reset" in body
        assert "sb_continue=1" in headers["Set-Cookie"]
        status, _, _ = await get(s, f"{stack.url}/support/billing", cookies={"sb_continue": "1"})
        assert status == 200


async def test_emergency_switch_sends_customers_to_self_help_at_once(tmp_path: Path) -> None:
    token = "t" * 32
    async with (
        running_stack(tmp_path, names=("solo",), token=token) as stack,
        aiohttp.ClientSession() as s,
    ):
        url = f"{stack.ops_url}/admin/callcenters/solo/emergency"
        async with s.post(url, json={"on": True}, timeout=TIMEOUT) as resp:
            assert resp.status == 401
        assert stack.pool.snapshot().router.current == "solo"
        auth = {"Authorization": f"Bearer {token}"}
        async with s.post(url, json={"on": True}, headers=auth, timeout=TIMEOUT) as resp:
            assert resp.status == 200
        status, headers, _ = await get(s, f"{stack.url}/support/billing")
        assert (status, headers["Location"]) == (303, "/help/search?q=billing")
        assert stack.pool.snapshot().router.current == SELF_HELP
        # Nothing failed: the probes still say UP.
        assert health(stack, "solo") is HealthState.UP


@pytest.mark.parametrize("mode", ["refuse", "blackhole", "reset"])
async def test_both_down_redirect_keeps_the_topic(tmp_path: Path, mode: str) -> None:
    extra = (
        FAST_HEALTH
        + "[proxy]\nconnect_timeout_ms = 200\nread_timeout_ms = 200\nrequest_budget_ms = 400\n"
    )
    async with running_stack(tmp_path, extra=extra) as stack, aiohttp.ClientSession() as s:
        for c in stack.centers.values():
            await c.fault.set_mode(mode)
        status, headers, _ = await get(s, f"{stack.url}/support/modem/firmware%20update")
        assert status == 303
        assert headers["Location"] == "/help/search?q=modem+firmware+update"


def _window(start: datetime, hours: int) -> str:
    end = start + timedelta(hours=hours)
    day = start.strftime("%a").lower()
    return f"{day} {start:%H}:00-{end:%H}:00"


async def test_call_center_outside_its_hours_sends_customers_to_self_help_at_once(
    tmp_path: Path,
) -> None:
    later = (datetime.now(UTC) + timedelta(hours=3)).replace(minute=0)
    env_hours = f'["{_window(later, 1)}"]'
    async with (
        running_stack(
            tmp_path,
            names=("solo",),
            env={
                "SWITCHBOARD_CALLCENTERS__SOLO__TIMEZONE": "UTC",
                "SWITCHBOARD_CALLCENTERS__SOLO__HOURS": env_hours,
            },
        ) as stack,
        aiohttp.ClientSession() as s,
    ):
        status, headers, _ = await get(s, f"{stack.url}/support/billing")
        assert (status, headers["Location"]) == (303, "/help/search?q=billing")
        # The probes are fine: it is closing time, not an outage of the call center.
        assert health(stack, "solo") is HealthState.UP
        _, _, raw = await get(s, f"{stack.ops_url}/api/v1/status")
        assert json.loads(raw)["callcenters"][0]["availability"] == "closed"


@pytest.mark.parametrize("fault", ["refuse", "reset", "blackhole", "http_503"])
async def test_get_failing_in_flight_is_retried_once_on_the_next_call_center(
    tmp_path: Path, fault: str
) -> None:
    extra = FAST_HEALTH + "[proxy]\nconnect_timeout_ms = 200\nread_timeout_ms = 300\n"
    async with running_stack(tmp_path, extra=extra) as stack, aiohttp.ClientSession() as s:
        primary = stack.centers["primary"]
        if fault == "http_503":
            await primary.sim.set_mode("error", status=503)
        else:
            await primary.fault.set_mode(fault)
        # Before any probe can notice: the customer's own request moves on.
        status, headers, body = await get(s, f"{stack.url}/support/router/setup")
        assert (status, headers["X-Served-By"]) == (200, "backup")
        assert b"/router/setup" in body
