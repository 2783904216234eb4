"""Metric names a PromQL expression reads, parsed by a real PromQL parser (``promql-parser``).

Used by the tests that check every metric an alert or a dashboard panel queries is exported
(:func:`queried_metrics` collects them from ``alerts/`` and ``grafana/dashboards/``).
Grafana's ``$__rate_interval``-style variables are replaced by a duration before parsing.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import promql_parser
import yaml

_GRAFANA_VARIABLE = re.compile(r"\$__\w+|\$\{__\w+\}")


def metric_names(expr: str) -> set[str]:
    """Every metric name selected in ``expr`` (``ValueError`` when it is not valid PromQL)."""
    names: set[str] = set()

    def visit(node: object) -> None:
        if isinstance(node, promql_parser.VectorSelector):
            if node.name:
                names.add(str(node.name))
            for matcher in node.matchers.matchers:
                if matcher.name == "__name__":
                    names.add(str(matcher.value))

    promql_parser.walk(promql_parser.parse(_GRAFANA_VARIABLE.sub("5m", expr)), visit)
    return names


def _dashboard_exprs(node: object) -> list[str]:
    if isinstance(node, dict):
        found = [str(node["expr"])] if isinstance(node.get("expr"), str) else []
        return found + [expr for value in node.values() for expr in _dashboard_exprs(value)]
    if isinstance(node, list):
        return [expr for value in node for expr in _dashboard_exprs(value)]
    return []


def queried_metrics(root: Path) -> dict[str, set[str]]:
    """Metric name → where it is queried (``alert <name>`` or ``dashboard <file>``), over alerts/ and grafana/."""
    used: dict[str, set[str]] = {}
    for path in sorted((root / "alerts").glob("*.rules.yaml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                for name in metric_names(str(rule["expr"])):
                    used.setdefault(name, set()).add(f"alert {rule.get('alert') or rule.get('record')}")
    for path in sorted((root / "grafana" / "dashboards").glob("*.json")):
        for expr in _dashboard_exprs(json.loads(path.read_text())):
            for name in metric_names(expr):
                used.setdefault(name, set()).add(f"dashboard {path.name}")
    return used
