"""`make cluster`: the one-machine cluster (deploy/cluster/topology.py) until Ctrl-C.

Starts it, prints where everything is and how to break it, waits for SIGINT or SIGTERM
(or a process of the cluster exiting), then stops every process and deletes every
namespace and link it made. Needs root; says so and exits 2 otherwise.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from deploy.cluster import layout as lay
from deploy.cluster.topology import Cluster, ClusterError, require_root


def describe(cluster: Cluster) -> str:
    lo = cluster.layout
    doors = "\n".join(
        f"  front door {h}:   {lo.front_url(h)}   ops {lo.ops_url(h)}/status   "
        f"(ip netns exec {cluster.lan.namespace(h) if cluster.lan else '?'} ...)"
        for h in lay.HOSTS
    )
    sentinels = ", ".join(f"{lo.host(h)}:{lay.SENTINEL_PORT}" for h in lay.HOSTS)
    redis = ", ".join(f"{lo.host(h)}:{lay.REDIS_PORT}" for h in lay.REDIS_HOSTS)
    primary, backup = (lo.control_url(n) for n, _, _ in lay.CALLCENTERS)
    token = cluster.admin_token
    return f"""
Switchboard cluster is up (network {lo.subnet}; this machine is {lo.root} on it).
  customers (HAProxy): {lo.url}/support/router/setup   {lo.url}/help
  HAProxy stats:       http://{lo.lb}:{lay.LB_STATS_PORT}/
{doors}
  Redis (primary, replica): {redis}
  Sentinels ({lay.SERVICE}): {sentinels}
  front doors' [redis] url: {lo.redis_url}
  call centers: primary {lo.callcenter_url("primary")}, backup {lo.callcenter_url("backup")}
  community site: http://{lo.sims}:{lay.COMMUNITY_PORT}
  admin token: {token}
  files and logs: {cluster.workdir}

Break things:
  kill -9 {cluster.frontdoor("h2").pid}            (front door 2; HAProxy routes around it)
  kill -9 {cluster.redis("h1").pid}            (the Redis primary; Sentinel fails over)
  curl -X POST {primary}/_sim/mode -d '{{"mode": "down"}}'
  curl -X POST {backup}/_sim/mode -d '{{"mode": "down"}}'
  curl -H 'Authorization: Bearer {token}' {lo.ops_url("h1")}/api/v1/status

Ctrl-C stops everything and removes the namespaces.
"""


async def run() -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    workdir = Path(tempfile.mkdtemp(prefix="switchboard-cluster-"))
    try:
        async with Cluster(workdir, admin_token=secrets.token_urlsafe(24)) as cluster:
            print(describe(cluster), flush=True)  # noqa: T201 - the URLs are the output
            reported: set[str] = set()
            while not stop.is_set():
                # A process that exits is left so (someone may have killed it on purpose).
                for p in cluster.procs.exited():
                    if p.name not in reported:
                        reported.add(p.name)
                        print(f"cluster: {p.name} exited", file=sys.stderr, flush=True)  # noqa: T201
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.5)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print("cluster: stopped; processes, namespaces and links removed", flush=True)  # noqa: T201
    return 0


def main() -> int:
    try:
        require_root()
        return asyncio.run(run())
    except ClusterError as exc:
        print(f"make cluster: {exc}", file=sys.stderr)  # noqa: T201
        return 2


if __name__ == "__main__":
    sys.exit(main())
