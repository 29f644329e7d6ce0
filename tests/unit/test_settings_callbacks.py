"""The [callbacks] section: defaults, env overrides, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from failover.callbacks.wiring import spool_path
from failover.settings import dump_example
from tests.unit.test_settings import assert_problem, load, problems

CENTER = '[[callcenters]]\nname = "a"\nurl = "http://127.0.0.1:9001"\n'


def test_callbacks_are_on_by_default_with_a_safe_pace(tmp_path: Path) -> None:
    cb = load(tmp_path, CENTER).callbacks
    assert (cb.enabled, cb.rate_per_s, cb.max_attempts, cb.phone_region) == (True, 20.0, 5, "US")
    assert cb.reclaim_idle_ms >= 3 * cb.delivery_timeout_ms


def test_a_relative_spool_path_is_read_from_the_config_files_folder(tmp_path: Path) -> None:
    settings = load(tmp_path, CENTER + '[callbacks]\nspool_path = "state/cb.spool"\n')
    assert spool_path(settings) == tmp_path / "state" / "cb.spool"
    absolute = load(tmp_path, CENTER + '[callbacks]\nspool_path = "/var/lib/sb/cb.spool"\n')
    assert spool_path(absolute) == Path("/var/lib/sb/cb.spool")


def test_reclaiming_sooner_than_a_delivery_can_take_is_refused(tmp_path: Path) -> None:
    text = CENTER + "[callbacks]\ndelivery_timeout_ms = 2000\nreclaim_idle_ms = 5000\n"
    assert_problem(problems(tmp_path, text), tmp_path, "callbacks.reclaim_idle_ms", ">= 3 x")


@pytest.mark.parametrize(
    ("line", "key", "reason"),
    [
        ('phone_region = "XX"', "callbacks.phone_region", "unknown region"),
        ("rate_per_s = 0", "callbacks.rate_per_s", "greater than 0"),
        ("max_attempts = 0", "callbacks.max_attempts", "must be at least 1"),
        ('form_secret = "short"', "callbacks.form_secret", "at least 16"),
        ('spool_path = ""', "callbacks.spool_path", "at least 1"),
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
                "form_max_age_s"):  # fmt: skip
        assert f"{key} = " in section, key
    assert "form_secret =" not in section
    assert "SWITCHBOARD_CALLBACKS__FORM_SECRET" in section
