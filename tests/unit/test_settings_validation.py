"""Config validation: unknown keys, wrong types, out-of-range values, call centers, the
other sections; every error names the file, the key and what is wrong. Helpers:
tests/support/settings.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.settings import CENTER, TOKEN, assert_problem, load, problems

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
        ('[proxy]\nsend_timeout_ms = "60s"', "proxy.send_timeout_ms", "expected an integer"),
        ("[proxy]\nsend_timeout_ms = 1.5", "proxy.send_timeout_ms", "expected an integer"),
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
        ("[proxy]\nsend_timeout_ms = 0", "proxy.send_timeout_ms", "must be greater than 0"),
        ("[proxy]\nsend_timeout_ms = -5", "proxy.send_timeout_ms", "must be greater than 0"),
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
        # Checked as the proxy parses them (yarl), not only as urlsplit does.
        ("http://[::1]x/", "cannot be parsed (Invalid IPv6 URL)"),
        ("http://[fe80::1%eth0]/", "has an IPv6 zone identifier"),
        ("http://[fe80::1%25eth0]:8080/", "has an IPv6 zone identifier"),
        ("http://[v1.x]/", "has a bad IPv6 address"),
        ("http://[1::2::3]/", "cannot be parsed"),
        ("http://a%20b/", "has a percent-encoded host"),
        ("http://cc.example:0/", "has a bad port (0)"),
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
