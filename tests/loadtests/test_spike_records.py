"""What the spike reads and records: /metrics ratios, callbacks lost or doubled, the
per-second timeline, the bulletins' skewed popularity, the run config."""

from __future__ import annotations

import math
import random
from pathlib import Path

import pytest

from loadtests.bench.load import Record, windows
from loadtests.spike import readings
from loadtests.spike.profile import PROFILES, Phase
from loadtests.spike.slo import load
from loadtests.spike.state import Catalog, Recorder, RunConfig, percentile, read_timeline

SMOKE = PROFILES["smoke"]
SLO_FILE = Path(__file__).resolve().parents[2] / "loadtests" / "slo.toml"


def metrics(l1_hit: int, l1_miss: int, redis_hit: int, origin_hit: int, pending: int) -> str:
    return f"""
# HELP switchboard_cache_lookups_total Cache lookups.
# TYPE switchboard_cache_lookups_total counter
switchboard_cache_lookups_total{{tier="l1",result="hit"}} {l1_hit}
switchboard_cache_lookups_total{{tier="l1",result="miss"}} {l1_miss}
switchboard_cache_lookups_total{{tier="l1",result="stale"}} 3
switchboard_cache_lookups_total{{tier="redis",result="hit"}} {redis_hit}
switchboard_cache_lookups_total{{tier="origin",result="hit"}} {origin_hit}
# HELP switchboard_callbacks_pending Callbacks waiting.
# TYPE switchboard_callbacks_pending gauge
switchboard_callbacks_pending {pending}
"""


def test_the_hit_ratios_count_only_what_happened_between_the_scrapes() -> None:
    before = readings.parse(metrics(l1_hit=0, l1_miss=300, redis_hit=0, origin_hit=300,
                                      pending=0))  # fmt: skip
    after = readings.parse(metrics(l1_hit=900, l1_miss=400, redis_hit=80, origin_hit=320,
                                     pending=4))  # fmt: skip
    # 1000 bulletin lookups: 900 L1 hits, 100 misses of which Redis answered 80.
    changes = readings.lookups(before, after)
    assert readings.hit_ratio(changes, ["l1"]) == 0.9
    assert readings.hit_ratio(changes) == 0.98
    assert readings.total(after, readings.PENDING) == 4
    assert readings.total(after, readings.DEAD_LETTERS) is None
    assert readings.lookups(before, after) == {
        "l1 hit": 900, "l1 miss": 100, "origin hit": 20, "redis hit": 80,
    }  # fmt: skip


def test_no_lookups_is_no_ratio() -> None:
    same = readings.parse(metrics(1, 1, 1, 1, 0))
    assert readings.hit_ratio(readings.lookups(same, same)) is None
    assert readings.hit_ratio(readings.lookups(same, same), ["l1"]) is None


def delivery(ticket: str, *, duplicate: bool = False) -> dict[str, object]:
    return {"key": "k-" + ticket, "body": {"ticket": ticket, "name": "x"}, "duplicate": duplicate}


def test_a_ticket_no_call_center_received_is_lost() -> None:
    found = readings.reconcile(
        {"a", "b", "c"}, {"primary": [delivery("a")], "backup": [delivery("b")]}
    )
    assert (found.accepted, found.delivered, found.lost) == (3, 2, 1)


def test_an_idempotent_repeat_is_not_a_second_call_but_two_first_deliveries_are() -> None:
    found = readings.reconcile(
        {"a", "b"},
        {
            "primary": [delivery("a"), delivery("a", duplicate=True), delivery("b")],
            "backup": [delivery("b")],
        },
    )
    assert (found.lost, found.duplicated, found.repeats) == (0, 1, 1)


def test_deliveries_nobody_was_given_a_ticket_for_are_counted_apart() -> None:
    found = readings.reconcile(
        {"a"}, {"primary": [delivery("a"), delivery("zzz"), {"body": "junk"}]}
    )
    assert (found.lost, found.unknown) == (0, 1)


def test_percentile_is_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.95) == 95.0
    assert percentile(values, 0.99) == 99.0
    assert percentile([7.0], 0.99) == 7.0
    assert math.isnan(percentile([], 0.5))


def test_the_bench_windows_take_the_same_nearest_rank() -> None:
    # 5 answers: the median is the 3rd (round(2.5) = 2 once picked the 2nd), p99 the 5th.
    records = [
        Record(due=0.1 * i, sent=0.1 * i, done=0.1 * i + ms / 1000, status=200, kind="help",
               served_by="", location="", marked=False, then=None, error="")
        for i, ms in enumerate([10.0, 20.0, 30.0, 40.0, 50.0])
    ]  # fmt: skip
    (window,) = windows(records, [0.0, 1.0])
    assert window.requests == 5
    assert (window.p50_ms, window.p99_ms) == pytest.approx((30.0, 50.0))


def test_the_timeline_buckets_answers_per_second_with_the_phase(tmp_path: Path) -> None:
    rec = Recorder()
    for i in range(100):
        rec.request(3.2, "bulletin", float(i + 1), ok=True, server_error=False)
    rec.request(7.5, "support", 4.0, ok=False, server_error=True)
    rec.destination(7.5, "self-help")
    rec.destination(3.9, "primary")
    rec.gauges(3.0, users=100, locust_cpu=12.5, door_cpu=30.0)
    rec.request(SMOKE.end + 0.5, "help", 1.0, ok=True, server_error=False)  # while stopping
    rows = rec.rows(SMOKE)
    assert len(rows) == 8  # seconds 0..7; nothing after the end
    assert rows[3]["requests"] == 100
    assert rows[3]["p95_ms"] == "95.00"
    assert rows[3]["to_primary"] == 1
    assert rows[3]["phase"] == Phase.BASELINE.value
    assert (rows[7]["failures"], rows[7]["server_errors"], rows[7]["to_self_help"]) == (1, 1, 1)
    assert rows[7]["phase"] == Phase.RISE.value
    rec.write(tmp_path / "t.csv", SMOKE)
    assert read_timeline(tmp_path / "t.csv")[3]["locust_cpu"] == "12.50"


def test_the_phase_table_has_rates_and_percentiles_per_class() -> None:
    rec = Recorder()
    for s in range(3, 7):  # the smoke profile's baseline: 3-7 s
        for _ in range(10):
            rec.request(s + 0.1, "bulletin", 2.0, ok=True, server_error=False)
    table = {(r.phase, r.cls): r for r in rec.phase_table(SMOKE, ["bulletin", "vote"])}
    base = table[Phase.BASELINE.value, "bulletin"]
    assert (base.requests, base.rate, base.p99_ms) == (40, 10.0, 2.0)
    assert table[Phase.BASELINE.value, "vote"].requests == 0
    assert table[Phase.BASELINE.value, "all"].requests == 40


def test_a_few_bulletins_get_most_reads() -> None:
    catalog = Catalog.zipf(list(range(100, 200)))
    assert catalog.share_of_top(5) > 0.4
    rng = random.Random(1)
    picks = [catalog.pick(rng) for _ in range(20_000)]
    top5 = set(catalog.ids[:5])
    assert sum(p in top5 for p in picks) / len(picks) > 0.4
    assert set(picks) <= set(range(100, 200))


def test_the_run_config_survives_the_trip_to_the_locust_process(tmp_path: Path) -> None:
    config = RunConfig(
        profile=SMOKE, host="http://127.0.0.1:1", ops="http://127.0.0.1:3", controls={"primary": "http://127.0.0.1:2"},
        door_pid=42, out=tmp_path, slo=load(SLO_FILE, ["latency.vote.p99_ms=1"]), drain_s=5.0,
    )  # fmt: skip
    config.write(tmp_path / "run.json")
    assert RunConfig.read(tmp_path / "run.json") == config
