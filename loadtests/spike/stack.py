"""The stack of the spike test and the soak: the harness's `world` (sims/harness/), every
part its own process on loopback, with their choices: redis-server with the documented
callback durability config (`deploy/redis-callbacks.conf`, no RDB snapshots), the front
door with its default configuration trusting 127.0.0.1 as its proxy (locust plays the
load balancer), started once it lists 100 bulletins. The front door alone on `door_core`;
Redis and the simulators with the load generator on `side_core` (docs/architecture.md
"Measuring"). `extra_config`: whole TOML tables, e.g. [overload] for the soak."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeAlias

from sims.harness.frontdoor import World, world
from sims.harness.ports import StartError
from sims.harness.procs import ROOT, clean_env, cores, die_with_parent

Stack: TypeAlias = World
StackError = StartError
__all__ = ["ROOT", "Stack", "StackError", "clean_env", "cores", "die_with_parent", "stack"]


@contextmanager
def stack(
    workdir: Path, logs: Path, *, door_core: int | None, side_core: int | None,
    extra_config: str = "",
) -> Iterator[World]:  # fmt: skip
    with world(
        workdir, logs, door_core=door_core, side_core=side_core, trusted_proxy=True,
        redis_conf=ROOT / "deploy" / "redis-callbacks.conf", redis_options={"save": ""},
        extra=extra_config, bulletins=100,
    ) as running:  # fmt: skip
        yield running
