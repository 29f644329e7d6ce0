"""Every series the dashboard and the rules read exists from the start, at 0.

Prometheus cannot count the first increment of a series that did not exist before
(`rate()` and `increase()` need two samples), so a counter whose label set appears only
at its first increment misses the first outage entirely: during a real one,
`increase(switchboard_health_transitions_total[1m])` stayed 0 the whole time.
"""

from __future__ import annotations

import re
from pathlib import Path

from sims.community import CommunitySim
from tests.integration.test_metrics_scenarios import Series, scrape, value
from tests.support.redis import RedisServer
from tests.support.selfhelp_stack import help_stack

REPO = Path(__file__).resolve().parents[2]
NAME = re.compile(r"\bswitchboard_[a-z_]+[a-z]")
HISTOGRAM_PARTS = ("_bucket", "_count", "_sum")


def names_read_by(*paths: Path) -> set[str]:
    names: set[str] = set()
    for path in paths:
        names.update(NAME.findall(path.read_text(encoding="utf-8")))
    return names


async def series_right_after_start(tmp_path: Path, redis: RedisServer) -> Series:
    """What /metrics shows once a front door with Redis, callbacks and self-help is up."""
    community = CommunitySim(topics=5)
    await community.start()
    try:
        async with help_stack(tmp_path, redis=redis, community=community) as stack:
            return await scrape(stack.ops_url)
    finally:
        await community.stop()


async def test_every_series_the_dashboard_and_rules_read_exists_right_after_start(
    tmp_path: Path, redis: RedisServer
) -> None:
    series = await series_right_after_start(tmp_path, redis)
    exposed = {name for name, _ in series}
    read = names_read_by(
        REPO / "monitoring" / "dashboards" / "switchboard.json",
        *sorted((REPO / "monitoring" / "rules").glob("*.yml")),
    )
    missing = sorted(
        name for name in read
        if name not in exposed
        and not any(name + part in exposed for part in HISTOGRAM_PARTS)
    )  # fmt: skip
    assert missing == [], f"read by the dashboard or rules, not exposed at start: {missing}"


async def test_outage_counters_exist_at_zero_for_every_call_center_and_cause(
    tmp_path: Path, redis: RedisServer
) -> None:
    series = await series_right_after_start(tmp_path, redis)

    def has(name: str, **labels: str) -> bool:
        return (name, frozenset(labels.items())) in series

    b = "solo"
    for state in ("down", "degraded", "unknown"):
        assert has("switchboard_health_transitions_total", backend=b, state=state), state
    assert value(series, "switchboard_health_transitions_total", backend=b, state="down") == 0
    assert has("switchboard_probes_total", backend=b, result="fail")
    assert has("switchboard_ejections_total", backend=b)
    assert has("switchboard_upstream_retries_total", backend=b)
    assert has("switchboard_failover_transitions_total", destination="self-help")
    for outcome in ("local_failure", "backend_failure"):
        assert has("switchboard_upstream_attempts_total", backend=b, outcome=outcome)
    for cause in ("down", "forced", "emergency", "closed", "drained", "hold_down", "degraded",
                  "upstream_failed", "busy"):  # fmt: skip
        assert has("switchboard_selfhelp_redirects_total", cause=cause), cause
    assert has("switchboard_cache_lookups_total", tier="origin", result="stale_served")
    assert has("switchboard_requests_refused_total", reason="header_timeout")
    # Restarts and versions show: the process collector and the build info.
    assert value(series, "process_start_time_seconds") > 0
    assert value(series, "process_resident_memory_bytes") > 0
    assert any(
        name == "switchboard_build_info" and dict(labels).get("version") for name, labels in series
    )


async def test_without_redis_no_redis_up_series_so_redis_down_cannot_fire(
    tmp_path: Path,
) -> None:
    # Embedded mode (no [redis] url): monitoring/README.md, SwitchboardRedisDown's
    # runbook, says the alert cannot fire there because the gauge is not exported.
    community = CommunitySim(topics=5)
    await community.start()
    try:
        async with help_stack(tmp_path, redis=None, community=community) as stack:
            series = await scrape(stack.ops_url)
    finally:
        await community.stop()
    names = {name for name, _ in series}
    assert "switchboard_redis_up" not in names
    assert "switchboard_cache_lookups_total" in names
