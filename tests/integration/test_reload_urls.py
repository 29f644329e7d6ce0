"""Call-center URLs the proxy must be able to use: checked as the proxy parses them
(yarl, not urlsplit), at start and at a reload; a reload that fails leaves the
configuration in force whole.

Before: `http://[::1]x/` passed `check-config` and then `serve` died with a traceback; a
reload with it gave the pool the new call center and then failed in the proxy, with the
generation unchanged (half applied). `http://[fe80::1%eth0]/` passed too, and every
request to it raised: every customer went to self-help. And a call center at an IPv6
address (`http://[::1]:port`) never got a customer: its upstream URL lost the brackets.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from failover.configstate import CONFIG
from tests.support.attack import attack_stack, get, raw_request
from tests.support.stack import running_stack

TOKEN = "reload-token-" + "x" * 20
AUTH = {"Authorization": f"Bearer {TOKEN}", "X-Actor": "carol"}
BAD_URLS = [
    ("http://[::1]x/", "Invalid IPv6 URL"),
    ("http://[fe80::1%eth0]/", "IPv6 zone identifier"),
]


def third(url: str) -> str:
    return f'\n[[callcenters]]\nname = "third"\nurl = "{url}"\npriority = 3\n'


@pytest.mark.parametrize(("url", "reason"), BAD_URLS)
async def test_a_reload_with_a_url_the_proxy_cannot_use_is_invalid_and_changes_nothing(
    tmp_path: Path, url: str, reason: str
) -> None:
    async with running_stack(tmp_path, token=TOKEN) as stack:
        state = stack.app[CONFIG]
        assert stack.config is not None
        assert state.live is not None
        proxy_policy = state.live.proxy.policy
        text = stack.config.read_text() + third(url)
        stack.config.write_text(text.replace("timeout_ms = 100", "timeout_ms = 90"))
        async with aiohttp.ClientSession() as s, s.post(f"{stack.ops_url}/admin/reload",
                                                        headers=AUTH) as r:  # fmt: skip
            answer = await r.json()
        assert (r.status, answer["result"]) == (422, "invalid"), answer
        assert any("callcenters[2].url" in p and reason in p for p in answer["problems"]), answer
        assert stack.pool.names == ("primary", "backup")
        assert state.live.proxy.policy is proxy_policy
        assert state.generation == 1
        assert state.settings.health.timeout_ms == 100


async def test_a_reload_that_fails_while_applying_leaves_the_old_configuration_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever slips past validation (here: settings built without it) and fails while
    being applied: nothing of the new configuration is in force."""
    async with running_stack(tmp_path, token=TOKEN) as stack:
        state = stack.app[CONFIG]
        assert state.live is not None
        old = state.settings
        proxy_policy = state.live.proxy.policy
        center = old.callcenters[0].model_copy(update={"name": "third", "url": BAD_URLS[0][0]})
        new = old.model_copy(
            update={
                "callcenters": (*old.callcenters, center),
                "proxy": old.proxy.model_copy(update={"read_timeout_ms": 2000}),
            }
        )
        monkeypatch.setattr(state, "_loader", lambda: new)
        outcome = await state.reload("test")
        assert outcome.result == "error", outcome
        assert stack.pool.names == ("primary", "backup")
        assert state.live.proxy.policy is proxy_policy
        assert (state.generation, state.settings) == (1, old)
        async with aiohttp.ClientSession() as s, s.get(f"{stack.url}/support/echo") as r:
            assert r.status == 200  # still served, by the call centers in force


async def _ipv6_center() -> tuple[web.AppRunner, int]:
    async def health(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def page(request: web.Request) -> web.Response:
        return web.json_response({"center": "v6", "path": request.raw_path})

    app = web.Application()
    app.router.add_get("/health", health)
    app.router.add_get("/{tail:.*}", page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "::1", 0)
    await site.start()
    return runner, runner.addresses[0][1]


async def test_a_call_center_at_an_ipv6_address_gets_its_customers(tmp_path: Path) -> None:
    runner, port = await _ipv6_center()
    try:
        urls = {"primary": f"http://[::1]:{port}/cc"}
        async with attack_stack(tmp_path, urls=urls) as stack:
            answer = await raw_request(stack.port, get("/support/a/b?x=1"))
            assert answer.status == 200, answer
            assert b'"center": "v6"' in answer.body
            assert b'"path": "/cc/a/b?x=1"' in answer.body
            assert stack.failures_recorded() == {"primary": 0, "backup": 0}
    finally:
        await runner.cleanup()
