"""The SLO gate as a pure function over a run's numbers, and its threshold file."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from loadtests.reports.spike import gate_markdown as markdown
from loadtests.spike.slo import (
    CLASSES,
    Latency,
    Observed,
    SloError,
    apply_override,
    evaluate,
    load,
    parse,
    passed,
)

SLO_FILE = Path(__file__).resolve().parents[2] / "loadtests" / "slo.toml"
SLO = load(SLO_FILE)
GOOD = Observed(
    requests=10_000,
    failures=0,
    server_errors=0,
    latency={cls: Latency(p95_ms=5.0, p99_ms=20.0) for cls in CLASSES},
    cache_hit_ratio=1.0,
    l1_hit_ratio=0.99,
    callbacks_accepted=100,
    callbacks_lost=0,
    callbacks_duplicated=0,
    callbacks_pending=0.0,
    dead_letters=0.0,
)


def failed(observed: Observed, slo: Any = SLO) -> list[str]:
    return [c.name for c in evaluate(observed, slo) if not c.ok]


def test_the_checked_in_thresholds_cover_every_request_class() -> None:
    assert tuple(dict(SLO.latency)) == CLASSES  # the file's model and NAMES agree
    assert SLO.errors.max_server_errors == 0  # the goal: not one customer-visible 5xx
    assert SLO.callbacks.max_lost == 0


def test_a_run_within_every_threshold_passes() -> None:
    checks = evaluate(GOOD, SLO)
    assert passed(checks)
    assert "**FAIL**" not in markdown(checks)


def test_an_impossible_latency_threshold_fails_the_gate() -> None:
    slo = load(SLO_FILE, ["latency.bulletin.p99_ms=0.001"])
    assert failed(GOOD, slo) == ["p99 bulletin (ms)"]
    assert not passed(evaluate(GOOD, slo))


def test_one_customer_visible_5xx_fails_the_gate() -> None:
    bad = dataclasses.replace(GOOD, failures=1, server_errors=1)
    assert failed(bad) == ["error ratio (failed / all requests)", "customer-visible 5xx"]


def test_a_wrong_page_is_an_error_even_without_a_5xx() -> None:
    assert failed(dataclasses.replace(GOOD, failures=3)) == ["error ratio (failed / all requests)"]


def test_an_error_ratio_within_its_threshold_passes() -> None:
    slo = load(SLO_FILE, ["errors.max_error_ratio=0.001"])
    assert failed(dataclasses.replace(GOOD, failures=10), slo) == []
    assert failed(dataclasses.replace(GOOD, failures=11), slo) == [
        "error ratio (failed / all requests)"
    ]


def test_a_slow_class_fails_only_its_own_check() -> None:
    latency = {**GOOD.latency, "search": Latency(p95_ms=150.0, p99_ms=20.0)}
    assert failed(dataclasses.replace(GOOD, latency=latency)) == ["p95 search (ms)"]


def test_a_class_with_no_requests_fails_as_not_measured() -> None:
    latency = {k: v for k, v in GOOD.latency.items() if k != "callback"}
    checks = evaluate(dataclasses.replace(GOOD, latency=latency), SLO)
    bad = [c for c in checks if not c.ok]
    assert [c.name for c in bad] == ["p95 callback (ms)", "p99 callback (ms)"]
    assert {c.observed for c in bad} == {"not measured"}


def test_no_requests_at_all_fails() -> None:
    empty = Observed(requests=0, failures=0, server_errors=0)
    assert "requests made" in failed(empty)


def test_lost_doubled_or_pending_callbacks_fail() -> None:
    assert failed(dataclasses.replace(GOOD, callbacks_lost=1)) == [
        "callbacks lost (202 but never delivered)"
    ]
    assert failed(dataclasses.replace(GOOD, callbacks_duplicated=1)) == [
        "callbacks delivered more than once"
    ]
    assert failed(dataclasses.replace(GOOD, callbacks_pending=2.0, dead_letters=1.0)) == [
        "switchboard_callbacks_pending at the end",
        "switchboard_callbacks_dead_letter_entries",
    ]


def test_callbacks_that_could_not_be_reconciled_fail() -> None:
    unknown = dataclasses.replace(GOOD, callbacks_lost=None, callbacks_pending=None)
    assert failed(unknown) == [
        "callbacks lost (202 but never delivered)",
        "switchboard_callbacks_pending at the end",
    ]


def test_a_low_or_unmeasured_cache_hit_ratio_fails() -> None:
    assert failed(dataclasses.replace(GOOD, cache_hit_ratio=0.5)) == [
        "cache hit ratio (any tier, of bulletin lookups)"
    ]
    assert failed(dataclasses.replace(GOOD, l1_hit_ratio=None)) == [
        "L1 hit ratio (in-process, of bulletin lookups)"
    ]


def test_a_load_generator_at_its_cpu_limit_fails_unless_allowed() -> None:
    hot = dataclasses.replace(GOOD, loadgen_cpu_warning=True)
    assert failed(hot) == ["load generator below locust's CPU warning"]
    assert failed(hot, load(SLO_FILE, ["loadgen.allow_cpu_warning=true"])) == []


def test_a_load_generator_held_up_longer_than_allowed_fails() -> None:
    assert failed(dataclasses.replace(GOOD, loadgen_worst_stall_s=3.2)) == [
        "load generator held up (worst, s)"
    ]
    assert failed(dataclasses.replace(GOOD, loadgen_worst_stall_s=0.4)) == []


def test_an_interrupted_run_or_a_missed_switch_fails() -> None:
    assert failed(dataclasses.replace(GOOD, completed=False)) == ["run completed (all phases)"]
    missed = dataclasses.replace(GOOD, switch_problems=("primary down at 90.0 s: refused",))
    assert failed(missed) == ["call centers switched down and up"]
    assert failed(dataclasses.replace(GOOD, outage_switched=False)) == [
        "call centers switched down and up"
    ]


def test_task_exceptions_fail() -> None:
    assert failed(dataclasses.replace(GOOD, task_exceptions=2)) == ["exceptions in locust tasks"]


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("latency.bulletin.p99=1", "no threshold 'latency.bulletin.p99'"),
        ("latency.nope.p99_ms=1", "no threshold table 'nope'"),
        ("errors.max_error_ratio", "expected dotted.key=value"),
        ("errors.max_error_ratio=oops", "the value is not TOML"),
    ],
)
def test_a_bad_override_is_refused_with_its_key(override: str, message: str) -> None:
    with pytest.raises(SloError, match=message):
        load(SLO_FILE, [override])


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("errors.max_server_errors", "-1", "greater than or equal to 0, got -1"),
        ("errors.max_server_errors", "0.5", "a valid integer, got 0.5"),
        ("errors.max_server_errors", "true", "a valid integer, got True"),
        ("errors.max_error_ratio", "true", "a valid number, got True"),
        ("errors.max_error_ratio", "nan", "greater than or equal to 0, got nan"),
        ("loadgen.allow_cpu_warning", "1", "a valid boolean, got 1"),
    ],
)
def test_a_wrongly_typed_threshold_is_refused(key: str, value: str, message: str) -> None:
    with pytest.raises(SloError, match=rf"slo\.toml: {re.escape(key)}: Input should be {message}$"):
        load(SLO_FILE, [f"{key}={value}"])


def test_an_unknown_or_missing_key_in_the_file_is_refused() -> None:
    raw = tomllib.loads(SLO_FILE.read_text())
    raw["cache"]["min_hit_ratoi"] = 0.9
    with pytest.raises(
        SloError, match=r"^slo: cache\.min_hit_ratoi: Extra inputs are not permitted"
    ):
        parse(raw)
    raw = tomllib.loads(SLO_FILE.read_text())
    del raw["latency"]["vote"]
    raw["latency"]["help"]["p90_ms"] = 1
    del raw["loadgen"]
    with pytest.raises(SloError) as caught:
        parse(raw, source="slo.toml")
    assert str(caught.value).splitlines() == [
        "slo.toml: latency.help.p90_ms: Unexpected keyword argument, got 1",
        "slo.toml: latency.vote: Field required",
        "slo.toml: loadgen: Field required",
    ]


def test_a_missing_or_broken_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SloError, match="No such file"):
        load(tmp_path / "nope.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[errors\n")
    with pytest.raises(SloError, match="not TOML"):
        load(broken)


def test_an_override_changes_only_its_key() -> None:
    raw = tomllib.loads(SLO_FILE.read_text())
    apply_override(raw, "latency.search.p95_ms = 7")
    assert parse(raw).latency.search == Latency(p95_ms=7.0, p99_ms=SLO.latency.search.p99_ms)
