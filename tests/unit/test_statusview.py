"""The public view of the status (failover/statusview.py): built by allow-list from the
facts `failover.status.gather` collects, it keeps what everyone may know and leaves out
whatever an operator or a probe's error put there. Hypothesis writes the hostile text."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from failover.statusview import operator, public

MARK = "SECRET-"  # every operator-only value below carries it


def facts(secret: str) -> dict[str, Any]:
    """The shape of `gather`'s answer, with `secret` wherever operator-only text goes."""
    s = MARK + secret
    return {
        "generated_at": "2026-12-24T20:00:00+00:00",
        "destination": "self-help",
        "failover_active": True,
        "since": "2026-12-24T19:58:00+00:00",
        "since_age_s": 120.0,
        "reason": f"override force_self_help: {s}",
        "override": {
            "kind": "force_self_help", "callcenter": None, "reason": s,
            "set_by": {"actor": s, "at": "2026-12-24T19:58:00+00:00", "remote": s, "replica": s},
        },
        "switches": {"emergency": [], "drained": ["manila"], "shared": True, "in_sync": True},
        "callcenters": [
            {
                "name": "manila", "priority": 1, "health": "down", "availability": "down",
                "health_since": None, "ejected": False, "ejected_until": None, "ejections": 0,
                "emergency": False, "drained": True,
                "last_probe": {
                    "at": None, "latency_ms": 0.3, "http_status": None, "status": None,
                    "agents_available": None, "queue_wait_seconds": None,
                    "failure": "connect", "detail": f"ClientConnectorError: {s}",
                },
            },
            {
                "name": "leeds", "priority": 2, "health": "degraded",
                "availability": "degraded", "health_since": None, "ejected": False,
                "ejected_until": None, "ejections": 1, "emergency": False, "drained": False,
                "last_probe": {
                    "at": None, "latency_ms": 9.0, "http_status": 200, "status": s,
                    "agents_available": 2, "queue_wait_seconds": 600.0, "failure": None,
                    "detail": f"status {s}",
                },
            },
        ],
        "redis": {"configured": True, "reachable": True},
        "cache": {"redis_breaker_open": False, "origin_breaker_open": False,
                  "bulletins_known": 300, "l1_entries": 12},
        "callbacks": {"enabled": True, "durability": s, "pending": 4, "spooled": 0,
                      "dead_lettered": 0, "oldest_pending_age_s": 3.5, "redis_ok": True},
        "admin_log": [{"at": None, "actor": s, "remote": s, "action": "override",
                       "target": s, "detail": s, "replica": s}],
        "timeline": [
            {"at": None, "kind": "route", "from": "leeds", "to": "self-help",
             "reason": f"override force_self_help: {s}"},
            {"at": None, "kind": "switch", "callcenter": None, "switch": "override",
             "value": "force_self_help"},
            {"at": None, "kind": "health", "callcenter": "manila", "from": "up", "to": "down",
             "reason": f"2 x fail: ClientConnectorError: {s}"},
            {"at": None, "kind": "ejected", "callcenter": "leeds", "until": None,
             "reason": "5 consecutive 5xx"},
        ],
        "unknown": [],
        "a_fact_added_later": s,  # not in the allow-list: operator-only until decided
    }  # fmt: skip


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*strings(k), *strings(v))]
    if isinstance(value, list):
        return [s for item in value for s in strings(item)]
    return []


@given(st.text(max_size=80))
def test_no_operator_only_text_reaches_the_public_view(secret: str) -> None:
    shown = public(facts(secret))
    leaked = [s for s in strings(shown) if MARK in s]
    assert not leaked, leaked
    assert MARK in json.dumps(operator(facts(secret)), ensure_ascii=False)  # it was there


def test_the_public_view_keeps_where_customers_go_and_each_call_centers_state() -> None:
    shown = public(facts("x"))
    assert shown["view"] == "public"
    assert (shown["destination"], shown["failover_active"], shown["since_age_s"]) == (
        "self-help", True, 120.0,
    )  # fmt: skip
    assert shown["reason"] == "override force_self_help"
    assert shown["override"] == {"kind": "force_self_help", "callcenter": None}
    assert shown["switches"]["drained"] == ["manila"]
    manila, leeds = shown["callcenters"]
    assert (manila["name"], manila["availability"], manila["drained"]) == ("manila", "down", True)
    assert manila["last_probe"]["detail"] == "could not connect"
    assert manila["last_probe"]["failure"] == "connect"
    assert leeds["last_probe"]["status"] == "unrecognised"
    assert leeds["last_probe"]["agents_available"] == 2
    assert shown["callbacks"]["pending"] == 4
    assert "admin_log" not in shown
    assert "durability" not in shown["callbacks"]
    assert [e.get("reason") for e in shown["timeline"]] == [
        "override force_self_help", None, "2 x fail", "5 consecutive 5xx",
    ]  # fmt: skip


def test_a_part_that_could_not_be_read_stays_unknown_in_the_public_view() -> None:
    gathered = facts("x") | dict.fromkeys(
        ("switches", "callcenters", "callbacks", "timeline", "admin_log", "cache", "redis")
    )
    gathered["unknown"] = ["admin_log", "callcenters"]
    shown = public(gathered)
    assert shown["callcenters"] is None
    assert shown["timeline"] is None
    assert shown["switches"] is None
    assert shown["unknown"] == ["admin_log", "callcenters"]


def test_a_failed_gather_stays_a_failed_gather() -> None:
    assert public({"unknown": ["all"], "error": "RuntimeError"}) == {
        "view": "public", "unknown": ["all"], "error": "RuntimeError",
    }  # fmt: skip


def test_probe_details_say_what_kind_of_failure_it_was() -> None:
    def detail(**probe: Any) -> str:
        base = facts("x")
        base["callcenters"][0]["last_probe"] |= probe
        return str(public(base)["callcenters"][0]["last_probe"]["detail"])

    assert detail(failure="http_status", http_status=503) == "HTTP 503"
    assert detail(failure="timeout") == "no answer in time"
    assert detail(failure="something new") == "failed"
    assert detail(failure=None, status="degraded") == "status degraded"
    assert detail(failure=None, status="ok", detail="") == ""
