"""The process harness (sims/harness/) every stack starts its children with, and the
report tables (loadtests/tables.py): the parts a broken change would not show elsewhere."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from failover.settings import load_settings
from loadtests.tables import table
from sims.harness import frontdoor
from sims.harness.ports import (
    FORBIDDEN_PORTS,
    StartError,
    fetch,
    free_port,
    port_is_free,
    post,
    wait_port,
)
from sims.harness.procs import Processes

PARENT = """
import sys, time
from sims.harness.procs import spawn
child = spawn([sys.executable, "-c", "import time; time.sleep(60)"])
print(child.pid, flush=True)
time.sleep(60)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_child_dies_with_the_process_that_started_it_even_on_sigkill() -> None:
    root = Path(frontdoor.__file__).parents[2]
    argv = [sys.executable, "-c", PARENT]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, cwd=root) as parent:  # noqa: S603
        try:
            assert parent.stdout is not None
            child = int(parent.stdout.readline())
            assert _alive(child)
            parent.kill()  # no clean-up runs: only the kernel's parent-death signal is left
            parent.wait(10)
            deadline = time.monotonic() + 10
            while _alive(child) and time.monotonic() < deadline:
                time.sleep(0.05)
            assert not _alive(child)
        finally:
            parent.kill()


def test_processes_stop_every_child_on_leaving_and_name_the_dead(tmp_path: Path) -> None:
    with Processes(tmp_path) as procs:
        sleeper = procs.spawn([sys.executable, "-c", "import time; time.sleep(60)"], name="s")
        quitter = procs.spawn([sys.executable, "-c", "print('bye')"], name="q")
        quitter.wait(10)
        assert procs.dead() == ["q"]
    assert sleeper.poll() is not None
    assert (tmp_path / "q.log").read_text() == "bye\n"


def test_free_ports_are_free_and_never_the_machines_redis() -> None:
    ports = {free_port() for _ in range(50)}
    assert not ports & FORBIDDEN_PORTS
    assert all(port_is_free(p) for p in ports)


def test_a_port_is_handed_out_once_though_nothing_has_bound_it_yet() -> None:
    # 400 random picks from ~12,000 ports would repeat one with a chance of about 0.998.
    picks = [free_port() for _ in range(400)]
    assert len(set(picks)) == len(picks)


def test_waiting_for_a_port_nothing_listens_on_is_bounded() -> None:
    began = time.monotonic()
    with pytest.raises(StartError, match="did not listen"):
        wait_port(free_port(), what="nothing", seconds=0.3)
    assert time.monotonic() - began < 5


def test_a_config_from_parts_is_one_the_front_door_accepts(tmp_path: Path) -> None:
    path = tmp_path / "switchboard.toml"
    path.write_text(frontdoor.config(
        port=8081, ops_port=9181, redis_port=6400, community_port=8090, data_dir=tmp_path,
        centers=[("primary", 8001), ("backup", 8002)], trusted_proxy=True,
        extra="[routing]\nhold_down_ms = 3000",
    ))  # fmt: skip
    settings = load_settings(path, env={})
    assert (settings.server.port, settings.ops.port) == (8081, 9181)
    assert [(c.name, c.priority) for c in settings.callcenters] == [("primary", 1), ("backup", 2)]
    assert settings.routing.hold_down_ms == 3000
    assert settings.selfhelp.snapshot_path == str(tmp_path / "selfhelp.snapshot")
    assert [str(n) for n in settings.server.trusted_proxies] == ["127.0.0.1/32"]


def test_a_bench_config_takes_urls_extra_keys_and_no_snapshot(tmp_path: Path) -> None:
    path = tmp_path / "switchboard.toml"
    path.write_text(frontdoor.config(
        port=8081, ops_port=9181, redis_port=6400, community_port="http://127.0.0.1:8090",
        data_dir=tmp_path,
        snapshot=False, centers=[("cc", "http://127.0.0.1:8001")],
        settings={"server": {"workers": 2}, "selfhelp": {"max_age_s": 5},
                  "health": {"interval_ms": 600_000}},
    ))  # fmt: skip
    settings = load_settings(path, env={})
    assert (settings.server.workers, settings.health.interval_ms) == (2, 600_000)
    assert (settings.selfhelp.origin, settings.selfhelp.max_age_s) == ("http://127.0.0.1:8090", 5)
    assert settings.selfhelp.snapshot_path is None
    assert [c.url for c in settings.callcenters] == ["http://127.0.0.1:8001"]


def test_a_simulator_starts_on_its_ports_and_takes_its_switch(tmp_path: Path) -> None:
    with Processes(tmp_path) as procs:
        sim = frontdoor.start_sim(procs, "callcenter", "--name", "solo", name="solo",
                                  ready="/health")  # fmt: skip
        assert fetch(f"{sim.url}/health")[0] == 200
        post(f"{sim.control}/_sim/mode", {"mode": "error", "status": 503})
        status, _, _ = fetch(f"{sim.url}/support/router")
        assert status == 503
        with pytest.raises(OSError, match="404"):
            post(f"{sim.control}/_sim/nothing-here", {})
        assert procs.dead() == []
    assert not procs.children


def test_a_simulator_whose_port_was_taken_starts_again_on_another(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The race CI met once: a port free when picked, taken before the child binds it."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        picks = iter([taken.getsockname()[1]])
        monkeypatch.setattr(frontdoor, "free_port", lambda: next(picks, None) or free_port())
        with Processes(tmp_path) as procs:
            sim = frontdoor.start_sim(procs, "callcenter", "--name", "solo", name="solo",
                                      ready="/health")  # fmt: skip
            assert sim.port != taken.getsockname()[1]
            assert fetch(f"{sim.url}/health")[0] == 200
            assert list(procs.children) == [sim.pid]  # the one that died is not kept


def test_a_simulator_that_cannot_start_says_why(tmp_path: Path) -> None:
    with Processes(tmp_path) as procs, pytest.raises(StartError) as caught:
        frontdoor.start_sim(procs, "callcenter", name="broken", ready="/health")  # no --name
    assert "exited (code 2)" in str(caught.value)
    assert "required: --name" in str(caught.value)  # argparse's complaint, from its log
    assert (tmp_path / "broken.log").read_text().count("usage:") == frontdoor.START_TRIES


def test_tables_align_numbers_right_and_names_left() -> None:
    assert table(["name", "n", "p99"], [("a", 1, "2.0")], align="lr") == [
        "| name | n | p99 |",
        "|---|---:|---:|",
        "| a | 1 | 2.0 |",
    ]
    assert table(["a", "b", "c"], [], align="lrl")[1] == "|---|---:|---|"
    assert os.sep == "/"  # the harness is Linux only (prctl, /proc)
