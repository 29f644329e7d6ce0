"""Questions to the cluster's Redis, Sentinel and HAProxy, asked from outside (the root
namespace): who is the primary, has Sentinel settled, what does HAProxy see."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis
from redis.exceptions import RedisError

from deploy.cluster import layout as lay
from sims.harness.redis import sentinel_sees_all


async def primary_host(layout: lay.Layout) -> str | None:
    """The host of the primary, as the first sentinel that answers names it."""
    for host in lay.HOSTS:
        client = Redis(host=str(layout.host(host)), port=lay.SENTINEL_PORT,
                       socket_timeout=1.0, socket_connect_timeout=1.0)  # fmt: skip
        try:
            answer = await client.sentinel_get_master_addr_by_name(lay.SERVICE)
        except (RedisError, OSError):
            continue
        finally:
            await client.aclose()
        if isinstance(answer, tuple | list):
            address = answer[0].decode() if isinstance(answer[0], bytes) else str(answer[0])
            return next((h for h in lay.HOSTS if str(layout.host(h)) == address), None)
    return None


async def settled(layout: lay.Layout) -> bool:
    """Every sentinel sees the primary, one replica in sync and the two other sentinels."""
    primary = await primary_host(layout)
    if primary is None:
        return False
    for host in lay.HOSTS:
        client = Redis(host=str(layout.host(host)), port=lay.SENTINEL_PORT,
                       socket_timeout=1.0, socket_connect_timeout=1.0)  # fmt: skip
        if not await sentinel_sees_all(client, lay.SERVICE):
            return False
    (replica,) = [h for h in lay.REDIS_HOSTS if h != primary]
    client = Redis(host=str(layout.host(replica)), port=lay.REDIS_PORT,
                   socket_timeout=1.0, socket_connect_timeout=1.0)  # fmt: skip
    try:
        info = await client.info("replication")
    finally:
        await client.aclose()
    return bool(info.get("master_link_status") == "up")


async def lb_stats(layout: lay.Layout) -> dict[str, dict[str, str]]:
    """HAProxy's `show stat` rows of the front doors' backend, by server name ("fd1",
    ..., and "BACKEND"): status, scur (connections now), wretr, wredis, ..."""
    reader, writer = await asyncio.open_unix_connection(str(layout.haproxy_socket))
    try:
        writer.write(b"show stat\n")
        text = (await asyncio.wait_for(reader.read(), 2)).decode()
    finally:
        writer.close()
    head = text.removeprefix("# ").splitlines()[0].split(",")
    rows = [dict(zip(head, line.split(","), strict=False)) for line in text.splitlines()[1:]]
    return {r["svname"]: r for r in rows if r.get("pxname") == "frontdoors"}


async def lb_states(layout: lay.Layout) -> dict[str, str]:
    """HAProxy's view of each front door: {"h1": "UP", ...}."""
    rows = await lb_stats(layout)
    return {h: rows[f"fd{h.removeprefix('h')}"]["status"].split(" ")[0] for h in lay.HOSTS}
