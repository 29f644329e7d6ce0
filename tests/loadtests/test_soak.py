"""The soak test's judgement (loadtests/soak.py): what counts as growing."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from loadtests.reports.soak import soak as render
from loadtests.reports.soak import soak_latency as latency_table
from loadtests.soak import Limits, Sample, problems

LIMITS = Limits(warmup_minutes=2.0)
RUN = {"minutes": "10", "warmup": "2", "users": 5, "stage": "", "started": "2026-01-01 00:00",
       "cores": 2, "pins": "not pinned", "locust": 0, "latency": "(none)"}  # fmt: skip


def flat(minutes: int = 10, **changes: float) -> list[Sample]:
    base = Sample(minute=0, rss_mib=100.0, fds=60, threads=6, series=300, redis_mib=2.0,
                  requests=0, server_errors=0)  # fmt: skip
    return [dataclasses.replace(base, minute=m, requests=m * 6000) for m in range(minutes + 1)]


def test_flat_samples_after_the_warm_up_pass_even_if_the_warm_up_grew() -> None:
    samples = flat()
    samples[0] = dataclasses.replace(samples[0], rss_mib=50.0, fds=20, series=100)
    assert problems(samples, LIMITS) == []
    text = render(samples, run=RUN, found=[], limits=LIMITS)
    assert "| 0.0 (warm-up) | 50.0 | 20 |" in text
    assert "| 10.0 | 100.0 | 60 | 6 | 300 | 2.00 | 60,000 | 0 |" in text
    assert "Nothing grew past its limit" in text


@pytest.mark.parametrize(
    ("field", "step", "says"),  # ends: medians of minutes 2-4 and 8-10, 6 minutes apart
    [
        ("rss_mib", 3.0, "resident memory grew 18.0 MiB (103.0 -> 121.0)"),
        ("fds", 2, "file descriptors grew by 12 (62 -> 74)"),
        ("threads", 1, "threads grew by 6"),
        ("series", 5, "metric series grew by 30"),
        ("redis_mib", 1.5, "Redis memory grew 9.0 MiB"),
    ],
)
def test_steady_growth_after_the_warm_up_is_named(field: str, step: float, says: str) -> None:
    samples = [
        dataclasses.replace(s, **{field: getattr(s, field) + step * max(0, s.minute - 2)})
        for s in flat()
    ]
    found = problems(samples, LIMITS)
    assert len(found) == 1
    assert found[0].startswith(says)
    assert "Grew past its limit" in render(samples, run=RUN, found=found, limits=LIMITS)


def test_one_noisy_sample_at_the_end_is_not_growth() -> None:
    samples = flat()
    samples[-1] = dataclasses.replace(samples[-1], fds=200)
    assert problems(samples, LIMITS) == []


def test_a_single_5xx_fails_the_soak() -> None:
    samples = flat()
    samples[-1] = dataclasses.replace(samples[-1], server_errors=1)
    assert problems(samples, LIMITS) == ["1 customer answers were 5xx"]


def test_too_short_a_run_cannot_pass() -> None:
    assert problems(flat(minutes=2), LIMITS) == [
        "no two samples after the 2-minute warm-up to compare"
    ]


def test_the_latency_table_lists_each_kind_then_all(tmp_path: Path) -> None:
    stats = tmp_path / "locust_stats.csv"
    stats.write_text(
        "Type,Name,Request Count,Failure Count,50%,95%,99%\n"
        ",Aggregated,30,0,5,20,40\n"
        "GET,/help,10,0,4,10,12\n"
        "POST,/help/callbacks,20,1,6,25,50\n"
    )
    table = latency_table(stats).splitlines()
    assert table[2:] == [
        "| GET /help | 10 | 0 | 4 | 10 | 12 |",
        "| POST /help/callbacks | 20 | 1 | 6 | 25 | 50 |",
        "| all | 30 | 0 | 5 | 20 | 40 |",
    ]
    assert latency_table(tmp_path / "missing.csv").startswith("(no latency recorded")
