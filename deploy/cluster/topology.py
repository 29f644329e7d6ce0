"""The one-machine cluster (issue 15): three front doors on three "hosts" (network
namespaces, deploy/cluster/netns.py), HAProxy in front, Redis primary + replica + three
sentinels spread over the hosts, the simulators; who runs where: deploy/cluster/layout.py.

`make cluster` (deploy/cluster/__main__.py) and the tests (tests/cluster/) both run it::

    async with Cluster(workdir) as cluster:
        cluster.layout.url                       # HAProxy, for customers
        await cluster.frontdoor("h2").kill()     # kill -9
        await cluster.primary_host()             # "h1", as the sentinels say

Everything it made is removed on the way out (processes stopped, namespaces and the root
link deleted), also at interpreter exit if the `async with` was never left. Needs root.

Errors: `ClusterError` (not root, a process that exits, a wait that times out).
"""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import Final

import aiohttp
from redis.exceptions import RedisError

from deploy.cluster import layout as lay
from deploy.cluster import observe
from deploy.cluster.netns import Lan, blackhole, pick_subnet, sweep_stale
from deploy.cluster.procs import Proc, Procs

REPO: Final = Path(__file__).resolve().parents[2]
HAPROXY: Final = shutil.which("haproxy") or "/usr/sbin/haproxy"
READY_WITHIN: Final = 30.0
_HTTP = aiohttp.ClientTimeout(total=2, sock_connect=1, sock_read=2)


class ClusterError(RuntimeError):
    """The cluster could not be built, or did not get where it was asked to."""


def require_root() -> None:
    if os.geteuid() != 0:
        raise ClusterError(
            "the cluster needs root: it creates network namespaces, veth links and a "
            "bridge (ip netns, ip link); run it as root (sudo make cluster)"
        )


async def wait_until(
    check: Callable[[], bool | Awaitable[bool]], *, within: float, what: str
) -> float:
    """Poll `check` every 50 ms (one that raises a network error counts as not yet);
    seconds waited. `ClusterError` when `within` seconds pass first."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        try:
            result = check()
            if result if isinstance(result, bool) else await result:
                return time.monotonic() - started
        except (OSError, RedisError, aiohttp.ClientError, TimeoutError, KeyError, ValueError):
            pass
        await asyncio.sleep(0.05)
    raise ClusterError(f"cluster: timed out after {within:.0f} s waiting for {what}")


class Cluster:
    def __init__(self, workdir: Path, *, admin_token: str, pid: int | None = None) -> None:
        self.pid = os.getpid() if pid is None else pid
        self.workdir = workdir
        self.admin_token = admin_token
        self.procs = Procs()
        self._layout: lay.Layout | None = None
        self.lan: Lan | None = None

    @property
    def layout(self) -> lay.Layout:
        if self._layout is None:
            raise ClusterError("cluster: not started")
        return self._layout

    # -- who is who
    def frontdoor(self, host: str) -> Proc:
        return self.procs[f"frontdoor-{host}"]

    def redis(self, host: str) -> Proc:
        return self.procs[f"redis-{host}"]

    def callcenter(self, name: str) -> Proc:
        return self.procs[f"callcenter-{name}"]

    def _ns(self, role: str) -> str:
        assert self.lan is not None
        return self.lan.namespace(role)

    # -- building it
    async def start(self) -> None:
        require_root()
        sweep_stale()
        subnet = pick_subnet(self.pid)
        self._layout = lay.Layout(subnet=subnet, workdir=self.workdir)
        self.lan = Lan(pid=self.pid, subnet=subnet, root_address=self.layout.root)
        atexit.register(self._teardown_now)
        self.lan.create_bridge()
        for host in lay.HOSTS:
            self.lan.add_host(host, self.layout.host(host))
        self.lan.add_host("lb", self.layout.lb)
        self.lan.add_host("sims", self.layout.sims)
        await self._start_redis()
        await self._start_sims()
        for host in lay.HOSTS:
            await self._start_frontdoor(host)
        for host in lay.HOSTS:
            await self.wait_frontdoor_ready(host)
        await self._start_haproxy()

    async def _start_redis(self) -> None:
        for host in lay.REDIS_HOSTS:
            replica_of = None if host == lay.REDIS_HOSTS[0] else lay.REDIS_HOSTS[0]
            (self.workdir / host / "redis").mkdir(parents=True, exist_ok=True)
            argv = lay.redis_argv(self.layout, host, replica_of=replica_of)
            await self._spawn(f"redis-{host}", host, argv)
        for host in lay.HOSTS:
            home = self.workdir / host / "sentinel"
            home.mkdir(parents=True, exist_ok=True)
            conf = home / "sentinel.conf"
            conf.write_text(lay.sentinel_config(self.layout, host))
            await self._spawn(f"sentinel-{host}", host, ["redis-sentinel", str(conf)])
        await wait_until(self.settled, within=READY_WITHIN, what="Sentinel to settle")

    async def _start_sims(self) -> None:
        py = [sys.executable, "-m"]
        for name, port, control in lay.CALLCENTERS:
            await self._spawn(f"callcenter-{name}", "sims", [*py, "sims.callcenter", "--name",
                              name, "--host", "0.0.0.0", "--port", str(port),  # noqa: S104
                              "--control-port", str(control)])  # fmt: skip
        await self._spawn("community", "sims", [*py, "sims.community", "--host", "0.0.0.0",  # noqa: S104
                          "--port", str(lay.COMMUNITY_PORT), "--control-port",
                          str(lay.COMMUNITY_CONTROL_PORT)])  # fmt: skip
        for name, _, _ in lay.CALLCENTERS:
            await self._wait_http(f"{self.layout.callcenter_url(name)}/health", name)
        await self._wait_http(f"{self.layout.control_url('community')}/_sim/state", "community")

    async def _start_frontdoor(self, host: str) -> None:
        home = self.workdir / host
        home.mkdir(parents=True, exist_ok=True)
        config = home / "switchboard.toml"
        config.write_text(lay.frontdoor_config(self.layout, host))
        argv = [sys.executable, "-m", "failover", "serve", "--config", str(config)]
        await self._spawn(f"frontdoor-{host}", host, argv)

    async def _start_haproxy(self) -> None:
        config = self.workdir / "lb" / "haproxy.cfg"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(lay.haproxy_config(self.layout))
        await self._spawn("haproxy", "lb", [HAPROXY, "-db", "-f", str(config)])
        await wait_until(self.lb_sees_all_up, within=READY_WITHIN, what="HAProxy: 3 front doors UP")

    async def _spawn(self, name: str, role: str, argv: list[str]) -> Proc:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
        env |= {"PYTHONUNBUFFERED": "1", "SWITCHBOARD_ADMIN_TOKEN": self.admin_token}
        log = self.workdir / "logs" / f"{name}.log"
        proc = Proc(name=name, namespace=self._ns(role), argv=argv, env=env, cwd=REPO, log=log)
        self.procs.add(proc)
        await proc.start()
        return proc

    # -- waits and questions
    def _alive_or_fail(self) -> None:
        if dead := self.procs.exited():
            raise ClusterError(
                "cluster: exited: " + ", ".join(f"{p.name}:\n{p.output()}" for p in dead)
            )

    async def _wait_http(self, url: str, what: str) -> float:
        async with aiohttp.ClientSession(timeout=_HTTP) as session:

            async def answers() -> bool:
                self._alive_or_fail()
                async with session.get(url) as r:
                    return r.status == 200

            return await wait_until(answers, within=READY_WITHIN, what=f"{what}: {url}")

    async def wait_frontdoor_ready(self, host: str, within: float = READY_WITHIN) -> float:
        """Until the front door on `host` answers /readyz 200; seconds waited."""
        url = f"{self.layout.front_url(host)}/readyz"
        return await self._wait_http(url, f"front door {host}")

    async def restart(self, proc: Proc) -> None:
        """Start a process that died again, with the same argv."""
        with proc.log.open("ab") as out:
            out.write(b"\n--- restarted ---\n")
        await proc.start()

    async def primary_host(self) -> str | None:
        return await observe.primary_host(self.layout)

    async def settled(self) -> bool:
        return await observe.settled(self.layout)

    async def rejoin(self, host: str) -> None:
        """Start the Redis node on `host` again as a replica of the current primary (as a
        restarted pod's start script does: deploy/k8s/base/redis) and wait until in sync."""
        primary = await self.primary_host()
        if primary is None or primary == host:
            raise ClusterError(f"cluster: no primary other than {host} to follow")
        proc = self.redis(host)
        proc.argv = lay.redis_argv(self.layout, host, replica_of=primary)
        await self.restart(proc)
        await wait_until(self.settled, within=READY_WITHIN, what=f"redis on {host} to rejoin")

    async def lb_stats(self) -> dict[str, dict[str, str]]:
        return await observe.lb_stats(self.layout)

    async def lb_states(self) -> dict[str, str]:
        return await observe.lb_states(self.layout)

    async def lb_sees_all_up(self) -> bool:
        self._alive_or_fail()
        return set((await self.lb_states()).values()) == {"UP"}

    def cut_from_redis(self, host: str, *, cut: bool = True) -> None:
        """Inside `host`, drop what it sends to every other host holding Redis or a
        sentinel (`cut=False` heals it). Customers, HAProxy and the call centers still
        reach it; its own sentinel still answers it, naming a primary it cannot reach."""
        assert self.lan is not None
        others = [self.layout.host(h) for h in lay.HOSTS if h != host]
        wire = next(w for w in self.lan.wires if w.namespace == self._ns(host))
        blackhole(wire, others, on=cut)

    # -- tearing down
    async def close(self) -> None:
        try:
            await self.procs.stop_all()
        finally:
            self._teardown_now()

    def _teardown_now(self) -> None:
        self.procs.kill_all_now()
        if self.lan is not None:
            self.lan.destroy()
        atexit.unregister(self._teardown_now)

    async def __aenter__(self) -> Cluster:
        try:
            await self.start()
        except BaseException:
            await self.close()
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        await self.close()
