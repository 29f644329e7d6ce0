"""The [overload] section: defaults, the policy it builds, env overrides, and errors that
name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from failover.settings import dump_example
from kernel.overload import Stage
from tests.support.settings import assert_problem, load, problems

CENTER = '[[callcenters]]\nname = "a"\nurl = "http://127.0.0.1:9001"\n'


def test_shedding_is_measured_by_default_and_enters_static_at_the_slo_p99(
    tmp_path: Path,
) -> None:
    overload = load(tmp_path, CENTER).overload
    assert (overload.enabled, overload.force_stage) == (True, None)
    policy = overload.policy()
    assert policy.threshold(Stage.STATIC).enter_lag == 0.25  # loadtests/slo.toml p99_ms
    assert policy.threshold(Stage.SHED_BACKGROUND).exit_lag == pytest.approx(0.02)
    assert (policy.capacity, policy.up_after, policy.cool_down) == (200, 0.5, 5.0)
    assert policy.forced is None


def test_a_stage_can_be_forced_from_the_file_or_the_environment(tmp_path: Path) -> None:
    forced = load(tmp_path, CENTER + '[overload]\nforce_stage = "static"\n').overload
    assert forced.policy().forced is Stage.STATIC
    env = {"SWITCHBOARD_OVERLOAD__FORCE_STAGE": "memory_only"}
    assert load(tmp_path, CENTER, env=env).overload.force_stage is Stage.MEMORY_ONLY


@pytest.mark.parametrize(
    ("line", "key", "reason"),
    [
        ('force_stage = "panic"', "overload.force_stage", "normal"),
        ("lag_ms = [100, 50, 250]", "overload.lag_ms", "must not decrease"),
        ("lag_ms = [50, 100]", "overload.lag_ms[2]", "missing"),
        ("load = [0.5, 0.4, 1.0]", "overload.load", "must not decrease"),
        ("exit_ratio = 1.0", "overload.exit_ratio", "less than 1"),
        ("capacity = 0", "overload.capacity", "at least 1"),
        ("sample_interval_ms = 0", "overload.sample_interval_ms", "greater than 0"),
        ("cool_down_ms = -1", "overload.cool_down_ms", "must be at least 0"),
    ],
)
def test_bad_overload_settings_name_the_key(
    tmp_path: Path, line: str, key: str, reason: str
) -> None:
    assert_problem(problems(tmp_path, CENTER + f"[overload]\n{line}\n"), tmp_path, key, reason)


def test_the_example_lists_every_overload_key() -> None:
    section = dump_example().split("[overload]", 1)[1].split("\n[", 1)[0]
    for key in ("enabled", "capacity", "lag_ms", "load", "exit_ratio", "up_after_ms",
                "cool_down_ms", "flush_every_ms", "prerender_top", "static_top"):  # fmt: skip
        assert f"\n{key} = " in section, key
    assert '# force_stage = "memory_only"' in section
