"""The front door's proxying and its own endpoints, against real call-center simulators:
identical bytes, forwarded headers, /healthz and /readyz, the metrics' names and labels."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp

from failover.routing import SELF_HELP
from failover.web import FRONT_DOOR
from tests.integration.test_failover_routing import get
from tests.support.stack import running_stack, wait_for


async def test_healthy_call_center_gets_identical_bytes(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack, aiohttp.ClientSession() as s:
        primary = stack.centers["primary"].sim
        for path in ("/router/setup", "/big", "/billing?month=11"):
            status, headers, body = await get(s, f"{stack.url}/support{path}")
            direct_status, _, direct = await get(s, f"{primary.url}{path}")
            assert (status, body) == (direct_status, direct), path
            assert headers["X-Served-By"] == "primary"
        assert len(direct) > 0


async def test_forwarded_headers_are_set_and_hop_by_hop_ones_stripped(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack, aiohttp.ClientSession() as s:
        headers = {
            "X-Forwarded-For": "6.6.6.6",
            "Connection": "keep-alive, X-Secret-Hop",
            "X-Secret-Hop": "must not pass",
            "Keep-Alive": "timeout=5",
            "X-Customer": "kept",
        }
        status, _, body = await get(s, f"{stack.url}/support/echo/x?a=1", headers=headers)
        assert status == 200
        echo = json.loads(body)
        seen = {k.lower(): v for k, v in echo["headers"].items()}
        assert seen["x-forwarded-for"] == "127.0.0.1"  # the client's claim is not trusted
        assert seen["x-forwarded-proto"] == "http"
        assert seen["x-forwarded-host"] == stack.url.removeprefix("http://")
        assert seen["x-customer"] == "kept"
        assert "x-secret-hop" not in seen
        assert "keep-alive" not in seen
        assert echo["path"] == "/echo/x"
        assert "a=1" in echo["query"]


async def test_readyz_and_healthz(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack, aiohttp.ClientSession() as s:
        assert (await get(s, f"{stack.url}/healthz"))[0] == 200
        assert (await get(s, f"{stack.url}/readyz"))[0] == 200


async def test_trusted_proxy_forwarded_chain_is_kept_and_extended(tmp_path: Path) -> None:
    async with (
        running_stack(
            tmp_path, env={"SWITCHBOARD_SERVER__TRUSTED_PROXIES": '["127.0.0.0/8"]'}
        ) as stack,
        aiohttp.ClientSession() as s,
    ):
        headers = {"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"}
        _, _, body = await get(s, f"{stack.url}/support/echo/x", headers=headers)
        seen = {k.lower(): v for k, v in json.loads(body)["headers"].items()}
        assert seen["x-forwarded-for"] == "203.0.113.7, 127.0.0.1"
        assert seen["x-forwarded-proto"] == "https"


async def test_metrics_expose_the_contract_names_with_bounded_labels(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack, aiohttp.ClientSession() as s:
        await get(s, f"{stack.url}/support/billing")
        await stack.centers["primary"].fault.set_mode("refuse")
        await stack.centers["backup"].fault.set_mode("refuse")
        await get(s, f"{stack.url}/support/customer/12345/secret-path")
        await wait_for(
            lambda: stack.pool.snapshot().router.current == SELF_HELP, within=2, what="failover"
        )
        _, _, raw = await get(s, f"{stack.ops_url}/metrics")
        text = raw.decode()
        for name in (
            'switchboard_backend_up{backend="primary"}',
            "switchboard_failover_active 1.0",
            'switchboard_requests_total{code="200",destination="primary",route="support"} 1.0',
            'switchboard_requests_total{code="303",destination="self-help",route="support"} 1.0',
            'switchboard_request_duration_seconds_bucket{destination="primary",le="+Inf",'
            'route="support"} 1.0',
            'switchboard_request_duration_seconds_bucket{destination="self-help",le="+Inf",'
            'route="support"} 1.0',
        ):
            assert name in text, name
        assert "12345" not in text
        assert "secret" not in text
        assert "127.0.0.1" not in text


async def test_readyz_fails_when_the_probe_loop_is_not_running(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack, aiohttp.ClientSession() as s:
        assert (await get(s, f"{stack.url}/readyz"))[0] == 200
        monitor = stack.app[FRONT_DOOR].monitor
        await monitor.stop()  # a dead probe loop is not ready to route anyone
        status, _, body = await get(s, f"{stack.url}/readyz")
        assert status == 503
        assert b"probes" in body
