"""The Grafana dashboard asks only for what the front door exports or the rules record.

Every panel target, annotation and query variable of monitoring/dashboards/ names metrics
that a freshly built app exports, or recording rules, with labels those series carry;
its rows run from customers to callbacks, and it takes its datasource and call centers
as variables. The shared readers are in tests/support/monitoring_assets.py.
"""

from __future__ import annotations

import json
import re
from typing import cast

from tests.support.monitoring_assets import ROOT, Exported, catalog, load_rules
from tests.support.promql import parse_promql

DASHBOARD = ROOT / "dashboards" / "switchboard.json"
DASHBOARD_ROWS = ["Customer outcomes", "Call centers", "Self-help cache", "Callbacks"]


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
