"""The monitoring assets ask only for what the front door exports.

Every PromQL expression in monitoring/ (recording rules, alerts, the Grafana dashboard)
names metrics that a freshly built app exports, or recording rules defined there, with
labels those series carry; every alert has promtool cases that see it fire and stay
quiet. What the app exports is read the way Prometheus reads it: the exposition of
`create_app(settings, registry=CollectorRegistry())`.

promtool itself (`make rules`) checks syntax and runs the rule tests; this file checks
that the rules and the app agree, which promtool cannot know.

YAML is read with PyYAML's safe loader.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
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

ROOT = Path(__file__).resolve().parents[2] / "monitoring"
RULE_FILES = sorted((ROOT / "rules").glob("*.yml"))
RULE_TESTS = sorted((ROOT / "rules" / "tests").glob("*.yml"))
DASHBOARD = ROOT / "dashboards" / "switchboard.json"
README = ROOT / "README.md"

# Added to every series by the scrape (monitoring/prometheus.yml).
TARGET_LABELS = frozenset({"job", "instance"})
# Series Prometheus makes itself for each target.
SYNTHETIC = {"up": TARGET_LABELS}

SEVERITIES = frozenset({"critical", "warning", "info"})
DASHBOARD_ROWS = ["Customer outcomes", "Call centers", "Self-help cache", "Callbacks"]


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


# -- a PromQL reader ------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
      (?P<space>\s+|\#[^\n]*)
    | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`)
    | (?P<range>\[[^\]]*\])                       # [5m], [1h:1m], [$__rate_interval]
    | (?P<number>(?:0[xX][0-9a-fA-F]+|(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)
                 (?:ms|[smhdwy])?(?:\d+(?:ms|[smhdwy]))*)   # 0.25, 1e3, 5m, 1h30m
    | (?P<variable>\$\{[^}]*\}|\$\w+)             # Grafana: $job, ${DS_PROMETHEUS}
    | (?P<ident>[A-Za-z_:][\w:]*)
    | (?P<op>=~|!~|!=|==|<=|>=|[-+*/%^<>=,(){}@])
    """,
    re.VERBOSE,
)
AGGREGATORS = frozenset({
    "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
    "bottomk", "topk", "quantile", "limitk", "limit_ratio",
})  # fmt: skip
KEYWORDS = frozenset({"and", "or", "unless", "bool", "offset", "atan2", "inf", "nan"})
GROUPING = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})


@dataclass(frozen=True, slots=True, kw_only=True)
class Matcher:
    label: str
    op: str
    value: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Selector:
    metric: str
    matchers: tuple[Matcher, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class PromQL:
    selectors: tuple[Selector, ...]
    grouping: tuple[tuple[str, tuple[str, ...]], ...]  # ("by", ("job", "route")), ...
    functions: frozenset[str]

    @property
    def metrics(self) -> set[str]:
        return {s.metric for s in self.selectors}


def tokenize(expr: str) -> Iterator[tuple[str, str]]:
    pos = 0
    while pos < len(expr):
        match = _TOKEN.match(expr, pos)
        if match is None:
            raise ValueError(f"cannot read PromQL at {expr[pos : pos + 20]!r} in {expr!r}")
        kind = cast(str, match.lastgroup)
        if kind != "space":
            yield kind, match[0]
        pos = match.end()


def _unquote(token: str) -> str:
    if token[0] == '"':
        return cast(str, json.loads(token))
    return token[1:-1]


def parse_promql(expr: str) -> PromQL:
    """Metric selectors (with their label matchers), grouping clauses and function
    names of an expression. Not a full parser: enough to know what it asks for."""
    toks = list(tokenize(expr))
    selectors: list[Selector] = []
    grouping: list[tuple[str, tuple[str, ...]]] = []
    functions: set[str] = set()
    i = 0
    while i < len(toks):
        kind, text = toks[i]
        after = toks[i + 1][1] if i + 1 < len(toks) else ""
        if kind == "ident" and text in GROUPING:
            if after == "(":
                labels, i = _label_list(toks, i + 2)
                grouping.append((text, labels))
            else:
                i += 1
        elif kind == "ident" and (text in AGGREGATORS or after == "("):
            functions.add(text)
            i += 1
        elif kind == "ident" and text.lower() in KEYWORDS:
            i += 1
        elif kind == "ident":
            matchers: tuple[Matcher, ...] = ()
            i += 1
            if after == "{":
                matchers, i = _matchers(toks, i + 1)
            selectors.append(Selector(metric=text, matchers=matchers))
        elif text == "{":  # {__name__="..."}
            matchers, i = _matchers(toks, i + 1)
            names = [m.value for m in matchers if m.label == "__name__" and m.op == "="]
            if len(names) != 1:
                raise ValueError(f"a selector without one metric name in {expr!r}")
            rest = tuple(m for m in matchers if m.label != "__name__")
            selectors.append(Selector(metric=names[0], matchers=rest))
        else:
            i += 1
    return PromQL(selectors=tuple(selectors), grouping=tuple(grouping),
                  functions=frozenset(functions))  # fmt: skip


def _label_list(toks: list[tuple[str, str]], i: int) -> tuple[tuple[str, ...], int]:
    labels: list[str] = []
    while toks[i][1] != ")":
        kind, text = toks[i]
        if kind == "ident":
            labels.append(text)
        elif text != ",":
            raise ValueError(f"unexpected {text!r} in a label list")
        i += 1
    return tuple(labels), i + 1


def _matchers(toks: list[tuple[str, str]], i: int) -> tuple[tuple[Matcher, ...], int]:
    out: list[Matcher] = []
    while toks[i][1] != "}":
        if toks[i][1] == ",":
            i += 1
            continue
        (lkind, label), (_, op), (vkind, value) = toks[i : i + 3]
        if lkind != "ident" or op not in ("=", "!=", "=~", "!~") or vkind != "string":
            raise ValueError(f"not a label matcher: {label} {op} {value}")
        out.append(Matcher(label=label, op=op, value=_unquote(value)))
        i += 3
    return tuple(out), i + 1


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


def dashboard() -> dict[str, object]:
    return cast(dict[str, object], json.loads(DASHBOARD.read_text()))


def dashboard_panels() -> list[dict[str, object]]:
    return cast(list[dict[str, object]], dashboard()["panels"])


def dashboard_queries() -> list[tuple[str, str]]:
    """(where, PromQL) of every panel target and every Prometheus annotation."""
    out = [
        (f"panel {panel['title']!r} {target['refId']}", target["expr"])
        for panel in dashboard_panels()
        for target in cast(list[dict[str, str]], panel.get("targets", []))
    ]
    annotations = cast(dict[str, list[dict[str, str]]], dashboard()["annotations"])
    out.extend((f"annotation {a['name']!r}", a["expr"]) for a in annotations["list"] if "expr" in a)
    return out


def dashboard_variables() -> list[dict[str, object]]:
    return cast(list[dict[str, object]], cast(dict[str, object], dashboard()["templating"])["list"])


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


# -- dashboard --------------------------------------------------------------------------


def test_dashboard_queries_read_only_what_the_app_exports_or_records(
    exported: Exported,
) -> None:
    cat = catalog(exported, load_rules())
    queries = dashboard_queries()
    assert len(queries) > 20
    problems = [p for where, expr in queries for p in cat.problems(where, expr)]
    for var in dashboard_variables():
        if var["type"] != "query":
            continue
        match = re.fullmatch(r"label_values\((.+),\s*(\w+)\)", cast(str, var["definition"]))
        assert match, var["definition"]
        problems += cat.problems(f"variable {var['name']}", match[1])
        metric = parse_promql(match[1]).selectors[0].metric
        if match[2] not in cat.series[metric]:
            problems.append(f"variable {var['name']}: {metric} has no label {match[2]}")
    assert not problems, "\n".join(problems)


def test_dashboard_rows_run_from_customers_to_callbacks() -> None:
    panels = dashboard_panels()
    rows = [p["title"] for p in panels if p["type"] == "row"]
    assert rows == DASHBOARD_ROWS
    assert panels[0]["type"] == "row"
    tops = [(cast(dict[str, int], p["gridPos"])["y"], p["type"] == "row") for p in panels]
    assert tops == sorted(tops, key=lambda t: t[0]), "panels out of row order"
    for p in panels:
        if p["type"] != "row":
            assert p.get("targets"), p["title"]


def test_dashboard_takes_its_datasource_and_call_centers_as_variables() -> None:
    d = dashboard()
    assert 36 <= cast(int, d["schemaVersion"]) <= 41
    inputs = cast(list[dict[str, str]], d["__inputs"])
    assert [(i["name"], i["pluginId"]) for i in inputs] == [("DS_PROMETHEUS", "prometheus")]
    ds = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}
    for p in dashboard_panels():
        if p["type"] == "row":
            continue
        assert p["datasource"] == ds, p["title"]
        for t in cast(list[dict[str, object]], p["targets"]):
            assert t["datasource"] == ds, p["title"]
    variables = {cast(str, v["name"]): v for v in dashboard_variables()}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables["backend"]["type"] == "query"
    assert variables["backend"]["multi"] is True
    ids = [p["id"] for p in dashboard_panels()]
    assert len(ids) == len(set(ids))
    uses_backend = [e for _, e in dashboard_queries() if 'backend=~"$backend"' in e]
    assert len(uses_backend) >= 5
