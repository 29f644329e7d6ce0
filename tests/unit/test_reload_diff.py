"""What a reload may change (issue 17): `failover.reload.diff` and `fingerprint`."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from failover.reload import RELOADABLE_PROXY_KEYS, diff, fingerprint
from failover.settings import Settings

A = {"name": "a", "url": "http://10.0.0.1:8000", "priority": 1}
B = {"name": "b", "url": "http://10.0.0.2:8000", "priority": 2}


def settings(**sections: Any) -> Settings:
    raw: dict[str, Any] = {"callcenters": [A, B], **sections}
    return Settings.model_validate(raw)


def test_the_same_settings_differ_in_nothing_and_keep_their_version() -> None:
    d = diff(settings(), settings())
    assert d.empty
    assert fingerprint(settings()) == fingerprint(settings())


def test_call_centers_added_removed_and_changed_are_named() -> None:
    c = {"name": "c", "url": "http://10.0.0.3:8000"}
    new = settings(callcenters=[{**A, "priority": 3}, c])
    d = diff(settings(), new)
    assert (d.added, d.removed, d.changed) == (("c",), ("b",), ("a",))
    assert d.readdressed == ()  # a priority change keeps what was learnt
    assert d.restart_only == ()
    assert fingerprint(new) != fingerprint(settings())


@pytest.mark.parametrize("key", ["url", "health_path"])
def test_a_new_address_means_starting_afresh(key: str) -> None:
    value = "http://10.0.0.9:8000" if key == "url" else "/healthz"
    d = diff(settings(), settings(callcenters=[{**A, key: value}, B]))
    assert d.changed == ("a",)
    assert d.readdressed == ("a",)


def test_reordering_call_centers_is_a_change() -> None:
    d = diff(settings(), settings(callcenters=[B, A]))
    assert d.keys == ("callcenters.order",)


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [("health", "interval_ms", 999), ("health", "unhealthy_threshold", 7),
     ("outlier", "consecutive_5xx", 9), ("routing", "hold_down_ms", 1234),
     ("proxy", "request_budget_ms", 4321), ("proxy", "connect_timeout_ms", 77)],
)  # fmt: skip
def test_reloadable_keys_are_applied_not_refused(section: str, key: str, value: int) -> None:
    d = diff(settings(), settings(**{section: {key: value}}))
    assert d.keys == (f"{section}.{key}",)
    assert d.restart_only == ()


@pytest.mark.parametrize(
    ("section", "key", "value"),
    [("server", "port", 8081), ("server", "access_log", True), ("ops", "port", 9999),
     ("proxy", "max_connections", 7), ("selfhelp", "max_age_s", 5),
     ("redis", "url", "redis://127.0.0.1:6400/0")],
)  # fmt: skip
def test_restart_only_keys_are_named(section: str, key: str, value: object) -> None:
    d = diff(settings(), settings(**{section: {key: value}}))
    assert d.restart_only == (f"{section}.{key}",)
    assert d.keys == ()


def test_secrets_do_not_change_the_version() -> None:
    # The version is shown to anyone reading /status: it must not be a hash of a secret.
    one = settings(admin={"token": "x" * 20})
    two = settings(admin={"token": "y" * 20})
    assert fingerprint(one) == fingerprint(two)
    assert diff(one, two).restart_only == ("admin.token",)  # but the change is seen


@given(
    st.sampled_from(sorted(RELOADABLE_PROXY_KEYS)), st.integers(500, 3_000)
)  # within the cross-key checks
def test_any_reloadable_proxy_key_is_reloadable(key: str, value: int) -> None:
    # (values within the proxy's cross-key checks: budget >= connect timeout)
    d = diff(settings(), settings(proxy={key: value}))
    assert d.restart_only == ()
    assert d.keys in ((), (f"proxy.{key}",))


def test_in_the_haproxy_data_plane_servers_need_a_new_haproxy_config() -> None:
    haproxy = {"mode": "haproxy"}
    c = {"name": "c", "url": "http://10.0.0.3:8000"}
    for new in (
        settings(dataplane=haproxy, callcenters=[A, B, c]),  # added
        settings(dataplane=haproxy, callcenters=[A]),  # removed
        settings(dataplane=haproxy, callcenters=[{**A, "url": "http://10.0.0.9:8000"}, B]),
    ):
        d = diff(settings(dataplane=haproxy), new)
        assert any("haproxy" in key for key in d.restart_only), d
    # A priority is the agent check's to say: live in that mode too.
    d = diff(
        settings(dataplane=haproxy),
        settings(dataplane=haproxy, callcenters=[{**A, "priority": 3}, B]),
    )
    assert d.restart_only == ()
    assert d.changed == ("a",)
