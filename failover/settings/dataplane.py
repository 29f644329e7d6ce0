"""The `[dataplane]` section: who carries customer traffic to the call centers (issue 18).

`mode = "aiohttp"` (the default): the front door proxies `/support` itself.
`mode = "haproxy"`: Debian's HAProxy listens for customers and carries `/support` to the
call center Switchboard chose; Switchboard answers HAProxy's agent checks on loopback,
reads its counters back over the stats socket, and serves everything else. The config
HAProxy runs is rendered from these settings (`switchboard haproxy-config`); docs in
docs/dataplane.md.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StrictInt, StrictStr

from failover.settings.validators import Millis, _Section

Port = Annotated[StrictInt, Field(ge=1, le=65535)]


class DataPlaneSettings(_Section):
    mode: Literal["aiohttp", "haproxy"] = Field(
        default="aiohttp",
        description='"aiohttp": the front door proxies /support itself; "haproxy": HAProxy '
        "carries /support traffic to the call center Switchboard chose (docs/dataplane.md)",
    )
    listen_host: StrictStr = Field(
        default="0.0.0.0",  # noqa: S104 - HAProxy's customer port is meant to be reached
        min_length=1,
        description="haproxy mode: address HAProxy listens on for customers",
    )
    listen_port: Port = Field(default=80, description="haproxy mode: HAProxy's customer port")
    agent_host: StrictStr = Field(
        default="127.0.0.1",
        min_length=1,
        description="haproxy mode: address of Switchboard's agent-check responder (keep it "
        "on loopback or a private network: it tells HAProxy where customers go)",
    )
    agent_port: Port = Field(
        default=9777, description="haproxy mode: port of Switchboard's agent-check responder"
    )
    agent_inter_ms: Millis = Field(
        default=100,
        description="haproxy mode: how often HAProxy asks the agent about each call center; "
        "a routing change reaches HAProxy within about this",
    )
    stats_socket: StrictStr = Field(
        default="/run/haproxy/switchboard.sock",
        min_length=1,
        description="haproxy mode: HAProxy's stats socket (Runtime API), read back by "
        "Switchboard for passive failure detection",
    )
    stats_poll_ms: Millis = Field(
        default=200,
        description="haproxy mode: how often Switchboard reads HAProxy's per-server counters",
    )
