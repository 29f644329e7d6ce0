"""Config loading: TOML file + SWITCHBOARD_* env, strict validation, errors that say where."""

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

REPO = Path(__file__).resolve().parents[2]
CENTER = '[[callcenters]]\nname = "primary"\nurl = "http://127.0.0.1:9001"\n'
TOKEN = "s3cret-token-0123456789"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "switchboard.toml"
    path.write_text(text, encoding="utf-8")
    return path


def load(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> Settings:
    return load_settings(write(tmp_path, text), env={} if env is None else env)


def problems(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> str:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env={} if env is None else env)
    return str(caught.value)


def assert_problem(message: str, tmp_path: Path, key: str, reason: str) -> None:
    """One line of ``message`` names the file, then ``key``, and contains ``reason``."""
    prefix = f"{tmp_path / 'switchboard.toml'}: {key}"
    lines = [line for line in message.splitlines() if line.startswith(prefix)]
    assert lines, f"no line starts with {prefix!r} in:\n{message}"
    assert any(reason in line for line in lines), f"{reason!r} not in {lines}"


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


# --- keys and types --------------------------------------------------------------------------


def test_unknown_key_is_named_with_its_section(tmp_path: Path) -> None:
    message = problems(tmp_path, "[health]\nintervall_ms = 250\n" + CENTER)
    assert_problem(message, tmp_path, "health.intervall_ms", "unknown key")
    assert "did you mean 'interval_ms'" in message


def test_unknown_section_is_named(tmp_path: Path) -> None:
    assert_problem(problems(tmp_path, "[helth]\n" + CENTER), tmp_path, "helth", "unknown key")


def test_unknown_call_center_key_is_named_with_its_index(tmp_path: Path) -> None:
    message = problems(tmp_path, CENTER + CENTER.replace("primary", "b") + "prio = 2\n")
    assert_problem(message, tmp_path, "callcenters[1].prio", "unknown key")


def test_source_key_in_the_file_is_rejected(tmp_path: Path) -> None:
    message = problems(tmp_path, 'source = "x"\n' + CENTER)
    assert_problem(message, tmp_path, "source", "unknown key")


@pytest.mark.parametrize(
    ("toml", "key", "reason"),
    [
        ('[server]\nport = "80"', "server.port", 'expected an integer, got string "80"'),
        ("[server]\nport = true", "server.port", "expected an integer, got boolean"),
        ("[health]\ninterval_ms = 250.0", "health.interval_ms", "expected an integer, got float"),
        ('[health]\njitter = "0.1"', "health.jitter", "expected a number, got string"),
        ("[server]\nhost = 127", "server.host", "expected a string, got integer"),
        ('[server]\ntrusted_proxies = "10.0.0.0/8"', "server.trusted_proxies", "expected an array"),
        ("health = 5", "health", "expected a table, got integer"),
    ],
)
def test_wrong_type_is_not_coerced(tmp_path: Path, toml: str, key: str, reason: str) -> None:
    assert_problem(problems(tmp_path, toml + "\n" + CENTER), tmp_path, key, reason)


def test_wrong_type_in_a_call_center_is_named_with_its_index(tmp_path: Path) -> None:
    message = problems(tmp_path, CENTER + 'emergency = "yes"\n')
    assert_problem(message, tmp_path, "callcenters[0].emergency", "expected a boolean")


# --- ranges ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("toml", "key", "reason"),
    [
        ("[health]\ninterval_ms = 0", "health.interval_ms", "must be greater than 0"),
        ("[health]\ninterval_ms = -250", "health.interval_ms", "must be greater than 0"),
        ("[health]\ntimeout_ms = 0", "health.timeout_ms", "must be greater than 0"),
        ("[health]\njitter = 1.0", "health.jitter", "must be less than 1"),
        ("[health]\njitter = -0.1", "health.jitter", "must be at least 0"),
        ("[health]\njitter = nan", "health.jitter", ""),
        ("[health]\nhealthy_threshold = 0", "health.healthy_threshold", "must be at least 1"),
        ("[health]\nunhealthy_threshold = 0", "health.unhealthy_threshold", "must be at least 1"),
        ("[health]\nmax_queue_wait_seconds = -1", "health.max_queue_wait_seconds", "at least 0"),
        ("[server]\nport = 65536", "server.port", "must be at most 65535"),
        ("[server]\nport = -1", "server.port", "must be at least 0"),
        ("[server]\nshutdown_grace_ms = -1", "server.shutdown_grace_ms", "must be at least 0"),
        ("[outlier]\nconsecutive_5xx = 0", "outlier.consecutive_5xx", "must be at least 1"),
        (
            "[outlier]\nconsecutive_local_failures = 0",
            "outlier.consecutive_local_failures",
            "must be at least 1",
        ),
        (
            "[outlier]\nbase_ejection_time_ms = 20000\nmax_ejection_time_ms = 10000",
            "outlier.max_ejection_time_ms",
            "must be >= base_ejection_time_ms (20000)",
        ),
        ("[routing]\nhold_down_ms = -5", "routing.hold_down_ms", "must be at least 0"),
        ("[proxy]\nread_timeout_ms = 0", "proxy.read_timeout_ms", "must be greater than 0"),
        (
            "[proxy]\nconnect_timeout_ms = 5000",
            "proxy.request_budget_ms",
            "must be >= connect_timeout_ms (5000)",
        ),
        ("[proxy]\nmax_connections = 0", "proxy.max_connections", "must be at least 1"),
        ("[proxy]\nbuffer_bytes = -1", "proxy.buffer_bytes", "must be at least 0"),
    ],
)
def test_out_of_range_value_is_named_with_the_limit(
    tmp_path: Path, toml: str, key: str, reason: str
) -> None:
    assert_problem(problems(tmp_path, toml + "\n" + CENTER), tmp_path, key, reason)


def test_zero_hold_down_and_grace_are_allowed(tmp_path: Path) -> None:
    text = "[routing]\nhold_down_ms = 0\n[server]\nshutdown_grace_ms = 0\n" + CENTER
    settings = load(tmp_path, text)
    assert (settings.routing.hold_down_ms, settings.server.shutdown_grace_ms) == (0, 0)


# --- call centers ----------------------------------------------------------------------------


def test_file_without_call_centers_is_rejected(tmp_path: Path) -> None:
    assert_problem(problems(tmp_path, "[server]\n"), tmp_path, "callcenters", "at least one")


def test_empty_call_center_array_is_rejected(tmp_path: Path) -> None:
    assert_problem(
        problems(tmp_path, "callcenters = []\n"), tmp_path, "callcenters", "at least one"
    )


def test_invalid_call_center_does_not_also_claim_there_are_none(tmp_path: Path) -> None:
    message = problems(tmp_path, CENTER + "priority = 0\n")
    assert "at least one" not in message


def test_call_center_without_name_and_url_names_both_keys(tmp_path: Path) -> None:
    message = problems(tmp_path, "[[callcenters]]\npriority = 1\n")
    assert_problem(message, tmp_path, "callcenters[0].name", "required key is missing")
    assert_problem(message, tmp_path, "callcenters[0].url", "required key is missing")


def test_duplicate_call_center_name_is_rejected(tmp_path: Path) -> None:
    message = problems(tmp_path, CENTER + CENTER)
    assert_problem(message, tmp_path, "callcenters[1].name", "duplicate call-center name")
    assert "callcenters[0]" in message


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://cc.example", "must be an absolute http:// or https:// URL"),
        ("/relative/path", "must be an absolute http:// or https:// URL"),
        ("cc.example:8080", "must be an absolute http:// or https:// URL"),
        ("http://", "must be an absolute http:// or https:// URL"),
        ("http://:8080/x", "has no host"),
        ("http://cc.example:99999", "has a bad port"),
        ("http://cc.example/?q=1", "must not have a query"),
        ("http://cc.example/#top", "must not have a query (?...) or fragment"),
        ("http://cc.example/a b", "whitespace"),
        ("http://user:pw@cc.example", "must not contain credentials"),
    ],
)
def test_bad_call_center_url_is_rejected(tmp_path: Path, url: str, reason: str) -> None:
    message = problems(tmp_path, CENTER.replace("http://127.0.0.1:9001", url))
    assert_problem(message, tmp_path, "callcenters[0].url", reason)
    assert "pw" not in message


@pytest.mark.parametrize("key", ["health_path", "callbacks_path"])
@pytest.mark.parametrize("value", ["health", "", "//evil.example/x", "/a b"])
def test_call_center_paths_must_start_with_a_single_slash(
    tmp_path: Path, key: str, value: str
) -> None:
    message = problems(tmp_path, CENTER + f'{key} = "{value}"\n')
    assert_problem(message, tmp_path, f"callcenters[0].{key}", "path")


@pytest.mark.parametrize("name", ["Primary", "-primary", "_x", "a" * 33, "eu west", "", "zürich"])
def test_call_center_name_must_be_a_safe_metric_label(tmp_path: Path, name: str) -> None:
    message = problems(tmp_path, CENTER.replace('"primary"', f'"{name}"'))
    assert_problem(message, tmp_path, "callcenters[0].name", "metric label")


@pytest.mark.parametrize("name", ["a", "0", "eu-west_2", "x" * 32])
def test_call_center_name_may_use_digits_dash_and_underscore(tmp_path: Path, name: str) -> None:
    assert load(tmp_path, CENTER.replace('"primary"', f'"{name}"')).callcenters[0].name == name


def test_bad_time_zone_is_named(tmp_path: Path) -> None:
    message = problems(tmp_path, CENTER + 'timezone = "Mars/Olympus_Mons"\n')
    assert_problem(message, tmp_path, "callcenters[0].timezone", "unknown time zone")


def test_bad_hours_spec_is_named_with_its_index(tmp_path: Path) -> None:
    text = CENTER + 'timezone = "Europe/Berlin"\nhours = ["mon-fri 08:00-20:00", "mon-fry 8-9"]\n'
    message = problems(tmp_path, text)
    assert_problem(message, tmp_path, "callcenters[0].hours[1]", "unknown day 'fry'")
    assert "'mon-fry 8-9'" in message


def test_hours_without_timezone_are_rejected(tmp_path: Path) -> None:
    message = problems(tmp_path, CENTER + 'hours = ["mon-fri 08:00-20:00"]\n')
    assert_problem(message, tmp_path, "callcenters[0].hours", "need a timezone")


# --- other sections --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://cache.example:6379", "scheme must be one of redis://, rediss://, unix://"),
        ("localhost:6379", "scheme must be one of"),
        ("redis://:6379/0", "has no host"),
        ("redis://h:notaport/0", "bad port"),
        ("unix://relative.sock", "absolute socket path"),
        ("redis+sentinel://h1/mymaster", "needs host:port"),
        ("redis+sentinel://h1:26379,/mymaster", "needs host:port"),
        ("redis+sentinel://h1:26379", "needs /service"),
        ("redis+sentinel://h1:26379/mymaster/zero", "needs /service or /service/db"),
        ("redis+sentinel://h1:26379/mymaster?x=1", "must not have a query"),
    ],
)
def test_bad_redis_url_is_rejected(tmp_path: Path, url: str, reason: str) -> None:
    assert_problem(
        problems(tmp_path, f'[redis]\nurl = "{url}"\n' + CENTER), tmp_path, "redis.url", reason
    )


def test_bad_redis_url_message_does_not_echo_the_password(tmp_path: Path) -> None:
    message = problems(tmp_path, '[redis]\nurl = "http://:hunter2@h:6379"\n' + CENTER)
    assert_problem(message, tmp_path, "redis.url", "scheme")
    assert "hunter2" not in message


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ('"10.0.0.5/8"', "has host bits set"),
        ('"300.1.1.1"', "not an IP address or CIDR network"),
        ('"10.0.0.0/33"', "not an IP address or CIDR network"),
        ("8", "expected a string like '10.0.0.0/8', got integer"),
    ],
)
def test_bad_trusted_proxy_is_named_with_its_index(tmp_path: Path, value: str, reason: str) -> None:
    text = f'[server]\ntrusted_proxies = ["10.0.0.0/8", {value}]\n' + CENTER
    assert_problem(problems(tmp_path, text), tmp_path, "server.trusted_proxies[1]", reason)


def test_selfhelp_origin_must_be_an_http_url(tmp_path: Path) -> None:
    message = problems(tmp_path, '[selfhelp]\norigin = "discourse.example"\n' + CENTER)
    assert_problem(message, tmp_path, "selfhelp.origin", "http:// or https://")


def test_admin_token_in_the_file_is_rejected_pointing_to_the_env_var(tmp_path: Path) -> None:
    message = problems(tmp_path, f'[admin]\ntoken = "{TOKEN}"\n' + CENTER)
    assert_problem(message, tmp_path, "admin.token", "secrets do not go into files")
    assert "SWITCHBOARD_ADMIN_TOKEN" in message
    assert TOKEN not in message


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


# --- models used directly --------------------------------------------------------------------


def test_models_can_be_built_in_python_with_lists() -> None:
    settings = Settings.model_validate(
        {"callcenters": [{"name": "a", "url": "http://a.example", "hours": []}]}
    )
    assert settings.source == ""
    assert settings.callcenters[0].hours == ()
    assert AdminSettings(token=TOKEN).token == TOKEN
