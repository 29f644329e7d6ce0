"""A front door's TOML from parts, the front door as a process, and the world it needs
(redis-server, two call-center simulators, the community simulator): what the demo, the
spike test and the soak start, every part its own process on loopback.

`config(...)` writes only addresses, the files it writes and the trusted proxy; every
other setting stays at its default unless a caller passes whole tables in `extra`.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from sims.harness.ports import START_S, ExitedError, StartError, free_port, wait_http
from sims.harness.procs import Processes
from sims.harness.redis import start_redis

CALL_CENTERS: Final = ("primary", "backup")


def _url(where: int | str) -> str:
    return where if isinstance(where, str) else f"http://127.0.0.1:{where}"


def callcenter_tables(centers: Iterable[tuple[str, int | str]]) -> list[str]:
    """`[[callcenters]]` lines, by priority in order: each a loopback port or a URL."""
    lines: list[str] = []
    for priority, (name, where) in enumerate(centers, start=1):
        lines += ["[[callcenters]]", f'name = "{name}"', f'url = "{_url(where)}"',
                  f"priority = {priority}"]  # fmt: skip
    return lines


def config(
    *, port: int, ops_port: int, redis_port: int | None = None,
    community_port: int | str | None = None, centers: Iterable[tuple[str, int | str]] = (),
    data_dir: Path | None = None, snapshot: bool = True, trusted_proxy: bool = False,
    settings: Mapping[str, Mapping[str, object]] | None = None, extra: str = "",
) -> str:  # fmt: skip
    """A front door's TOML: `[server]` on loopback `port`, `[ops]` on `ops_port`, Redis,
    the community origin (a port or URL; with its snapshot in `data_dir` if `snapshot`)
    and the call centers when given; `settings` adds keys to tables by name, `extra`
    (whole tables) goes before the call centers."""
    tables: dict[str, dict[str, object]] = {"server": {"host": "127.0.0.1", "port": port}}
    if data_dir is not None:
        tables["server"]["data_dir"] = str(data_dir)
    if trusted_proxy:
        # The load generator plays the load balancer: each customer sends its own
        # X-Forwarded-For, so per-client limits apply per customer (issue 14).
        tables["server"]["trusted_proxies"] = ["127.0.0.1/32"]
    tables["ops"] = {"host": "127.0.0.1", "port": ops_port}
    if redis_port is not None:
        tables["redis"] = {"url": f"redis://127.0.0.1:{redis_port}/0"}
    if community_port is not None:
        tables["selfhelp"] = {"origin": _url(community_port)}
        if data_dir is not None and snapshot:
            tables["selfhelp"]["snapshot_path"] = str(data_dir / "selfhelp.snapshot")
    for name, keys in (settings or {}).items():
        tables.setdefault(name, {}).update(keys)
    lines: list[str] = []
    for name, keys in tables.items():  # JSON's strings, numbers and lists are TOML's too
        lines += [f"[{name}]", *(f"{key} = {json.dumps(value)}" for key, value in keys.items())]
    return "\n".join([*lines, extra, *callcenter_tables(centers)]) + "\n"


@dataclass(frozen=True, slots=True)
class Sim:
    """A simulator started by `start_sim`: its process, where it serves, where it is
    switched (`<control>/_sim/mode`)."""

    pid: int
    port: int
    control_port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def control(self) -> str:
        return f"http://127.0.0.1:{self.control_port}"


START_TRIES: Final = 3  # a child whose port was taken meanwhile starts again elsewhere


def _answering(
    procs: Processes, start: Callable[[], tuple[subprocess.Popen[bytes], str]], what: str,
    *, tries: int = START_TRIES,
) -> subprocess.Popen[bytes]:  # fmt: skip
    """`start()` spawns a child on fresh ports and says which URL it must answer; waited
    for. A free port can be taken between `free_port` and the child's bind: a child that
    exits before it answers is started again, `tries` times in all. A start-up error
    carries the child's log's last lines."""
    for attempt in range(1, tries + 1):
        proc, url = start()
        try:
            wait_http(url, what=what, child=proc)
        except StartError as exc:
            if not isinstance(exc, ExitedError) or attempt == tries:
                raise StartError(f"{exc}; its log ends:\n{procs.tail(proc.pid)}") from exc
            procs.stop(proc.pid, grace=1)  # exited: its session and entry go
            continue
        return proc
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises


def start_sim(
    procs: Processes, module: str, *args: str, name: str, core: int | None = None,
    log: Path | None = None, ready: str | None = None,
) -> Sim:  # fmt: skip
    """`python -m sims.<module>` (callcenter, community) on two free ports, with `args`;
    waits until `ready` (a path on its service port) answers, started again on other
    ports if it exits first (`_answering`), unless None (the caller waits)."""
    sim: Sim | None = None

    def start() -> tuple[subprocess.Popen[bytes], str]:
        nonlocal sim
        port, control = free_port(), free_port()
        argv = [sys.executable, "-m", f"sims.{module}", *args, "--port", str(port),
                "--control-port", str(control)]  # fmt: skip
        proc = procs.spawn(argv, name=name, core=core, log=log)
        sim = Sim(proc.pid, port, control)
        return proc, f"{sim.url}{ready}"

    if ready is None:
        start()
    else:
        _answering(procs, start, name)
    assert sim is not None
    return sim


def door_argv(config_path: Path) -> list[str]:
    """The front door as its own process, serving `config_path`, logging text lines."""
    return [sys.executable, "-m", "failover", "serve", "--config", str(config_path),
            "--log-format", "text"]  # fmt: skip


@dataclass(frozen=True, slots=True, kw_only=True)
class World:
    """Where everything answers, once `world` has started it."""

    base_url: str  # the front door
    ops_url: str  # its ops listener: /metrics, /status, /admin
    door_pid: int
    centers: dict[str, int]  # call center name -> its simulator's port
    controls: dict[str, str]  # call center name -> its simulator's control URL
    community_control: str
    redis_port: int
    config: Path
    processes: Processes

    def dead(self) -> list[str]:
        """The parts that exited while they should be running."""
        return self.processes.dead()

    @property
    def metrics_url(self) -> str:
        return f"{self.ops_url}/metrics"


@contextmanager
def world(
    workdir: Path, logs: Path, *, door_core: int | None = None, side_core: int | None = None,
    port: int | None = None, ops_port: int | None = None, redis_conf: Path | None = None,
    redis_options: Mapping[str, str] | None = None, extra: str = "",
    trusted_proxy: bool = False, bulletins: int = 0, door_env: Mapping[str, str] | None = None,
) -> Iterator[World]:  # fmt: skip
    """Start redis-server, both call-center simulators, the community simulator, and
    the front door (on `port`, or a free one); wait until it is ready (and lists
    `bulletins` bulletins); yield where it answers; stop every child on the way out.
    `door_env`: the front door's environment (default: ours without SWITCHBOARD_*)."""
    logs.mkdir(parents=True, exist_ok=True)
    with Processes(logs) as procs:
        redis = start_redis(procs, workdir, conf=redis_conf, options=redis_options,
                            core=side_core)  # fmt: skip
        sims = {name: start_sim(procs, "callcenter", "--name", name, core=side_core,
                                name=f"callcenter-{name}", ready="/health")
                for name in CALL_CENTERS}  # fmt: skip
        community = start_sim(procs, "community", name="community", core=side_core,
                              ready="/latest.json")  # fmt: skip
        centers = {name: sim.port for name, sim in sims.items()}
        path = workdir / "switchboard.toml"
        door_port = door_ops = 0

        def start_door() -> tuple[subprocess.Popen[bytes], str]:
            nonlocal door_port, door_ops
            door_port = free_port() if port is None else port
            door_ops = free_port() if ops_port is None else ops_port
            path.write_text(config(
                port=door_port, ops_port=door_ops, redis_port=redis.port,
                community_port=community.port, centers=centers.items(), data_dir=workdir,
                trusted_proxy=trusted_proxy, extra=extra))  # fmt: skip
            door = procs.spawn(door_argv(path), name="frontdoor", core=door_core, env=door_env)
            return door, f"http://127.0.0.1:{door_port}/readyz"

        given = port is not None and ops_port is not None  # nothing to pick again
        door = _answering(procs, start_door, "front door", tries=1 if given else START_TRIES)
        base = f"http://127.0.0.1:{door_port}"
        if bulletins:
            wait_bulletins(base, want=bulletins)
        yield World(base_url=base, ops_url=f"http://127.0.0.1:{door_ops}", door_pid=door.pid,
                    centers=centers, controls={n: s.control for n, s in sims.items()},
                    community_control=community.control,
                    redis_port=redis.port, config=path, processes=procs)  # fmt: skip


def wait_bulletins(base: str, *, want: int = 100, seconds: float = START_S) -> None:
    """Until the self-help layer lists `want` bulletins (its start-up fill is done)."""
    deadline = time.monotonic() + seconds
    while True:
        body = wait_http(f"{base}/api/v1/bulletins?limit={want}", what="self-help API")
        if len(json.loads(body)["bulletins"]) >= want:
            return
        if time.monotonic() > deadline:
            raise StartError(f"the front door listed fewer than {want} bulletins after {seconds} s")
        time.sleep(0.2)
