"""The stack of the spike test and the soak: the harness's `world` (sims/harness/), every
part its own process on loopback, with their choices: redis-server with the documented
callback durability config (`deploy/redis-callbacks.conf`, no RDB snapshots), the front
door with its default configuration trusting 127.0.0.1 as its proxy (locust plays the
load balancer), started once it lists 100 bulletins. The front door alone on `door_core`;
Redis and the simulators with the load generator on `side_core` (docs/architecture.md
"Measuring"). `extra`: whole TOML tables, e.g. [overload] for the soak."""

from __future__ import annotations

from functools import partial

from sims.harness.frontdoor import world
from sims.harness.procs import ROOT

stack = partial(
    world, trusted_proxy=True, redis_conf=ROOT / "deploy" / "redis-callbacks.conf",
    redis_options={"save": ""}, bulletins=100,
)  # fmt: skip
