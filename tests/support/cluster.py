"""Driving the one-machine cluster (deploy/cluster/) from tests: a bounded customer load,
what each front door reports, the simulators' switches and what they received.

The load (tests/support/customers.py) runs in the root namespace, through HAProxy (or
straight at one front door).
"""

from __future__ import annotations

import contextlib
import functools
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, Final

import aiohttp

from deploy.cluster import layout as lay
from deploy.cluster.topology import Cluster, ClusterError, wait_until
from failover.callbacks.request import ticket_id

Json = dict[str, Any]
Check = Callable[[], Awaitable[bool]]
TIMEOUT: Final = aiohttp.ClientTimeout(total=10, sock_connect=3, sock_read=10)


def _auth(cluster: Cluster) -> dict[str, str]:
    return {"Authorization": f"Bearer {cluster.admin_token}"}


async def status(session: aiohttp.ClientSession, cluster: Cluster, host: str) -> Json:
    """The operator view of /api/v1/status of the front door on `host` (its ops port)."""
    url = f"{cluster.layout.ops_url(host)}/api/v1/status"
    async with session.get(url, headers=_auth(cluster), timeout=TIMEOUT) as r:
        assert r.status == 200, await r.text()
        answer: Json = await r.json()
        return answer


async def destinations(session: aiohttp.ClientSession, cluster: Cluster) -> dict[str, str]:
    """Where each front door sends customers now: a call center's name or "self-help"."""
    out: dict[str, str] = {}
    for host in lay.HOSTS:
        out[host] = (await status(session, cluster, host))["destination"]
    return out


def since(facts: Json) -> float:
    """When the front door's current destination was chosen, as a POSIX timestamp."""
    return datetime.fromisoformat(facts["since"]).timestamp()


async def admin(session: aiohttp.ClientSession, cluster: Cluster, host: str, path: str,
                body: Json) -> Json:  # fmt: skip
    url = f"{cluster.layout.ops_url(host)}/admin/{path}"
    async with session.post(url, json=body, headers=_auth(cluster), timeout=TIMEOUT) as r:
        assert r.status == 200, await r.text()
        answer: Json = await r.json()
        return answer


async def set_mode(session: aiohttp.ClientSession, cluster: Cluster, name: str, mode: str) -> None:
    """A simulator's mode (up, down, ...): `name` a call center or "community"."""
    url = f"{cluster.layout.control_url(name)}/_sim/mode"
    async with session.post(url, json={"mode": mode}, timeout=TIMEOUT) as r:
        assert r.status == 200, await r.text()


async def delivered(session: aiohttp.ClientSession, cluster: Cluster) -> Counter[str]:
    """Tickets the call centers received, each POST counted (repeats included)."""
    out: Counter[str] = Counter()
    for name, _, _ in lay.CALLCENTERS:
        url = f"{cluster.layout.control_url(name)}/_sim/callbacks"
        async with session.get(url, timeout=TIMEOUT) as r:
            for d in (await r.json())["deliveries"]:
                out[ticket_id(d["key"])] += 1
    return out


async def lost_callbacks(session: aiohttp.ClientSession, cluster: Cluster, tickets: set[str],
                         within: float = 30) -> set[str]:  # fmt: skip
    """Acknowledged tickets the call centers have not received after `within` seconds."""
    missing = set(tickets)

    async def arrived() -> bool:
        missing.intersection_update(tickets - set(await delivered(session, cluster)))
        return not missing

    with contextlib.suppress(ClusterError):  # what is missing is the answer
        await wait_until(arrived, within=within, what="every acknowledged callback")
    return missing


async def healthy(session: aiohttp.ClientSession, cluster: Cluster) -> None:
    """Back to normal, whatever the test before left broken: every process running (a
    Redis node that died rejoins as a replica), no host cut off, no operator switch on,
    both call centers up, HAProxy sending to all three front doors, Redis settled with a
    replica, every front door routing to primary."""
    for host in lay.HOSTS:
        cluster.cut_from_redis(host, cut=False)
    for proc in cluster.procs.exited():
        if proc.name.startswith("redis-"):
            await cluster.rejoin(proc.name.removeprefix("redis-"))
        else:
            await cluster.restart(proc)
    for name, _, _ in lay.CALLCENTERS:
        up = functools.partial(_mode_up, session, cluster, name)
        await wait_until(up, within=15, what=f"call center {name} up")
    for host in lay.HOSTS:
        await cluster.wait_frontdoor_ready(host)
    for name, _, _ in lay.CALLCENTERS:
        await admin(session, cluster, "h1", f"callcenters/{name}/emergency", {"on": False})
    await admin(session, cluster, "h1", "override", {"mode": "automatic"})
    await wait_until(cluster.lb_sees_all_up, within=15, what="HAProxy: all front doors UP")
    await wait_until(cluster.settled, within=15, what="Sentinel settled")
    await wait_until(go(session, cluster, "primary"), within=15, what="all routing to primary")


async def _mode_up(session: aiohttp.ClientSession, cluster: Cluster, name: str) -> bool:
    await set_mode(session, cluster, name, "up")
    return True


# Conditions to wait for (`wait_until`), each one question to the cluster.


def go(session: aiohttp.ClientSession, cluster: Cluster, where: str,
       hosts: Sequence[str] = lay.HOSTS) -> Check:  # fmt: skip
    """Every front door of `hosts` sends customers to `where`."""

    async def check() -> bool:
        for host in hosts:
            if (await status(session, cluster, host))["destination"] != where:
                return False
        return True

    return check


def reach_redis(session: aiohttp.ClientSession, cluster: Cluster, *, want: bool = True,
                hosts: Sequence[str] = lay.HOSTS) -> Check:  # fmt: skip
    """Every front door of `hosts` reaches Redis (`want=False`: none does)."""

    async def check() -> bool:
        for host in hosts:
            if (await status(session, cluster, host))["redis"]["reachable"] is not want:
                return False
        return True

    return check


def see_down(session: aiohttp.ClientSession, cluster: Cluster, name: str) -> Check:
    """Every front door has call center `name` out of health (not "up")."""

    async def check() -> bool:
        for host in lay.HOSTS:
            centers = (await status(session, cluster, host))["callcenters"]
            if next(c for c in centers if c["name"] == name)["health"] == "up":
                return False
        return True

    return check


def lb_sees(cluster: Cluster, host: str, state: str) -> Check:
    """HAProxy has the front door on `host` in `state` (UP, DOWN)."""

    async def check() -> bool:
        return (await cluster.lb_states())[host] == state

    return check


def primary_moved(cluster: Cluster, old: str) -> Check:
    """A sentinel names a primary other than the one on `old`."""

    async def check() -> bool:
        now = await cluster.primary_host()
        return now is not None and now != old

    return check
