"""Ops endpoints on their own listener (issue 17): /status, /api/v1/status, /metrics and
/admin answer only on `[ops]` host:port (loopback by default); on the customers' port
they do not exist. /healthz and /readyz stay on both, for the load balancer.

Before: all of them answered anyone who could reach the customers' port.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from failover.settings import ConfigError, load_settings
from tests.support.attack import attack_stack, get, raw_request

TOKEN = "t" * 32
OPS = [
    ("GET", "/metrics"),
    ("GET", "/status"),
    ("GET", "/api/v1/status"),
    ("GET", "/admin/log"),
    ("GET", "/admin/switches"),
    ("POST", "/admin/override"),
    ("POST", "/admin/callcenters/primary/drain"),
    ("POST", "/admin/cache/rewarm"),
]


async def test_ops_routes_do_not_exist_on_the_customer_port(tmp_path: Path) -> None:
    async with attack_stack(tmp_path) as stack, aiohttp.ClientSession() as s:
        for method, path in OPS:
            async with s.request(method, stack.url + path, json={"mode": "self-help"},
                                 headers={"Authorization": f"Bearer {TOKEN}"}) as resp:  # fmt: skip
                body = await resp.text()
                assert resp.status == 404, (method, path)
                assert "switchboard_" not in body
                assert "primary" not in body
        for path in ("/healthz", "/readyz"):
            for base in (stack.url, stack.ops_url):
                async with s.get(base + path) as resp:
                    assert resp.status == 200, (base, path)
        # The absolute form cannot reach them either: it names a path, not a listener.
        answer = await raw_request(stack.port, get(f"http://127.0.0.1:{stack.port}/metrics"))
        assert answer.status == 404
        # Nothing changed: the override was refused as unknown, not applied.
        assert stack.pool.snapshot().override is None


async def test_ops_routes_answer_on_the_ops_listener(tmp_path: Path) -> None:
    async with attack_stack(tmp_path) as stack, aiohttp.ClientSession() as s:
        async with s.get(f"{stack.ops_url}/metrics") as resp:
            assert resp.status == 200
            assert "switchboard_backend_up" in await resp.text()
        async with s.get(f"{stack.ops_url}/api/v1/status") as resp:
            assert resp.status == 200
            assert (await resp.json())["destination"] == "primary"
        async with s.get(f"{stack.ops_url}/admin/log") as resp:
            assert resp.status == 403  # no admin token configured: admin is off


@pytest.mark.parametrize(
    ("ops", "ok"),
    [("[ops]\nport = 8080\n", False), ('[ops]\nport = 8080\nhost = "10.0.0.1"\n', True),
     ("[ops]\nport = 9999\n", True)],
)  # fmt: skip
def test_the_ops_port_must_differ_from_the_customer_port(
    tmp_path: Path, ops: str, ok: bool
) -> None:
    config = tmp_path / "switchboard.toml"
    config.write_text(
        '[server]\nhost = "127.0.0.1"\nport = 8080\n' + ops
        + '[[callcenters]]\nname = "a"\nurl = "http://127.0.0.1:9001"\n'
    )  # fmt: skip
    if ok:
        load_settings(config, env={})
        return
    with pytest.raises(ConfigError, match=r"ops\.port.*must differ from server\.port"):
        load_settings(config, env={})
