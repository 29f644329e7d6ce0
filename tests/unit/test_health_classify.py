"""classify: how one probe's answer becomes an observation (OK, DEGRADED or FAIL)."""

from __future__ import annotations

import pytest

from failover.health import (
    FailureKind,
    HealthPolicy,
    Observation,
    ProbeResult,
    classify,
)
from tests.support.health_machine import DEG, FAIL, OK, POLICY, ok_probe

# --- classify ----------------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 201, 204, 299])
def test_2xx_without_a_body_status_is_ok(status: int) -> None:
    assert classify(ok_probe(http_status=status), POLICY) is OK


@pytest.mark.parametrize("status", [100, 199, 300, 302, 404, 429, 500, 503])
def test_non_2xx_is_a_fail(status: int) -> None:
    assert classify(ok_probe(http_status=status), POLICY) is FAIL


@pytest.mark.parametrize("kind", list(FailureKind))
def test_connect_timeout_and_other_failures_are_fail_whatever_else_was_seen(
    kind: FailureKind,
) -> None:
    assert classify(ok_probe(failure=kind, reported_status="ok"), POLICY) is FAIL


def test_no_http_status_is_a_fail() -> None:
    assert classify(ProbeResult(latency=5.0), POLICY) is FAIL


@pytest.mark.parametrize("word", ["down", "DOWN", "Down"])
def test_2xx_whose_json_says_down_is_a_fail(word: str) -> None:
    assert classify(ok_probe(reported_status=word), POLICY) is FAIL


@pytest.mark.parametrize("word", ["degraded", "DEGRADED"])
def test_2xx_whose_json_says_degraded_is_degraded(word: str) -> None:
    assert classify(ok_probe(reported_status=word), POLICY) is DEG


def test_reported_down_wins_over_a_long_queue() -> None:
    policy = HealthPolicy(max_queue_wait_seconds=10.0)
    probe = ok_probe(reported_status="down", queue_wait_seconds=999.0)
    assert classify(probe, policy) is FAIL


@pytest.mark.parametrize(
    ("wait", "expected"), [(None, OK), (0.0, OK), (60.0, OK), (60.001, DEG), (600.0, DEG)]
)
def test_queue_wait_degrades_only_strictly_above_the_limit(
    wait: float | None, expected: Observation
) -> None:
    policy = HealthPolicy(max_queue_wait_seconds=60.0)
    assert classify(ok_probe(queue_wait_seconds=wait), policy) is expected


def test_queue_wait_is_ignored_without_a_limit() -> None:
    assert classify(ok_probe(queue_wait_seconds=1e9), HealthPolicy()) is OK
