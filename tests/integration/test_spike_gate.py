"""The spike test's SLO gate, end to end: the whole stack (redis-server, simulators,
the front door as its own process) and locust, run through `python -m loadtests.spike`
with the short `smoke` profile (the same phases in 22 s) and one impossible threshold.
Locust must exit non-zero (3, the gate's code) because of that threshold alone, and
leave every output in the folder it was given.

The gate's logic on its own is tests/loadtests/test_slo_gate.py; the real short spike
with the real thresholds is `make loadtest-ci`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXIT_SLO_BREACHED = 3


@pytest.mark.timeout(300)
def test_a_run_with_an_impossible_threshold_fails_the_gate(tmp_path: Path) -> None:
    out = tmp_path / "spike"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWITCHBOARD_")}
    run = subprocess.run(  # noqa: S603 - our own module, loopback only
        [sys.executable, "-m", "loadtests.spike", "--profile", "smoke", "--out", str(out),
         "--set", "latency.bulletin.p99_ms=0.001", "--drain-s", "10"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=280, check=False,
    )  # fmt: skip
    tail = (run.stdout + run.stderr)[-4000:]
    assert run.returncode == EXIT_SLO_BREACHED, tail
    gate = json.loads((out / "slo.json").read_text())
    assert gate["passed"] is False
    failed = [c["name"] for c in gate["checks"] if not c["ok"]]
    assert failed == ["p99 bulletin (ms)"], tail  # the override, and nothing else
    for name in ("report.html", "locust_stats.csv", "locust_stats_history.csv",
                 "timeline.csv", "summary.md", "spike.png"):  # fmt: skip
        assert (out / name).stat().st_size > 0, name
    assert f"output in {out}" in run.stdout
