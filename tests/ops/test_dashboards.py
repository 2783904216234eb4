"""The committed dashboards are the generator's output, and every query parses as PromQL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from certify_testkit.promql import metric_names, queried_metrics


def test_the_committed_dashboards_are_what_grafana_generate_py_writes(root: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(root / "grafana" / "generate.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(path.name for path in (root / "grafana" / "dashboards").glob("*.json")) == [
        "oncall.json",
        "overview.json",
    ]


def test_metric_names_come_from_the_parser_not_from_functions_labels_or_keywords() -> None:
    expr = (
        'sum by (le, path) (rate(certify_http_request_duration_seconds_bucket{status=~"5.."}[$__rate_interval]))'
        ' / on (path) group_left certify_jobs_queued > bool 3 or up{job=~"certify.*"} == 0'
        ' or {__name__="certify_dead_letters"} or vector(0)'
    )
    assert metric_names(expr) == {
        "certify_http_request_duration_seconds_bucket",
        "certify_jobs_queued",
        "up",
        "certify_dead_letters",
    }
    with pytest.raises(ValueError, match=r"."):
        metric_names("sum(rate(certify_jobs_queued[5m])")


def test_every_alert_and_panel_queries_certify_metrics_or_known_external_ones(root: Path) -> None:
    used = queried_metrics(root)
    assert "certify_cirx_wallet_balance" in used
    assert "certify_certification_duration_seconds_bucket" in used
    external = {name for name in used if not name.startswith("certify_")}
    assert external == {
        "up",
        "kube_horizontalpodautoscaler_status_current_replicas",
        "kube_horizontalpodautoscaler_spec_max_replicas",
    }
