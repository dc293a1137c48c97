"""The shipped dashboard and alert rules are well-formed and speak of metrics newsd exports.

`promtool check rules` runs too when promtool is installed (Debian: `apt-get install prometheus`);
the end-to-end metrics test (tests/test_ops.py) checks every metric named here against a real
`/metrics` page.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import yaml

from tests.conftest import REPO

ALERTS = REPO / "deploy" / "prometheus" / "alerts.yml"
DASHBOARD = REPO / "deploy" / "grafana" / "newsd.json"
_METRIC = re.compile(r"\b((?:newsd|process)_[a-z_]+)")
_SUFFIXES = ("_bucket", "_count", "_sum", "_total")


def family(name: str) -> str:
    """A sample name without the suffix Prometheus adds (`_total`, `_bucket`, ...)."""
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            return name.removesuffix(suffix)
    return name


def alert_rules() -> list[dict[str, object]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def dashboard_exprs() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [target["expr"] for panel in panels for target in panel["targets"]]


def metric_families_used() -> set[str]:
    """Every newsd_* / process_* metric family named by an alert or a dashboard panel."""
    exprs = [str(rule["expr"]) for rule in alert_rules()] + dashboard_exprs()
    return {family(name) for expr in exprs for name in _METRIC.findall(expr)}


def test_alert_rules_cover_the_operational_risks_and_are_complete():
    """The rules include the five alerts operations asked for, and each has an expression,
    a `for` duration, a severity and a summary."""
    rules = alert_rules()
    names = {rule["alert"] for rule in rules}
    assert {
        "NewsdFeedStalled",
        "NewsdExtractionEmptyRateHigh",
        "NewsdBrokerUnreachable",
        "NewsdErrorTopicGrowing",
        "NewsdDedupIndexNearBudget",
    } <= names
    for rule in rules:
        assert rule["expr"] and rule["for"], rule["alert"]
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert rule["annotations"]["summary"], rule["alert"]
    if shutil.which("promtool"):
        check = subprocess.run(
            ["promtool", "check", "rules", str(ALERTS)], capture_output=True, text=True, check=False
        )
        assert check.returncode == 0, check.stdout + check.stderr


def test_dashboard_is_grafana_json_with_a_query_in_every_panel():
    """Unique panel ids, a Prometheus query in every panel, the datasource as a variable."""
    dashboard = json.loads(DASHBOARD.read_text())
    panels = dashboard["panels"]
    assert dashboard["uid"] and dashboard["title"] == "newsd"
    assert len({panel["id"] for panel in panels}) == len(panels)
    assert all(panel["targets"] and all(t["expr"] for t in panel["targets"]) for panel in panels)
    assert dashboard["templating"]["list"][0]["type"] == "datasource"
    assert {"newsd_ready", "newsd_events_published", "newsd_queue_depth"} <= metric_families_used()
