"""The monitoring rules and alerts ask only for what the front door exports.

Every PromQL expression in monitoring/rules/ (recording rules and alerts) names metrics
that a freshly built app exports, or recording rules defined there, with labels those
series carry; every alert says how bad, what and where to look, and has promtool cases
that see it fire and stay quiet. Also the PromQL reader these checks rely on
(tests/support/promql.py); the shared readers are in tests/support/monitoring_assets.py,
the dashboard's checks in test_monitoring_dashboard.py.

promtool itself (`make rules`) checks syntax and runs the rule tests; this file checks
that the rules and the app agree, which promtool cannot know.
"""

from __future__ import annotations

import re

from tests.support.monitoring_assets import (
    README,
    ROOT,
    RULE_FILES,
    RULE_TESTS,
    SEVERITIES,
    TARGET_LABELS,
    Catalog,
    Exported,
    _list,
    _map,
    _str,
    catalog,
    load_rule_tests,
    load_rules,
    load_yaml,
)
from tests.support.promql import Matcher, Selector, parse_promql

# -- the readers themselves -------------------------------------------------------------


def test_the_promql_reader_finds_metrics_and_labels_and_skips_the_rest() -> None:
    q = parse_promql(
        "histogram_quantile(0.95, sum by (job, le) (rate(switchboard_request_duration_seconds_"
        'bucket{route=~"help.*", le!="+Inf"}[5m] offset 1h)))\n'
        "  / on (job) group_left (route) max without (instance) (up == bool 1) # up{x}\n"
        '  and sum(rate(switchboard:requests:rate5m{job="$job"}[$__rate_interval])) > 1e3'
    )
    assert q.metrics == {"switchboard_request_duration_seconds_bucket", "up",
                         "switchboard:requests:rate5m"}  # fmt: skip
    assert q.selectors[0].matchers == (
        Matcher(label="route", op="=~", value="help.*"),
        Matcher(label="le", op="!=", value="+Inf"),
    )
    assert q.grouping == (("by", ("job", "le")), ("on", ("job",)), ("group_left", ("route",)),
                          ("without", ("instance",)))  # fmt: skip
    assert {"histogram_quantile", "sum", "rate", "max"} <= q.functions


def test_the_promql_reader_knows_grouping_after_the_aggregated_expression() -> None:
    q = parse_promql('sum(rate(switchboard_requests_total{code=~"5.."}[1h:1m])) by (route)')
    assert q.metrics == {"switchboard_requests_total"}
    assert q.grouping == (("by", ("route",)),)
    assert parse_promql('{__name__="up", job="x"}').selectors == (
        Selector(metric="up", matchers=(Matcher(label="job", op="=", value="x"),)),
    )
    assert parse_promql("absent(up) * 2.5 > 5m").metrics == {"up"}


# -- the app, as the rules see it ---------------------------------------------------------


def test_the_app_exports_the_contract_metrics(exported: Exported) -> None:
    # docs/architecture.md "Contract", and what the alerts need; also proves the discovery works.
    contract = {
        "switchboard_backend_up": {"backend"},
        "switchboard_failover_active": set(),
        "switchboard_requests_total": {"route", "destination", "code"},
        "switchboard_request_duration_seconds_bucket": {"route", "destination", "le"},
        "switchboard_cache_lookups_total": {"tier", "result"},
        "switchboard_callbacks_pending": set(),
        "switchboard_callbacks_delivered_total": set(),
        # issue 5 (admin): read by SwitchboardRedisDown and the dashboard
        "switchboard_redis_up": set(),
        "switchboard_failover_seconds_total": set(),
        "switchboard_admin_actions_total": {"action"},
    }
    for name, labels in contract.items():
        assert exported.series[name] == frozenset(labels) | TARGET_LABELS, name
    assert {"support", "help", "help_search", "help_bulletin"} <= exported.routes


# -- rules --------------------------------------------------------------------------------


def test_recording_rules_and_alerts_read_only_what_the_app_exports(exported: Exported) -> None:
    rules = load_rules()
    assert rules, RULE_FILES
    cat = catalog(exported, rules)
    problems = [p for r in rules for p in cat.problems(r.name, r.expr)]
    assert not problems, "\n".join(problems)


def test_recording_rules_are_named_level_metric_operations() -> None:
    records = [r.name for r in load_rules() if not r.alert]
    assert len(records) == len(set(records))
    bad = [n for n in records if not re.fullmatch(r"switchboard:[a-z0-9_]+:[a-z0-9_]+", n)]
    assert not bad


def test_every_alert_says_how_bad_what_and_where_to_look() -> None:
    readme = README.read_text()
    alerts = [r for r in load_rules() if r.alert]
    assert alerts
    for alert in alerts:
        assert alert.labels.get("severity") in SEVERITIES, alert.name
        for key in ("summary", "description", "runbook"):
            assert alert.annotations.get(key), (alert.name, key)
        anchor = f"monitoring/README.md#{alert.name.lower()}"
        assert alert.annotations["runbook"].startswith(anchor), alert.name
        assert f"### {alert.name}\n" in readme, f"README has no runbook for {alert.name}"
        assert alert.annotations.get("runbook_url") == anchor, alert.name


def github_anchors(markdown: str) -> set[str]:
    """The fragment each heading gets on GitHub (and most renderers): lower case, spaces
    to hyphens, punctuation other than hyphens and underscores dropped."""
    return {
        re.sub(r"[^a-z0-9 _-]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in markdown.splitlines()
        if line.startswith("#")
    }


def test_every_runbook_url_resolves_to_a_section_of_the_runbook() -> None:
    anchors = github_anchors(README.read_text())
    urls = [r.annotations["runbook_url"] for r in load_rules() if r.alert]
    assert urls
    for url in urls:
        path, _, fragment = url.partition("#")
        assert (ROOT.parent / path).resolve() == README.resolve(), url
        assert fragment in anchors, f"{url}: no such section"


def test_every_alert_has_promtool_cases_that_fire_and_stay_quiet() -> None:
    cases = load_rule_tests().alerts
    for alert in (r.name for r in load_rules() if r.alert):
        assert (alert, True) in cases, f"no promtool case sees {alert} fire"
        assert (alert, False) in cases, f"no promtool case sees {alert} stay quiet"
    names = {r.name for r in load_rules() if r.alert}
    assert not {name for name, _ in cases} - names, "a promtool case names no alert"


def test_every_recording_rule_is_checked_by_promtool() -> None:
    rules = load_rules()
    tests = load_rule_tests()
    read = set().union(*(parse_promql(e).metrics for e in tests.exprs))
    # A rule read by an alert is checked through that alert's cases.
    read |= set().union(*(parse_promql(r.expr).metrics for r in rules if r.alert))
    unchecked = [r.name for r in rules if not r.alert and r.name not in read]
    assert not unchecked


def test_promtool_cases_feed_the_series_the_app_exports(exported: Exported) -> None:
    # A rule test on made-up series would pass and prove nothing.
    cat = Catalog(series=exported.series, routes=exported.routes)
    tests = load_rule_tests()
    problems = [p for s in tests.input_series for p in cat.problems("input_series", s)]
    assert not problems, "\n".join(problems)


def test_promtool_cases_load_the_rule_files() -> None:
    for path in RULE_TESTS:
        files = _list(_map(load_yaml(path.read_text()))["rule_files"])
        assert files, path
        for f in files:
            assert (path.parent / _str(f)).resolve() in RULE_FILES, (path, f)
