"""Configuration reload under load (issue 17): real call-center simulators behind fault
proxies, the front door in-process, customers' GETs through /support from a task the
whole time. Each reload is asked through `POST /admin/reload` on the ops listener."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client import generate_latest

from failover.configstate import CONFIG
from sims.callcenter import CallCenterSim
from switchboard.app import METRICS
from tests.support.stack import FAST_HEALTH, Stack, running_stack, wait_for

TOKEN = "reload-token-" + "x" * 20
AUTH = {"Authorization": f"Bearer {TOKEN}", "X-Actor": "carol"}
# Probes with room to spare (the call centers answer slowly in some tests); no hold-down,
# so a reload's new topology is in use as soon as it is probed.
HEALTH = FAST_HEALTH.replace("timeout_ms = 100", "timeout_ms = 800") + (
    "[routing]\nhold_down_ms = 0\n"
)


def config_text(centers: list[tuple[str, str, int]], extra: str = HEALTH) -> str:
    lines = ['[server]\nhost = "127.0.0.1"\nport = 0\ndata_dir = "."\n', extra]
    for name, url, priority in centers:
        lines.append(f'[[callcenters]]\nname = "{name}"\nurl = "{url}"\npriority = {priority}\n')
    return "\n".join(lines)


def url_of(stack: Stack, name: str) -> str:
    return stack.centers[name].fault.url


@dataclass
class Load:
    """Customers asking /support/echo without pause, a few at a time."""

    statuses: list[int] = field(default_factory=list)
    served_by: list[tuple[float, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    started: int = 0

    def answered_by(self, name: str, *, after: float) -> int:
        return sum(1 for t, who in self.served_by if who == name and t > after)


@asynccontextmanager
async def customers(stack: Stack, *, concurrency: int = 4) -> AsyncIterator[Load]:
    load = Load()
    stop = asyncio.Event()

    async def one(session: aiohttp.ClientSession) -> None:
        while not stop.is_set():
            load.started += 1
            try:
                async with session.get(f"{stack.url}/support/echo", allow_redirects=False) as r:
                    await r.read()
                    load.statuses.append(r.status)
                    load.served_by.append((time.monotonic(), r.headers.get("X-Served-By", "")))
            except (aiohttp.ClientError, TimeoutError) as exc:
                load.errors.append(repr(exc))

    timeout = aiohttp.ClientTimeout(total=10)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        tasks = [
            asyncio.create_task(one(session), name=f"customer-{i}") for i in range(concurrency)
        ]
        try:
            await wait_for(lambda: len(load.statuses) >= 20, within=5, what="load under way")
            yield load
        finally:
            stop.set()
            await asyncio.wait_for(asyncio.gather(*tasks), timeout=15)
    # Every request answered, none with an error page or a redirect to self-help.
    assert load.errors == []
    assert len(load.statuses) == load.started
    assert set(load.statuses) == {200}, sorted(set(load.statuses))


async def reload(stack: Stack, text: str | None = None) -> tuple[int, dict[str, Any]]:
    if text is not None:
        assert stack.config is not None
        stack.config.write_text(text)
    async with aiohttp.ClientSession() as s, s.post(f"{stack.ops_url}/admin/reload",
                                                    headers=AUTH) as r:  # fmt: skip
        return r.status, await r.json()


async def status(stack: Stack) -> dict[str, Any]:
    async with aiohttp.ClientSession() as s, s.get(f"{stack.ops_url}/api/v1/status",
                                                   headers=AUTH) as r:  # fmt: skip
        assert r.status == 200
        body: dict[str, Any] = await r.json()
        return body


def exposition(stack: Stack) -> str:
    return generate_latest(stack.app[METRICS].registry).decode()


async def sim_mode(sim: CallCenterSim, **mode: object) -> None:
    async with aiohttp.ClientSession() as s, s.post(f"{sim.control_url}/_sim/mode",
                                                    json=mode) as r:  # fmt: skip
        assert r.status == 200


async def test_adding_a_call_center_under_load_drops_nobody_and_it_takes_customers(
    tmp_path: Path,
) -> None:
    extra = CallCenterSim(name="extra")
    await extra.start()
    try:
        async with running_stack(tmp_path, token=TOKEN, extra=HEALTH) as stack:
            before = await status(stack)
            assert before["config"]["generation"] == 1
            assert f'switchboard_config_info{{version="{before["config"]["version"]}"}} 1.0' in (
                exposition(stack)
            )
            assert 'switchboard_probes_total{backend="extra"' not in exposition(stack)
            async with customers(stack) as load:
                primary, backup = url_of(stack, "primary"), url_of(stack, "backup")
                text = config_text([("extra", extra.url, 1), ("primary", primary, 2),
                                    ("backup", backup, 3)])  # fmt: skip
                code, answer = await reload(stack, text)
                reloaded = time.monotonic()
                assert code == 200, answer
                assert answer["result"] == "ok"
                assert answer["applied"]["added"] == ["extra"]
                assert answer["applied"]["changed"] == ["primary", "backup"]  # priorities
                await wait_for(lambda: load.answered_by("extra", after=reloaded) >= 20,
                               within=5, what="customers at the added call center")  # fmt: skip
            after = await status(stack)
            assert after["config"]["generation"] == 2
            assert after["config"]["version"] != before["config"]["version"]
            assert after["destination"] == "extra"
            text = exposition(stack)
            assert f'switchboard_config_info{{version="{after["config"]["version"]}"}} 1.0' in text
            assert before["config"]["version"] not in text  # one version at a time
            assert "switchboard_config_generation 2.0" in text
            assert 'switchboard_config_reloads_total{result="ok"} 1.0' in text
            assert 'switchboard_probes_total{backend="extra",result="fail"} 0.0' in text
    finally:
        await extra.stop()


async def test_removing_the_call_center_in_use_lets_its_customers_finish_and_stops_its_probes(
    tmp_path: Path,
) -> None:
    async with running_stack(tmp_path, token=TOKEN, extra=HEALTH) as stack:
        primary = stack.centers["primary"].sim
        # Each answer takes 400 ms: when the reload lands, customers are in flight there,
        # and they finish after the reload has answered.
        await sim_mode(primary, mode="slow", delay_ms=400)
        async with customers(stack, concurrency=6) as load:
            await wait_for(lambda: load.answered_by("primary", after=0) >= 10, within=5,
                           what="customers at primary")  # fmt: skip
            in_flight = load.started - len(load.statuses)
            code, answer = await reload(
                stack, config_text([("backup", url_of(stack, "backup"), 1)])
            )
            reloaded = time.monotonic()
            assert code == 200, answer
            assert answer["applied"]["removed"] == ["primary"]
            probes = primary.requests_by_path.get("/health", 0)
            await wait_for(lambda: load.answered_by("backup", after=reloaded) >= 20, within=5,
                           what="customers at backup")  # fmt: skip
        assert in_flight > 0
        # Those under way at primary when it was removed got its answer, not an error.
        assert load.answered_by("primary", after=reloaded) > 0
        assert load.answered_by("primary", after=reloaded + 1.0) == 0  # none sent after
        assert stack.pool.names == ("backup",)
        await asyncio.sleep(0.3)  # six probe intervals
        assert primary.requests_by_path.get("/health", 0) <= probes + 1  # its loop stopped
        facts = await status(stack)
        assert [c["name"] for c in facts["callcenters"]] == ["backup"]


async def test_new_thresholds_and_interval_apply_under_load(tmp_path: Path) -> None:
    async with running_stack(tmp_path, token=TOKEN, extra=HEALTH) as stack:
        backup = stack.centers["backup"].sim
        centers = [(n, url_of(stack, n), i) for i, n in enumerate(("primary", "backup"), 1)]

        async def probes_per_second(window: float) -> float:
            start = backup.requests_by_path.get("/health", 0)
            await asyncio.sleep(window)
            return (backup.requests_by_path.get("/health", 0) - start) / window

        async with customers(stack) as load:
            fast = await probes_per_second(0.6)  # interval 50 ms: ~20/s
            # 20 times slower, over a window of two intervals: a stalled machine may
            # halve the fast count and round the slow one up, and they stay apart.
            slower = HEALTH.replace("interval_ms = 50", "interval_ms = 1000").replace(
                "unhealthy_threshold = 2", "unhealthy_threshold = 5"
            )
            code, answer = await reload(stack, config_text(centers, slower))
            assert code == 200, answer
            assert answer["applied"]["keys"] == ["health.interval_ms", "health.unhealthy_threshold"]
            await asyncio.sleep(0.35)  # the loops' current sleep ends
            slow = await probes_per_second(2.0)  # ~1/s
            assert len(load.statuses) > 0
        assert fast > 2 * slow, (fast, slow)
        assert stack.app[CONFIG].settings.health.unhealthy_threshold == 5


async def test_a_new_url_for_a_call_center_under_load_starts_it_afresh_there(
    tmp_path: Path,
) -> None:
    moved = CallCenterSim(name="moved")
    await moved.start()
    try:
        async with running_stack(tmp_path, token=TOKEN, extra=HEALTH) as stack:
            async with customers(stack) as load:
                text = config_text(
                    [("primary", moved.url, 1), ("backup", url_of(stack, "backup"), 2)]
                )
                code, answer = await reload(stack, text)
                reloaded = time.monotonic()
                assert code == 200, answer
                assert answer["applied"]["changed"] == ["primary"]
                # The sim at the new address names itself "moved" in X-Served-By.
                await wait_for(lambda: load.answered_by("moved", after=reloaded) >= 20, within=5,
                               what="customers at primary's new address")  # fmt: skip
            assert moved.requests_by_path.get("/health", 0) > 0  # probed there
            assert stack.pool.names == ("primary", "backup")
    finally:
        await moved.stop()


async def test_an_invalid_file_keeps_the_config_in_force_and_says_why(tmp_path: Path) -> None:
    async with running_stack(tmp_path, token=TOKEN, extra=HEALTH) as stack:
        before = await status(stack)
        assert stack.config is not None
        good = stack.config.read_text()
        async with customers(stack):
            bad = good.replace("priority = 2", 'priority = "two"')
            code, answer = await reload(stack, bad)
            assert code == 422
            assert answer["result"] == "invalid"
            assert any("callcenters[1].priority" in p or "priority" in p
                       for p in answer["problems"]), answer  # fmt: skip
            code, answer = await reload(stack, "not = [toml")
            assert code == 422
            assert "not valid TOML" in answer["problems"][0]
        after = await status(stack)
        assert after["config"]["version"] == before["config"]["version"]
        assert after["config"]["generation"] == 1
        assert after["config"]["last_reload"]["result"] == "invalid"
        assert stack.pool.names == ("primary", "backup")
        assert 'switchboard_config_reloads_total{result="invalid"} 2.0' in exposition(stack)
        async with aiohttp.ClientSession() as s:
            async with s.get(f"{stack.ops_url}/api/v1/status") as r:  # the public view
                public = (await r.json())["config"]
            async with s.get(f"{stack.ops_url}/status", headers=AUTH) as r:
                page = await r.text()
        # The version, not what the file said (it may quote anything): that is operator-only.
        assert public == {k: before["config"][k] for k in ("version", "generation", "loaded_at")}
        assert f"configuration {before['config']['version']} (generation 1" in page
        assert "The last configuration reload was not applied" in page


async def test_a_restart_only_key_is_refused_and_nothing_is_applied(tmp_path: Path) -> None:
    async with running_stack(tmp_path, token=TOKEN, extra=HEALTH) as stack:
        assert stack.config is not None
        text = stack.config.read_text().replace("port = 0", "port = 8089")
        text = text.replace("interval_ms = 50", "interval_ms = 70")  # reloadable, yet not applied
        async with customers(stack):
            code, answer = await reload(stack, text)
        assert code == 409
        assert answer["result"] == "refused"
        assert answer["restart_required"] == ["server.port"]
        assert "server.port" in answer["detail"]
        assert stack.app[CONFIG].settings.health.interval_ms == 50
        assert 'switchboard_config_reloads_total{result="refused"} 1.0' in exposition(stack)


async def test_reload_needs_the_token_and_the_ops_listener(tmp_path: Path) -> None:
    async with running_stack(tmp_path, token=TOKEN, extra=HEALTH) as stack, \
            aiohttp.ClientSession() as s:  # fmt: skip
        async with s.post(f"{stack.ops_url}/admin/reload") as r:
            assert r.status == 401
        async with s.post(f"{stack.url}/admin/reload", headers=AUTH) as r:
            assert r.status == 404  # the customers' port has no ops routes
        code, answer = await reload(stack)  # the file as it is
        assert (code, answer["result"], answer["detail"]) == (200, "ok", "nothing changed")
        async with s.get(f"{stack.ops_url}/admin/log", headers=AUTH) as r:
            entry = (await r.json())["entries"][0]
        assert (entry["action"], entry["actor"], entry["target"]) == ("reload", "carol", "config")
        assert entry["detail"] == "ok: nothing changed"
