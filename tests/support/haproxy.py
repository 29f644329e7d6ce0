"""The stack of tests/support/stack.py in haproxy mode, with a real HAProxy in front.

Switchboard runs in-process (its agent-check responder on a free loopback port); HAProxy
runs as a child process with the config `failover.haproxy_config.render` makes for it.
`HaproxyStack.url` is HAProxy's customer port; `HaproxyStack.stack.url` is Switchboard.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from failover.agentcheck import CHOSEN, RETRY
from failover.appkeys import DATAPLANE
from failover.dataplane import DataPlane
from failover.haproxy_config import FULL_WEIGHT, RETRY_WEIGHT, render
from failover.haproxy_stats import read_show_stat
from tests.support.processes import free_port, stop_process
from tests.support.stack import FAST_HEALTH, Stack, running_stack, wait_for

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"


@dataclass(frozen=True, slots=True, kw_only=True)
class HaproxyStack:
    url: str
    stack: Stack
    stats_socket: str
    config: str

    @property
    def dataplane(self) -> DataPlane:
        return self.stack.app[DATAPLANE]


async def server_states(socket_path: str) -> dict[str, tuple[str, int]]:
    """`cc_<name>` -> (status, weight) as HAProxy sees them now."""
    text = await read_show_stat(socket_path)
    lines = text.removeprefix("# ").splitlines()
    head = lines[0].split(",")
    out: dict[str, tuple[str, int]] = {}
    for line in lines[1:]:
        row = dict(zip(head, line.split(","), strict=False))
        if row.get("pxname") == "be_callcenters" and row.get("svname", "").startswith("cc_"):
            out[row["svname"].removeprefix("cc_")] = (row["status"], int(row["weight"] or 0))
    return out


def dataplane_section(tmp: Path) -> str:
    return (
        f'[dataplane]\nmode = "haproxy"\nlisten_host = "127.0.0.1"\n'
        f"listen_port = {free_port()}\nagent_port = {free_port()}\n"
        f'stats_socket = "{tmp / "haproxy.sock"}"\nstats_poll_ms = 50\n'
    )


@asynccontextmanager
async def running_haproxy_stack(
    tmp: Path, *, names: tuple[str, ...] = ("primary", "backup"), extra: str = FAST_HEALTH
) -> AsyncIterator[HaproxyStack]:
    section = dataplane_section(tmp)
    async with running_stack(tmp, names=names, extra=extra + section) as stack:
        port = int(stack.url.rsplit(":", 1)[1])
        settings = stack.settings.model_copy(
            update={"server": stack.settings.server.model_copy(update={"port": port})}
        )
        config = tmp / "haproxy.cfg"
        config.write_text(render(settings))
        proc = await asyncio.create_subprocess_exec(
            HAPROXY, "-db", "-f", str(config),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        try:
            d = settings.dataplane
            hstack = HaproxyStack(
                url=f"http://127.0.0.1:{d.listen_port}",
                stack=stack,
                stats_socket=d.stats_socket,
                config=str(config),
            )

            async def following() -> bool:
                if proc.returncode is not None:
                    raise AssertionError(f"haproxy exited with {proc.returncode}")
                try:
                    return await follows_switchboard(hstack)
                except OSError:
                    return False

            await wait_for(following, within=5, what="haproxy following switchboard")
            yield hstack
        finally:
            await stop_process(proc, grace=2)


def expected_states(hstack: HaproxyStack) -> dict[str, tuple[str, int]]:
    """What HAProxy should show for each call center, from Switchboard's agent answers."""
    pool = hstack.stack.pool
    out: dict[str, tuple[str, int]] = {}
    for name in pool.names:
        answer = hstack.dataplane.agent.answer(name)
        if answer == CHOSEN:
            out[name] = ("UP", FULL_WEIGHT)
        elif answer == RETRY:
            out[name] = ("UP", RETRY_WEIGHT)
        else:
            out[name] = ("DOWN", FULL_WEIGHT)
    return out


async def follows_switchboard(hstack: HaproxyStack) -> bool:
    """HAProxy shows what Switchboard answers (a DOWN server's weight does not matter)."""
    seen = {
        n: (st.split(" ")[0], w if st.startswith("UP") else FULL_WEIGHT)
        for n, (st, w) in (await server_states(hstack.stats_socket)).items()
    }
    return seen == expected_states(hstack)


async def wait_until_haproxy_sees(
    hstack: HaproxyStack, name: str, status: str, *, within: float = 3
) -> float:
    started = time.monotonic()

    async def seen() -> bool:
        seen = (await server_states(hstack.stats_socket)).get(name, ("", 0))[0]
        return seen.split(" ")[0] == status  # "DOWN (agent)" is DOWN

    await wait_for(seen, within=within, what=f"haproxy sees {name} {status}")
    return time.monotonic() - started
