"""Who runs where in the one-machine cluster, and the config files they read: pure, no I/O.

Every "host" is a network namespace with its own address on one /24 (deploy/cluster/
netns.py), so every process listens on its usual port::

    10.X.Y.1   the root namespace's end: the operator, tests, `make cluster`'s URLs
    10.X.Y.2   lb    HAProxy :8080 (customers), :8404 (stats page)
    10.X.Y.11  h1    front door 1 :8080 (ops :9180), Redis primary :6379, Sentinel :26379
    10.X.Y.12  h2    front door 2 :8080 (ops :9180), Redis replica :6379, Sentinel :26379
    10.X.Y.13  h3    front door 3 :8080 (ops :9180),                      Sentinel :26379
    10.X.Y.20  sims  call centers primary :9001 and backup :9002 (switches :9201, :9202),
                     community site :9100 (switches :9300)

HAProxy balances the three front doors round robin, sends a front door customers only
while its /readyz answers 200, and retries a request whose connection failed or came back
empty on another one (as deploy/compose/haproxy.cfg, plus L7 retries).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Final

SERVICE: Final = "mymaster"
QUORUM: Final = 2
# As tests/support/sentinel.py: a primary silent for half a second is down; two of three
# sentinels agreeing fail it over ("High availability with Redis Sentinel").
DOWN_AFTER_MS: Final = 500
FAILOVER_TIMEOUT_MS: Final = 2000
FRONT_PORT: Final = 8080
OPS_PORT: Final = 9180
REDIS_PORT: Final = 6379  # inside the hosts' namespaces: never the machine's own Redis
SENTINEL_PORT: Final = 26379
LB_PORT: Final = 8080
LB_STATS_PORT: Final = 8404
CALLCENTERS: Final = (("primary", 9001, 9201), ("backup", 9002, 9202))
COMMUNITY_PORT: Final = 9100
COMMUNITY_CONTROL_PORT: Final = 9300
HOSTS: Final = ("h1", "h2", "h3")
REDIS_HOSTS: Final = ("h1", "h2")  # primary first
# The probe interval of every front door: the spread the tests allow between replicas.
HEALTH_INTERVAL_MS: Final = 250
HOLD_DOWN_MS: Final = 2000
# HAProxy's checks of a front door: /readyz every 500 ms, down after 2 failures, and at
# once when a connection to it fails (observe layer4), up after 2 passes.
SERVER_CHECKS: Final = (
    "inter 500ms fastinter 200ms fall 2 rise 2 check "
    "observe layer4 error-limit 1 on-error mark-down"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Layout:
    """Addresses and names of one cluster, from its /24 and a working folder."""

    subnet: ipaddress.IPv4Network
    workdir: Path

    def _at(self, last: int) -> ipaddress.IPv4Address:
        return self.subnet.network_address + last

    @property
    def root(self) -> ipaddress.IPv4Address:
        return self._at(1)

    @property
    def lb(self) -> ipaddress.IPv4Address:
        return self._at(2)

    @property
    def sims(self) -> ipaddress.IPv4Address:
        return self._at(20)

    def host(self, name: str) -> ipaddress.IPv4Address:
        return self._at(11 + HOSTS.index(name))

    @property
    def url(self) -> str:
        """The customers' URL: HAProxy."""
        return f"http://{self.lb}:{LB_PORT}"

    def front_url(self, host: str) -> str:
        return f"http://{self.host(host)}:{FRONT_PORT}"

    def ops_url(self, host: str) -> str:
        return f"http://{self.host(host)}:{OPS_PORT}"

    def callcenter_url(self, name: str) -> str:
        port = next(p for n, p, _ in CALLCENTERS if n == name)
        return f"http://{self.sims}:{port}"

    def control_url(self, name: str) -> str:
        """A call center's `/_sim/*` switches ("community" for the community site's)."""
        if name == "community":
            return f"http://{self.sims}:{COMMUNITY_CONTROL_PORT}"
        port = next(c for n, _, c in CALLCENTERS if n == name)
        return f"http://{self.sims}:{port}"

    @property
    def redis_url(self) -> str:
        """The front doors' `[redis] url`: the three sentinels."""
        hosts = ",".join(f"{self.host(h)}:{SENTINEL_PORT}" for h in HOSTS)
        return f"redis+sentinel://{hosts}/{SERVICE}/0"

    @property
    def redis_addresses(self) -> tuple[ipaddress.IPv4Address, ...]:
        """Where Redis and the other sentinels live, as seen from a front door's host."""
        return tuple(self.host(h) for h in HOSTS)

    @property
    def haproxy_socket(self) -> Path:
        return self.workdir / "lb" / "haproxy.sock"


def frontdoor_config(layout: Layout, host: str) -> str:
    """`switchboard.toml` of the front door on `host`."""
    home = layout.workdir / host
    lines = [
        "[server]",
        'host = "0.0.0.0"',
        f"port = {FRONT_PORT}",
        f'data_dir = "{home}"',
        f'trusted_proxies = ["{layout.lb}/32"]',  # HAProxy's X-Forwarded-For is believed
        "shutdown_grace_ms = 1000",
        "[ops]",  # the cluster's LAN is private: the operator reaches it from the root ns
        'host = "0.0.0.0"',
        f"port = {OPS_PORT}",
        "[redis]",
        f'url = "{layout.redis_url}"',
        "[health]",
        f"interval_ms = {HEALTH_INTERVAL_MS}",
        "timeout_ms = 200",
        "[routing]",
        f"hold_down_ms = {HOLD_DOWN_MS}",
        "[callbacks]",
        f'consumer = "frontdoor-{host.removeprefix("h")}"',
        # Far above what a front door reaches here: a round stops a quarter of
        # reclaim_idle after its batch was read whatever the rate (dispatcher.py), so no
        # batch outlasts reclaim_idle and no other front door delivers its tail again
        # (at this rate that happened 0-100 times per failover test before the fix).
        "rate_per_s = 2000.0",
        "burst = 20",
        "delivery_timeout_ms = 500",
        # A dead front door's unfinished deliveries are taken over after this.
        "reclaim_idle_ms = 4000",
        "replica_ack_timeout_ms = 300",
        "[limits]",
        # Load tests and the operator come from one address (10.X.Y.1 via HAProxy).
        "callbacks_burst = 100000",
        "[overload]",
        # Three front doors, Redis and the simulators share this machine's cores: their
        # event-loop lag is the machine's, not load, and must not shed self-help.
        "enabled = false",
        "[selfhelp]",
        f'origin = "http://{layout.sims}:{COMMUNITY_PORT}"',
        f'snapshot_path = "{home / "selfhelp.snapshot"}"',
    ]
    for priority, (name, _, _) in enumerate(CALLCENTERS, start=1):
        lines += [
            "[[callcenters]]",
            f'name = "{name}"',
            f'url = "{layout.callcenter_url(name)}"',
            f"priority = {priority}",
        ]
    return "\n".join(lines) + "\n"


def haproxy_config(layout: Layout) -> str:
    """HAProxy in front of the three front doors (the model: deploy/compose/haproxy.cfg)."""
    servers = "\n".join(
        f"    server fd{h.removeprefix('h')} {layout.host(h)}:{FRONT_PORT}" for h in HOSTS
    )
    return f"""global
    maxconn 4000
    stats socket {layout.haproxy_socket} mode 600 level admin

defaults
    mode http
    option forwardfor
    timeout connect 1s
    timeout client 30s
    timeout server 10s
    timeout http-keep-alive 60s
    # A request whose connection failed, or whose answer never came (a front door killed
    # with it in flight), is sent again, to another front door (redispatch on every
    # retry). Safe here: GETs, and callbacks carry an Idempotency-Key (a repeat gets the
    # same ticket). HAProxy 2.6 manual, "retry-on", "option redispatch".
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response junk-response

frontend customers
    bind {layout.lb}:{LB_PORT}
    http-request deny deny_status 404 if {{ path_beg /admin /metrics /status }}
    default_backend frontdoors

backend frontdoors
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
    default-server {SERVER_CHECKS}
{servers}

frontend stats
    bind {layout.lb}:{LB_STATS_PORT}
    stats enable
    stats uri /
    stats refresh 5s
"""


def redis_argv(layout: Layout, host: str, *, replica_of: str | None) -> list[str]:
    """`redis-server` on `host`, appending every write (appendfsync always)."""
    home = layout.workdir / host / "redis"
    argv = [
        "redis-server", "--port", str(REDIS_PORT), "--bind", str(layout.host(host)),
        "127.0.0.1", "--protected-mode", "no", "--daemonize", "no", "--dir", str(home),
        "--logfile", str(home / "redis.log"), "--appendonly", "yes",
        "--appendfsync", "always", "--save", "",
    ]  # fmt: skip
    if replica_of is not None:
        argv += ["--replicaof", str(layout.host(replica_of)), str(REDIS_PORT)]
    return argv


def sentinel_config(layout: Layout, host: str) -> str:
    """The sentinel on `host` (Sentinel rewrites this file with what it learns)."""
    home = layout.workdir / host / "sentinel"
    primary = layout.host(REDIS_HOSTS[0])
    return (
        f"port {SENTINEL_PORT}\nbind {layout.host(host)} 127.0.0.1\nprotected-mode no\n"
        f'daemonize no\ndir "{home}"\nlogfile "{home / "sentinel.log"}"\n'
        f"sentinel monitor {SERVICE} {primary} {REDIS_PORT} {QUORUM}\n"
        f"sentinel down-after-milliseconds {SERVICE} {DOWN_AFTER_MS}\n"
        f"sentinel failover-timeout {SERVICE} {FAILOVER_TIMEOUT_MS}\n"
        f"sentinel parallel-syncs {SERVICE} 1\n"
    )
