"""Config from the environment: SWITCHBOARD_* variables override the file's keys (TOML
typed), the admin token comes from there and stays out of repr, and bad or unknown
variables are named.
Helpers: tests/support/settings.py."""

from __future__ import annotations

from ipaddress import ip_network
from pathlib import Path

import pytest

from failover.settings import load_settings
from tests.support.settings import CENTER, TOKEN, assert_problem, load, problems, write

# --- environment overrides -------------------------------------------------------------------


def test_env_overrides_section_keys_with_toml_typed_values(tmp_path: Path) -> None:
    env = {
        "SWITCHBOARD_HEALTH__INTERVAL_MS": "500",
        "SWITCHBOARD_SERVER__PORT": "9000",
        "SWITCHBOARD_SERVER__HOST": "0.0.0.0",
        "SWITCHBOARD_REDIS__URL": "redis://cache.internal:6379/0",
        "SWITCHBOARD_HEALTH__JITTER": "0.25",
        "SWITCHBOARD_SELFHELP__ORIGIN": '"http://community.example"',
        "SWITCHBOARD_SERVER__TRUSTED_PROXIES": '["10.0.0.0/8"]',
    }
    settings = load(tmp_path, "[health]\ninterval_ms = 100\n" + CENTER, env)
    assert settings.health.interval_ms == 500
    assert settings.health.jitter == 0.25
    assert (settings.server.host, settings.server.port) == ("0.0.0.0", 9000)
    assert settings.server.trusted_proxies == (ip_network("10.0.0.0/8"),)
    assert settings.redis.url == "redis://cache.internal:6379/0"
    assert settings.selfhelp.origin == "http://community.example"


def test_env_overrides_a_call_center_by_upper_cased_name_with_dash_as_underscore(
    tmp_path: Path,
) -> None:
    text = CENTER + '[[callcenters]]\nname = "eu-west"\nurl = "http://eu.example"\n'
    env = {
        "SWITCHBOARD_CALLCENTERS__EU_WEST__PRIORITY": "3",
        "SWITCHBOARD_CALLCENTERS__EU_WEST__EMERGENCY": "true",
        "SWITCHBOARD_CALLCENTERS__EU_WEST__TIMEZONE": "Europe/Berlin",
        "SWITCHBOARD_CALLCENTERS__EU_WEST__HOURS": '["mon-fri 08:00-20:00"]',
    }
    center = load(tmp_path, text, env).callcenters[1]
    assert (center.priority, center.emergency, center.timezone) == (3, True, "Europe/Berlin")
    assert center.schedule is not None
    assert center.schedule.describe() == "Mon-Fri 08:00-20:00 (Europe/Berlin)"


def test_admin_token_comes_from_env_and_stays_out_of_repr(tmp_path: Path) -> None:
    settings = load(tmp_path, CENTER, {"SWITCHBOARD_ADMIN_TOKEN": TOKEN})
    assert settings.admin.token == TOKEN
    assert TOKEN not in repr(settings)
    assert TOKEN not in repr(settings.admin)


def test_numeric_admin_token_is_kept_as_a_string(tmp_path: Path) -> None:
    settings = load(tmp_path, CENTER, {"SWITCHBOARD_ADMIN_TOKEN": "1234567890123456"})
    assert settings.admin.token == "1234567890123456"


def test_short_admin_token_is_rejected_without_echoing_it(tmp_path: Path) -> None:
    message = problems(tmp_path, CENTER, {"SWITCHBOARD_ADMIN_TOKEN": "tooshort"})
    key = "admin.token (from env SWITCHBOARD_ADMIN_TOKEN)"
    assert_problem(message, tmp_path, key, "at least 16 characters")
    assert "tooshort" not in message


def test_bad_env_value_names_the_variable_and_the_key(tmp_path: Path) -> None:
    message = problems(tmp_path, CENTER, {"SWITCHBOARD_SERVER__PORT": "eighty"})
    key = "server.port (from env SWITCHBOARD_SERVER__PORT)"
    assert_problem(message, tmp_path, key, 'expected an integer, got string "eighty"')


def test_bad_env_value_for_a_call_center_names_the_variable(tmp_path: Path) -> None:
    env = {"SWITCHBOARD_CALLCENTERS__PRIMARY__PRIORITY": "0"}
    message = problems(tmp_path, CENTER, env)
    key = "callcenters[0].priority (from env SWITCHBOARD_CALLCENTERS__PRIMARY__PRIORITY)"
    assert_problem(message, tmp_path, key, "must be at least 1")


@pytest.mark.parametrize(
    ("var", "reason"),
    [
        ("SWITCHBOARD_HEALTH__NOPE", "unknown key 'nope' in [health]"),
        ("SWITCHBOARD_HEALTH__INTERVALMS", "did you mean 'interval_ms'"),
        ("SWITCHBOARD_HEALTH_INTERVAL_MS", "double underscore"),
        ("SWITCHBOARD_NOPE__PORT", "unknown variable"),
        ("SWITCHBOARD_SERVER__PORT__X", "unknown variable"),
        ("SWITCHBOARD_ADMIN__TOKEN", "set the admin token with SWITCHBOARD_ADMIN_TOKEN"),
        ("SWITCHBOARD_CALLCENTERS__PRIMARY", "CALLCENTERS__<NAME>__<KEY>"),
        ("SWITCHBOARD_CALLCENTERS__BACKUP__URL", "no call center in the file has NAME BACKUP"),
        ("SWITCHBOARD_CALLCENTERS__PRIMARY__NAME", "unknown call-center key 'name'"),
        ("SWITCHBOARD_CALLCENTERS__PRIMARY__PRIO", "did you mean 'priority'"),
    ],
)
def test_unknown_env_variable_is_named(tmp_path: Path, var: str, reason: str) -> None:
    message = problems(tmp_path, CENTER, {var: "1"})
    assert_problem(message, tmp_path, var, reason)


def test_env_name_matching_two_call_centers_is_ambiguous(tmp_path: Path) -> None:
    text = "".join(
        f'[[callcenters]]\nname = "{name}"\nurl = "http://x.example"\n' for name in ["a-b", "a_b"]
    )
    message = problems(tmp_path, text, {"SWITCHBOARD_CALLCENTERS__A_B__PRIORITY": "2"})
    assert_problem(message, tmp_path, "SWITCHBOARD_CALLCENTERS__A_B__PRIORITY", "several")


def test_env_override_into_a_non_table_section_is_reported(tmp_path: Path) -> None:
    message = problems(tmp_path, "health = 1\n" + CENTER, {"SWITCHBOARD_HEALTH__TIMEOUT_MS": "9"})
    assert_problem(message, tmp_path, "SWITCHBOARD_HEALTH__TIMEOUT_MS", "not a table")
    assert_problem(message, tmp_path, "health", "expected a table")


def test_env_value_that_is_not_one_toml_value_is_taken_as_text(tmp_path: Path) -> None:
    env = {"SWITCHBOARD_SERVER__HOST": '"h"\nport = 1', "SWITCHBOARD_CALLCENTERS__PRIMARY__URL": ""}
    message = problems(tmp_path, CENTER, env)
    assert_problem(message, tmp_path, "callcenters[0].url (from env", "absolute http://")
    env = {"SWITCHBOARD_SERVER__HOST": '"h"\nport = 1'}
    assert load(tmp_path, CENTER, env).server.host == '"h"\nport = 1'


def test_config_variable_and_foreign_variables_are_ignored(tmp_path: Path) -> None:
    env = {"SWITCHBOARD_CONFIG": "/etc/x.toml", "PATH": "/bin", "SWITCHBOARDX": "1"}
    assert load(tmp_path, CENTER, env).server.port == 8080


def test_env_defaults_to_the_process_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWITCHBOARD_PROXY__MAX_CONNECTIONS", "7")
    assert load_settings(write(tmp_path, CENTER)).proxy.max_connections == 7
