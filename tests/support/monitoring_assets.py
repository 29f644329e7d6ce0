"""What the monitoring-asset tests compare: the series a freshly built app exports
(the `exported` fixture), the rule files and their promtool cases, and a catalog that
checks a PromQL expression against them.

What the app exports is read the way Prometheus reads it: the exposition of
`create_app(settings, registry=CollectorRegistry())`. YAML is read with PyYAML's safe
loader.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import pytest
import yaml
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.parser import text_string_to_metric_families

from cache.web import ROUTE as BULLETIN_ROUTE
from failover.appkeys import CALLBACKS
from failover.callbacks.runtime import CallbackRuntime
from failover.settings import load_settings
from monitoring.callbacks import BacklogSample
from monitoring.hotpath import LabeledCounter, LabeledHistogram
from monitoring.metrics import Metrics
from switchboard.app import METRICS, create_app
from tests.support.promql import Matcher, parse_promql

ROOT = Path(__file__).resolve().parents[2] / "monitoring"
RULE_FILES = sorted((ROOT / "rules").glob("*.yml"))
RULE_TESTS = sorted((ROOT / "rules" / "tests").glob("*.yml"))
README = ROOT / "README.md"

# Added to every series by the scrape (monitoring/prometheus.yml).
TARGET_LABELS = frozenset({"job", "instance"})
# Series Prometheus makes itself for each target.
SYNTHETIC = {"up": TARGET_LABELS}

SEVERITIES = frozenset({"critical", "warning", "info"})


# -- YAML (PyYAML's safe loader) ----------------------------------------------------------

YamlValue = str | int | float | bool | list["YamlValue"] | dict[str, "YamlValue"] | None


def load_yaml(text: str) -> YamlValue:
    return cast("YamlValue", yaml.safe_load(text))


def _map(value: YamlValue) -> dict[str, YamlValue]:
    assert isinstance(value, dict), value
    return value


def _list(value: YamlValue) -> list[YamlValue]:
    assert isinstance(value, list), value
    return value


def _str(value: YamlValue) -> str:
    assert isinstance(value, str), value
    return value


# -- what the app exports -------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Exported:
    series: dict[str, frozenset[str]]  # queryable name -> label names, target labels too
    routes: frozenset[str]  # values of the `route` label


@dataclass(frozen=True, slots=True)
class _SampledRuntime:
    """Stands in for the callback runtime after its first backlog sample: the backlog
    gauges are built at scrape time from it (monitoring/callbacks.py), and a fresh app
    has not started its runtime."""

    sample: BacklogSample


CONFIG = """
[redis]
url = "redis://127.0.0.1:1/0"  # never connected: create_app only declares its metrics

[[callcenters]]
name = "dublin"
url = "http://127.0.0.1:9"
priority = 1

[[callcenters]]
name = "manila"
url = "http://127.0.0.1:9"
priority = 2
"""


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Exported:
    path = tmp_path_factory.mktemp("monitoring") / "switchboard.toml"
    path.write_text(CONFIG)
    app = create_app(load_settings(path, env={}), registry=CollectorRegistry())
    sample = BacklogSample(pending=1, spooled=0, dead=0, oldest_created_at=None, redis_ok=True)
    app[CALLBACKS] = cast(CallbackRuntime, _SampledRuntime(sample))
    metrics = app[METRICS]
    text = generate_latest(metrics.registry).decode()

    declared = _declared_labels(metrics)
    series: dict[str, frozenset[str]] = {}
    for family in text_string_to_metric_families(text):
        if family.name.endswith("_created"):
            continue
        labels = frozenset(k for s in family.samples for k in s.labels if k != "le")
        if not family.samples:
            if family.name not in declared:
                raise AssertionError(f"{family.name}: no sample and no declared labels")
            labels = declared[family.name]
        for name, extra in _series_names(family.name, family.type):
            series[name] = labels | extra | TARGET_LABELS
    series.update(SYNTHETIC)

    # monitoring/http.py names each handler it wraps `observed_<route>`.
    routes = {
        name.removeprefix("observed_")
        for r in app.router.routes()
        if (name := getattr(r.handler, "__name__", "")).startswith("observed_")
    }
    # /help/bulletins/<id> times itself, outside the `observed` wrapper (cache/web.py).
    routes.add(BULLETIN_ROUTE)
    return Exported(series=series, routes=frozenset(routes))


def _declared_labels(metrics: Metrics) -> dict[str, frozenset[str]]:
    """Label names of families a fresh app exports without samples (nothing counted
    yet), from the metric objects: what the exposition shows after the first count."""
    out: dict[str, frozenset[str]] = {}
    for value in vars(metrics).values():
        if isinstance(value, LabeledCounter | LabeledHistogram):
            out[value.name] = frozenset(value.labels)
        elif isinstance(value, MetricWrapperBase):
            # prometheus-client keeps label names only privately.
            (family,) = value.describe()
            out[family.name] = frozenset(value._labelnames)
    return out


def _series_names(family: str, kind: str) -> list[tuple[str, frozenset[str]]]:
    if kind == "counter":
        return [(f"{family}_total", frozenset())]
    if kind == "histogram":
        return [
            (f"{family}_bucket", frozenset({"le"})),
            (f"{family}_count", frozenset()),
            (f"{family}_sum", frozenset()),
        ]
    if kind == "summary":
        return [(family, frozenset({"quantile"})), (f"{family}_count", frozenset()),
                (f"{family}_sum", frozenset())]  # fmt: skip
    return [(family, frozenset())]


# -- the assets -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Rule:
    name: str  # record or alert name
    expr: str
    labels: dict[str, str]
    annotations: dict[str, str]
    alert: bool


def load_rules() -> list[Rule]:
    rules: list[Rule] = []
    for path in RULE_FILES:
        for group in _list(_map(load_yaml(path.read_text()))["groups"]):
            for raw in _list(_map(group)["rules"]):
                r = _map(raw)
                alert = "alert" in r
                rules.append(
                    Rule(
                        name=_str(r["alert"] if alert else r["record"]),
                        expr=_str(r["expr"]),
                        labels={k: _str(v) for k, v in _map(r.get("labels") or {}).items()},
                        annotations={
                            k: _str(v) for k, v in _map(r.get("annotations") or {}).items()
                        },
                        alert=alert,
                    )
                )
    return rules


def recorded_labels(rules: list[Rule], exported: Exported) -> dict[str, frozenset[str]]:
    """The labels each recording rule's series carries: the labels all its `by (...)`
    clauses keep (minus `le` once histogram_quantile has used it), else the labels of
    what it reads; plus the rule's own labels."""
    known = dict(exported.series)
    out: dict[str, frozenset[str]] = {}
    for rule in rules:
        if rule.alert:
            continue
        q = parse_promql(rule.expr)
        kept = [set(labels) for kw, labels in q.grouping if kw == "by"]
        if kept and not any(kw == "without" for kw, _ in q.grouping):
            labels = set.intersection(*kept)
        else:
            labels = set().union(*(known.get(m, frozenset()) for m in q.metrics))
        if "histogram_quantile" in q.functions:
            labels.discard("le")
        out[rule.name] = known[rule.name] = frozenset(labels | set(rule.labels))
    return out


@dataclass(frozen=True, slots=True, kw_only=True)
class Catalog:
    """Every series an expression may read, with its labels."""

    series: dict[str, frozenset[str]]
    routes: frozenset[str]

    def problems(self, where: str, expr: str) -> list[str]:
        try:
            q = parse_promql(expr)
        except ValueError as exc:
            return [f"{where}: {exc}"]
        out: list[str] = []
        if not q.selectors:
            out.append(f"{where}: reads no metric: {expr!r}")
        for s in q.selectors:
            has = self.series.get(s.metric)
            if has is None:
                out.append(f"{where}: {s.metric} is neither exported nor recorded")
                continue
            for m in s.matchers:
                if m.label not in has:
                    out.append(f"{where}: {s.metric} has no label {m.label!r}")
                if m.label == "route":
                    out.extend(self._route_problems(where, m))
        available = set().union(*(self.series.get(m, frozenset()) for m in q.metrics))
        for kw, labels in q.grouping:
            out.extend(
                f"{where}: {kw} ({label}): no series read here has that label"
                for label in labels
                if label not in available
            )
        return out

    def _route_problems(self, where: str, m: Matcher) -> list[str]:
        if m.op == "=" and m.value not in self.routes:
            return [f"{where}: route={m.value!r} is not a route of the app"]
        if m.op == "=~" and not any(re.fullmatch(m.value, r) for r in self.routes):
            return [f"{where}: route=~{m.value!r} matches no route of the app"]
        return []


def catalog(exported: Exported, rules: list[Rule]) -> Catalog:
    series = dict(exported.series)
    series.update(recorded_labels(rules, exported))
    return Catalog(series=series, routes=exported.routes)


@dataclass(frozen=True, slots=True, kw_only=True)
class RuleTestCases:
    alerts: list[tuple[str, bool]]  # (alertname, expected to fire)
    exprs: list[str]  # promql_expr_test expressions
    input_series: list[str]


def load_rule_tests() -> RuleTestCases:
    cases = RuleTestCases(alerts=[], exprs=[], input_series=[])
    for path in RULE_TESTS:
        for raw in _list(_map(load_yaml(path.read_text()))["tests"]):
            test = _map(raw)
            for s in _list(test.get("input_series") or []):
                cases.input_series.append(_str(_map(s)["series"]))
            for raw_case in _list(test.get("alert_rule_test") or []):
                case = _map(raw_case)
                cases.alerts.append((_str(case["alertname"]), bool(case.get("exp_alerts"))))
            for e in _list(test.get("promql_expr_test") or []):
                cases.exprs.append(_str(_map(e)["expr"]))
    return cases
