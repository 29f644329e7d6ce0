"""The [sharing] section (issue 15): defaults, the replica id, env overrides, and errors
that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from failover.settings import dump_example
from failover.shared_wiring import replica_id
from failover.workers import WorkerInfo
from tests.support.settings import assert_problem, load, problems

CENTER = '[[callcenters]]\nname = "a"\nurl = "http://127.0.0.1:9001"\n'


def test_sharing_is_on_by_default_with_a_heartbeat_each_second(tmp_path: Path) -> None:
    sharing = load(tmp_path, CENTER).sharing
    assert (sharing.enabled, sharing.replica_id) == (True, None)
    assert (sharing.refresh, sharing.peer_ttl) == (1.0, 3.0)


def test_it_can_be_turned_off_from_the_environment(tmp_path: Path) -> None:
    env = {"SWITCHBOARD_SHARING__ENABLED": "false"}
    assert load(tmp_path, CENTER, env=env).sharing.enabled is False


def test_the_replica_id_is_the_configured_one_per_worker_else_host_and_pid(
    tmp_path: Path,
) -> None:
    named = load(tmp_path, CENTER + '[sharing]\nreplica_id = "door-a"\n')
    assert replica_id(named, None) == "door-a"
    worker = WorkerInfo(index=1, count=2, peers=tmp_path)
    assert replica_id(named, worker) == "door-a/w1"
    default = replica_id(load(tmp_path, CENTER), None)
    assert default.rsplit(":", 1)[1].isdigit()
    assert replica_id(load(tmp_path, CENTER), None, nth=2) == f"{default}#2"


@pytest.mark.parametrize(
    ("line", "key", "reason"),
    [
        ("peer_ttl_ms = 1500", "sharing.peer_ttl_ms", "must be >= 2 x refresh_ms (2000)"),
        ("refresh_ms = 0", "sharing.refresh_ms", "greater than 0"),
        ('replica_id = "a b"', "sharing.replica_id", "should match pattern"),
        ('replica_id = ""', "sharing.replica_id", "at least 1 character"),
        ('enabled = "yes"', "sharing.enabled", "boolean"),
    ],
)
def test_bad_sharing_settings_name_the_key(
    tmp_path: Path, line: str, key: str, reason: str
) -> None:
    assert_problem(problems(tmp_path, CENTER + f"[sharing]\n{line}\n"), tmp_path, key, reason)


def test_the_example_lists_every_sharing_key() -> None:
    section = dump_example().split("[sharing]", 1)[1].split("\n[", 1)[0]
    for key in ("enabled", "refresh_ms", "peer_ttl_ms"):
        assert f"\n{key} = " in section, key
    assert '# replica_id = "frontdoor-a"' in section
