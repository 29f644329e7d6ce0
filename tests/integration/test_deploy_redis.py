"""The Kubernetes Redis start scripts (deploy/k8s/base/redis/start-*.sh), run for real.

Two redis-server processes and three sentinels on loopback ports of their own, started by
the very scripts the StatefulSets run, with the configs they mount; only names and ports
are replaced by environment variables (the scripts' defaults are the pods' DNS names).
Checked: on a first start redis-0 is primary and redis-1 its replica; after the primary is
SIGKILLed the sentinels promote the replica; the old primary, started again by its
script, asks the sentinels and comes back as a replica of the new primary, and a
restarted sentinel monitors the new primary, not redis-0.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from tests.support.processes import free_port

SCRIPTS = Path(__file__).resolve().parents[2] / "deploy" / "k8s" / "base" / "redis"
HOST = "127.0.0.1"
WAIT_S = 30.0


def _wait(what: str, check: Callable[[], bool], timeout: float = WAIT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except redis.RedisError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout} s: {what}")


class Cluster:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.redis_ports = [free_port(), free_port()]
        self.sentinel_ports = [free_port(), free_port(), free_port()]
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.clients: dict[int, redis.Redis] = {}
        # The redis image has redis-sentinel; Debian's redis-server alone runs as one too.
        shim = root / "bin" / "redis-sentinel"
        shim.parent.mkdir()
        shim.write_text('#!/bin/sh\nexec redis-server "$1" --sentinel\n')
        shim.chmod(0o755)
        self.env = {
            **os.environ,
            "PATH": f"{shim.parent}:{os.environ['PATH']}",
            "CONFIG_DIR": str(SCRIPTS),
            "ANNOUNCE_HOST": HOST,
            "FIRST_PRIMARY": f"{HOST}:{self.redis_ports[0]}",
            "SENTINELS": " ".join(f"{HOST}:{p}" for p in self.sentinel_ports),
        }

    def _start(self, name: str, script: str, extra: dict[str, str]) -> None:
        data = self.root / name
        data.mkdir(exist_ok=True)
        with (self.root / f"{name}.log").open("ab") as log:
            self.procs[name] = subprocess.Popen(  # noqa: S603 (our own script)
                ["/bin/sh", str(SCRIPTS / script)],
                env={**self.env, "DATA_DIR": str(data), **extra},
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def _answers(self, name: str, port: int) -> bool:
        if self.procs[name].poll() is not None:
            log = (self.root / f"{name}.log").read_text(errors="replace")
            raise AssertionError(f"{name} exited:\n{log[-2000:]}")
        return bool(self.client(port).ping())

    def start_redis(self, i: int) -> None:
        self._start(f"redis-{i}", "start-redis.sh", {"REDIS_PORT": str(self.redis_ports[i])})
        _wait(f"redis-{i} answers", lambda: self._answers(f"redis-{i}", self.redis_ports[i]))

    def start_sentinel(self, i: int) -> None:
        port = self.sentinel_ports[i]
        self._start(f"sentinel-{i}", "start-sentinel.sh", {"SENTINEL_PORT": str(port)})
        _wait(f"sentinel-{i} answers", lambda: self._answers(f"sentinel-{i}", port))

    def stop(self, name: str, sig: int = signal.SIGTERM) -> None:
        proc = self.procs.pop(name)
        if proc.poll() is None:
            proc.send_signal(sig)
        proc.wait(timeout=10)

    def client(self, port: int) -> redis.Redis:
        if port not in self.clients:
            self.clients[port] = redis.Redis(
                host=HOST, port=port, socket_timeout=1, decode_responses=True
            )
        return self.clients[port]

    def close(self) -> None:
        for name in list(self.procs):
            self.stop(name, signal.SIGKILL)
        for client in self.clients.values():
            client.close()

    def role(self, i: int) -> tuple[str, int | None]:
        info = self.client(self.redis_ports[i]).info("replication")
        return info["role"], info.get("master_port")

    def primary_port(self, sentinel: int) -> int:
        answer = self.client(self.sentinel_ports[sentinel]).sentinel_get_master_addr_by_name(
            "switchboard"
        )
        assert isinstance(answer, tuple)
        return int(answer[1])

    def sentinel_view(self, sentinel: int) -> tuple[int, int]:
        """(other sentinels, replicas) that this sentinel knows of for the primary."""
        state = self.client(self.sentinel_ports[sentinel]).sentinel_master("switchboard")
        assert isinstance(state, dict)
        return int(state["num-other-sentinels"]), int(state["num-slaves"])


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    if shutil.which("redis-server") is None:  # make test installs it (DEBIAN_TEST)
        raise RuntimeError("redis-server is not installed")
    c = Cluster(tmp_path)
    try:
        yield c
    finally:
        c.close()


def test_start_scripts_follow_sentinel_through_a_failover_and_restarts(cluster: Cluster) -> None:
    r0, r1 = cluster.redis_ports
    cluster.start_redis(0)
    cluster.start_redis(1)
    assert cluster.role(0) == ("master", None)
    _wait("redis-1 replicates redis-0", lambda: cluster.role(1) == ("slave", r0))
    for i in range(3):
        cluster.start_sentinel(i)
    assert {cluster.primary_port(i) for i in range(3)} == {r0}
    # Each sentinel has found the other two and the replica before the primary dies.
    _wait("sentinels see each other and the replica", lambda: cluster.sentinel_view(0) == (2, 1))

    cluster.stop("redis-0", signal.SIGKILL)
    _wait(
        "the sentinels promote redis-1",
        lambda: (
            {cluster.primary_port(i) for i in range(3)} == {r1} and cluster.role(1)[0] == "master"
        ),
    )

    # The pod restarted: it must not claim the primary role back, not even for a moment
    # (Sentinel would demote it after a while, but writes could land on it meanwhile).
    cluster.start_redis(0)
    assert cluster.role(0)[0] == "slave"
    _wait("redis-0 replicates redis-1", lambda: cluster.role(0) == ("slave", r1))

    cluster.stop("sentinel-2")
    cluster.start_sentinel(2)
    assert cluster.primary_port(2) == r1
