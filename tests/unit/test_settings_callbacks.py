"""The [callbacks] section: defaults, env overrides, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from failover.callbacks.wiring import data_dir, replicas_to_ack, spool_path
from failover.settings import dump_example
from failover.settings.callbacks import delivery_worst_ms
from tests.support.settings import assert_problem, load, problems

CENTER = '[[callcenters]]\nname = "a"\nurl = "http://127.0.0.1:9001"\n'


def test_callbacks_are_on_by_default_with_a_safe_pace(tmp_path: Path) -> None:
    cb = load(tmp_path, CENTER).callbacks
    assert (cb.enabled, cb.rate_per_s, cb.max_attempts, cb.phone_region) == (True, 20.0, 5, "US")
    assert cb.reclaim_idle_ms >= 2 * delivery_worst_ms(cb.delivery_timeout_ms, cb.rate_per_s)


def test_the_spool_lives_in_the_data_dir_never_beside_a_read_only_config(tmp_path: Path) -> None:
    # In Kubernetes the config file is a read-only ConfigMap mount: the spool's default
    # must not be beside it (issue 15).
    default = load(tmp_path, CENTER)
    assert default.server.data_dir == "/var/lib/switchboard"
    assert spool_path(default) == Path("/var/lib/switchboard/callbacks.spool")
    settings = load(tmp_path, CENTER + '[callbacks]\nspool_path = "state/cb.spool"\n')
    assert spool_path(settings) == Path("/var/lib/switchboard/state/cb.spool")
    moved = load(tmp_path, '[server]\ndata_dir = "/data"\n' + CENTER, env={})
    assert spool_path(moved) == Path("/data/callbacks.spool")
    from_env = load(tmp_path, CENTER, env={"SWITCHBOARD_SERVER__DATA_DIR": "/srv/sb"})
    assert spool_path(from_env) == Path("/srv/sb/callbacks.spool")
    relative = load(tmp_path, '[server]\ndata_dir = "state"\n' + CENTER)
    assert data_dir(relative) == tmp_path / "state"
    absolute = load(tmp_path, CENTER + '[callbacks]\nspool_path = "/var/lib/sb/cb.spool"\n')
    assert spool_path(absolute) == Path("/var/lib/sb/cb.spool")


def test_callbacks_wait_for_one_replica_behind_sentinel_and_none_otherwise(
    tmp_path: Path,
) -> None:
    sentinel = '[redis]\nurl = "redis+sentinel://h1:26379,h2:26379/mymaster/0"\n'
    plain = '[redis]\nurl = "redis://127.0.0.1:7000/0"\n'
    assert replicas_to_ack(load(tmp_path, sentinel + CENTER)) == 1
    assert replicas_to_ack(load(tmp_path, plain + CENTER)) == 0
    assert (
        replicas_to_ack(load(tmp_path, plain + CENTER + "[callbacks]\nreplicas_to_ack = 2\n")) == 2
    )
    none = load(tmp_path, sentinel + CENTER + "[callbacks]\nreplicas_to_ack = 0\n")
    assert replicas_to_ack(none) == 0


@pytest.mark.parametrize(
    ("lines", "least"),
    [
        # 3 x delivery_timeout_ms was the old floor: it left out the waits between the
        # tries, its turn at the rate, and the quarter of reclaim_idle a round may take
        # before it starts on its last entry (dispatcher.py).
        ("delivery_timeout_ms = 2000\nreclaim_idle_ms = 6000", 12400),
        ("delivery_timeout_ms = 1000\nreclaim_idle_ms = 3000\nrate_per_s = 2000.0", 6301),
        ("rate_per_s = 0.1", 32300),  # one delivery each 10 s: 30 s is too short
    ],
)
def test_reclaiming_sooner_than_twice_a_delivery_can_take_is_refused(
    tmp_path: Path, lines: str, least: int
) -> None:
    """Another front door would take over an entry a live one is still delivering, and
    the call center would get it twice."""
    message = problems(tmp_path, CENTER + f"[callbacks]\n{lines}\n")
    floor = f">= 2 x (1000 / rate_per_s + 3 x delivery_timeout_ms + 150) ({least})"
    assert_problem(message, tmp_path, "callbacks.reclaim_idle_ms", floor)
    assert "posted twice" in message


def test_reclaiming_after_twice_a_delivery_is_accepted(tmp_path: Path) -> None:
    text = CENTER + "[callbacks]\ndelivery_timeout_ms = 1000\nreclaim_idle_ms = 7000\n"
    assert load(tmp_path, text).callbacks.reclaim_idle_ms == 7000


@pytest.mark.parametrize(
    ("line", "key", "reason"),
    [
        ('phone_region = "XX"', "callbacks.phone_region", "unknown region"),
        ("rate_per_s = 0", "callbacks.rate_per_s", "greater than 0"),
        ("max_attempts = 0", "callbacks.max_attempts", "must be at least 1"),
        ('form_secret = "short"', "callbacks.form_secret", "at least 16"),
        ('spool_path = ""', "callbacks.spool_path", "at least 1"),
        ("replicas_to_ack = -1", "callbacks.replicas_to_ack", "at least 0"),
        ("replica_ack_timeout_ms = 0", "callbacks.replica_ack_timeout_ms", "greater than 0"),
    ],
)
def test_bad_callback_settings_name_the_key(
    tmp_path: Path, line: str, key: str, reason: str
) -> None:
    assert_problem(problems(tmp_path, CENTER + f"[callbacks]\n{line}\n"), tmp_path, key, reason)


def test_the_form_secret_comes_from_the_environment_and_is_not_shown(tmp_path: Path) -> None:
    secret = "s3cret-s3cret-s3cret"
    settings = load(tmp_path, CENTER, env={"SWITCHBOARD_CALLBACKS__FORM_SECRET": secret})
    assert settings.callbacks.form_secret == secret
    assert secret not in repr(settings)


def test_the_example_lists_every_callback_key_but_no_secret() -> None:
    example = dump_example()
    section = example.split("[callbacks]", 1)[1].split("\n[", 1)[0]
    for key in ("enabled", "spool_path", "rate_per_s", "burst", "max_attempts",
                "delivery_timeout_ms", "reclaim_idle_ms", "consumer", "phone_region",
                "form_max_age_s", "replica_ack_timeout_ms"):  # fmt: skip
        assert f"{key} = " in section, key
    assert "form_secret =" not in section
    assert "SWITCHBOARD_CALLBACKS__FORM_SECRET" in section
