"""Config loading: a good TOML file gets its defaults and typed values, the example config
loads and round-trips, file-level errors (missing, not TOML, not UTF-8) say where, and the
models can be built in Python. Validation: test_settings_validation.py; SWITCHBOARD_* env:
test_settings_env.py; helpers: tests/support/settings.py."""

from __future__ import annotations

from datetime import UTC, datetime
from ipaddress import ip_network
from pathlib import Path

import pydantic
import pytest

from failover.schedule import WeeklyHours
from failover.settings import (
    AdminSettings,
    ConfigError,
    HealthSettings,
    OutlierSettings,
    ProxySettings,
    RedisSettings,
    RoutingSettings,
    SelfHelpSettings,
    SentinelTarget,
    ServerSettings,
    Settings,
    dump_example,
    load_settings,
)
from tests.support.settings import CENTER, REPO, TOKEN, assert_problem, load, problems, write

# --- happy paths -----------------------------------------------------------------------------


def test_minimal_file_with_one_call_center_gets_every_default(tmp_path: Path) -> None:
    settings = load(tmp_path, CENTER)
    assert settings.server == ServerSettings()
    assert settings.redis.url is None
    assert settings.health == HealthSettings()
    assert settings.outlier == OutlierSettings()
    assert settings.routing == RoutingSettings()
    assert settings.proxy == ProxySettings()
    assert settings.selfhelp == SelfHelpSettings()
    assert settings.admin.token is None
    (center,) = settings.callcenters
    assert (center.name, center.url, center.priority) == ("primary", "http://127.0.0.1:9001", 1)
    assert (center.health_path, center.callbacks_path) == ("/health", "/callbacks")
    assert center.schedule is None
    assert not center.emergency


def test_source_is_the_file_path(tmp_path: Path) -> None:
    path = write(tmp_path, CENTER)
    assert load_settings(path, env={}).source == str(path)
    assert load_settings(str(path), env={}).source == str(path)


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = load(tmp_path, CENTER)
    with pytest.raises(pydantic.ValidationError, match="frozen"):
        settings.health.interval_ms = 1
    assert hash(settings) == hash(load(tmp_path, CENTER))


def test_millisecond_fields_have_seconds_properties(tmp_path: Path) -> None:
    settings = load(tmp_path, "[health]\ninterval_ms = 1500\ntimeout_ms = 250\n" + CENTER)
    assert settings.health.interval == 1.5
    assert settings.health.timeout == 0.25
    assert settings.proxy.request_budget == 4.0
    assert settings.proxy.send_timeout == 60.0
    assert settings.outlier.base_ejection_time == 10.0
    assert settings.routing.hold_down == 5.0
    assert settings.server.shutdown_grace == 5.0


def test_float_field_accepts_a_toml_integer(tmp_path: Path) -> None:
    settings = load(tmp_path, "[health]\njitter = 0\nmax_queue_wait_seconds = 90\n" + CENTER)
    assert settings.health.jitter == 0.0
    assert settings.health.max_queue_wait_seconds == 90.0


def test_port_zero_means_any_free_port_and_is_allowed(tmp_path: Path) -> None:
    assert load(tmp_path, "[server]\nport = 0\n" + CENTER).server.port == 0


def test_trusted_proxies_parse_addresses_and_networks(tmp_path: Path) -> None:
    text = '[server]\ntrusted_proxies = ["10.0.0.0/8", "127.0.0.1", "::1", "fd00::/8"]\n'
    proxies = load(tmp_path, text + CENTER).server.trusted_proxies
    assert proxies == tuple(ip_network(n) for n in ("10.0.0.0/8", "127.0.0.1", "::1", "fd00::/8"))


def test_duplicate_priority_is_allowed_and_ties_keep_file_order(tmp_path: Path) -> None:
    text = "".join(
        f'[[callcenters]]\nname = "{name}"\nurl = "http://{name}.example"\npriority = {prio}\n'
        for name, prio in [("c", 2), ("a", 1), ("b", 2), ("d", 1)]
    )
    settings = load(tmp_path, text)
    assert [c.name for c in settings.callcenters_by_priority] == ["a", "d", "c", "b"]


def test_hours_with_timezone_build_a_schedule_once(tmp_path: Path) -> None:
    text = CENTER + 'timezone = "Asia/Manila"\nhours = ["sat 00:00-24:00"]\n'
    center = load(tmp_path, text).callcenters[0]
    assert isinstance(center.schedule, WeeklyHours)
    assert center.schedule is center.schedule
    assert center.schedule.is_open(datetime(2024, 6, 7, 20, 0, tzinfo=UTC))  # Sat in Manila


@pytest.mark.parametrize(
    "url",
    [
        "redis://127.0.0.1:6379/0",
        "rediss://:password@cache.example:6380",
        "unix:///run/redis/redis.sock?db=1",
        "redis+sentinel://h1:26379,h2:26379/mymaster/0",
        "redis+sentinel://[::1]:26379/mymaster",
    ],
)
def test_supported_redis_urls_are_accepted(tmp_path: Path, url: str) -> None:
    assert load(tmp_path, f'[redis]\nurl = "{url}"\n' + CENTER).redis.url == url


def test_sentinel_url_is_parsed_into_its_parts() -> None:
    redis = RedisSettings(url="redis+sentinel://:pw@h1:26379,h2:26380/mymaster/2")
    assert redis.sentinel == SentinelTarget(
        sentinels=(("h1", 26379), ("h2", 26380)),
        service="mymaster",
        db=2,
        password="pw",
    )
    assert "pw" not in repr(redis.sentinel)
    assert RedisSettings(url="redis://h:6379").sentinel is None


def test_example_config_loads_and_round_trips_to_the_defaults(tmp_path: Path) -> None:
    settings = load(tmp_path, dump_example())
    defaults = Settings(callcenters=settings.callcenters)
    assert settings.model_dump(exclude={"source"}) == defaults.model_dump(exclude={"source"})
    assert [(c.name, c.priority) for c in settings.callcenters] == [("primary", 1), ("backup", 2)]
    primary = settings.callcenters[0]
    assert primary.model_dump(include={"health_path", "callbacks_path", "emergency"}) == {
        "health_path": "/health",
        "callbacks_path": "/callbacks",
        "emergency": False,
    }


def test_example_mentions_every_key() -> None:
    example = dump_example()
    for model in (ServerSettings, RedisSettings, HealthSettings, OutlierSettings):
        for key in model.model_fields:
            assert f"{key} = " in example, key
    assert "# hours = " in example
    assert "SWITCHBOARD_ADMIN_TOKEN" in example


def test_deploy_example_file_loads_and_is_the_generated_example() -> None:
    path = REPO / "deploy" / "switchboard.example.toml"
    settings = load_settings(path, env={})
    assert [c.name for c in settings.callcenters] == ["primary", "backup"]
    assert path.read_text(encoding="utf-8") == dump_example(), (
        "deploy/switchboard.example.toml is stale; regenerate it with "
        "python -c 'from failover.settings import dump_example; print(dump_example(), end=\"\")'"
    )


# --- file-level errors -----------------------------------------------------------------------


def test_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError, match="config file not found") as caught:
        load_settings(path, env={})
    assert str(caught.value).startswith(f"{path}: ")


def test_invalid_toml_names_the_line(tmp_path: Path) -> None:
    message = problems(tmp_path, CENTER + "[health]\ninterval_ms = = 3\n")
    assert message.startswith(f"{tmp_path / 'switchboard.toml'}: not valid TOML")
    assert "line 5" in message


def test_file_that_is_not_utf8_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "switchboard.toml"
    path.write_bytes(b'[server]\nhost = "\xff"\n')
    with pytest.raises(ConfigError, match="not valid UTF-8"):
        load_settings(path, env={})


def test_every_problem_is_listed_on_its_own_line_naming_the_file(tmp_path: Path) -> None:
    text = '[server]\nport = "80"\n[health]\ninterval_ms = 0\n' + CENTER + "priority = 0\n"
    message = problems(tmp_path, text)
    lines = message.splitlines()
    assert len(lines) == 3
    assert all(line.startswith(f"{tmp_path / 'switchboard.toml'}: ") for line in lines)
    assert_problem(message, tmp_path, "server.port", "expected an integer")
    assert_problem(message, tmp_path, "health.interval_ms", "must be greater than 0")
    assert_problem(message, tmp_path, "callcenters[0].priority", "must be at least 1")


# --- models used directly --------------------------------------------------------------------


def test_models_can_be_built_in_python_with_lists() -> None:
    settings = Settings.model_validate(
        {"callcenters": [{"name": "a", "url": "http://a.example", "hours": []}]}
    )
    assert settings.source == ""
    assert settings.callcenters[0].hours == ()
    assert AdminSettings(token=TOKEN).token == TOKEN
