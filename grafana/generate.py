"""Grafana dashboards as code (grafana-foundation-sdk), written to grafana/dashboards/*.json.

``python grafana/generate.py`` rewrites the JSON; ``--check`` exits 1 when the committed JSON differs
from what this file generates (tests/ops/test_dashboards.py runs the check). Every query reads one
Prometheus data source chosen by the ``datasource`` variable.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from grafana_foundation_sdk.builders import dashboard, prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DataSourceRef

OUT = Path(__file__).resolve().parent / "dashboards"
DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
FINAL_RATE = "sum(rate(certify_certifications_total[$__rate_interval]))"


def query(expr: str, legend: str = "") -> prometheus.Dataquery:
    built = prometheus.Dataquery().expr(expr)
    return built.legend_format(legend) if legend else built


def series(title: str, unit: str, *queries: prometheus.Dataquery, width: int = 12) -> timeseries.Panel:
    panel = timeseries.Panel().title(title).unit(unit).datasource(DATASOURCE).height(8).span(width)
    for ref, item in zip("ABCDEFGH", queries, strict=False):
        panel = panel.with_target(item.ref_id(ref))
    return panel


def single(title: str, unit: str, expr: str, width: int = 6) -> stat.Panel:
    panel = stat.Panel().title(title).unit(unit).datasource(DATASOURCE).height(5).span(width)
    return panel.with_target(query(expr).ref_id("A"))


def base(uid: str, title: str, description: str) -> dashboard.Dashboard:
    return (
        dashboard.Dashboard(title)
        .uid(uid)
        .description(description)
        .tags(["certify"])
        .refresh("1m")
        .time("now-6h", "now")
        .timezone("utc")
        .with_variable(dashboard.DatasourceVariable("datasource").label("Data source").type("prometheus"))
    )


def overview() -> dashboard.Dashboard:
    """What the service delivers: certifications, payments, the wallet, the API, the queue, MCP calls."""
    quantile = (
        "histogram_quantile({q}, sum by (le) (rate(certify_certification_duration_seconds_bucket[$__rate_interval])))"
    )
    return (
        base("certify-overview", "certify / overview", "Certifications, payments, CIRX wallet, API, queue, MCP.")
        .with_row(dashboard.Row("Service level"))
        .with_panel(
            single(
                "Success rate (7 days)",
                "percentunit",
                'sum(increase(certify_certifications_total{status="completed"}[7d]))'
                " / sum(increase(certify_certifications_total[7d]))",
            )
        )
        .with_panel(
            single(
                "Payment verification success (1 h)",
                "percentunit",
                'sum(increase(certify_payment_verifications_total{result="valid"}[1h]))'
                " / sum(increase(certify_payment_verifications_total[1h]))",
            )
        )
        .with_panel(single("CIRX balance", "none", "min(certify_cirx_wallet_balance)"))
        .with_panel(single("Time to depletion", "h", "min(certify_cirx_hours_to_depletion)"))
        .with_panel(
            series(
                "Certification time, payment verified → completed",
                "s",
                query(quantile.format(q="0.5"), "p50"),
                query(quantile.format(q="0.95"), "p95"),
                query(quantile.format(q="0.99"), "p99"),
            )
        )
        .with_panel(
            series(
                "Certifications by final status",
                "reqps",
                query("sum by (status) (rate(certify_certifications_total[$__rate_interval]))", "{{status}}"),
                query(
                    "sum by (status) (rate(certify_certifications_recovered_total[$__rate_interval]))",
                    "recovered {{status}}",
                ),
            )
        )
        .with_panel(
            series(
                "Payment verifications by result",
                "reqps",
                query("sum by (result) (rate(certify_payment_verifications_total[$__rate_interval]))", "{{result}}"),
            )
        )
        .with_panel(
            series(
                "CIRX wallet",
                "none",
                query("certify_cirx_wallet_balance", "balance {{wallet}} {{network}}"),
                query("certify_cirx_burn_rate_per_hour", "burn per hour {{wallet}}"),
            )
        )
        .with_row(dashboard.Row("HTTP API"))
        .with_panel(
            series(
                "p95 latency per endpoint",
                "s",
                query(
                    "histogram_quantile(0.95, sum by (le, method, path)"
                    " (rate(certify_http_request_duration_seconds_bucket[$__rate_interval])))",
                    "{{method}} {{path}}",
                ),
            )
        )
        .with_panel(
            series(
                "5xx ratio per endpoint",
                "percentunit",
                query(
                    'sum by (method, path) (rate(certify_http_request_duration_seconds_count{status=~"5.."}'
                    "[$__rate_interval])) / sum by (method, path)"
                    " (rate(certify_http_request_duration_seconds_count[$__rate_interval]))",
                    "{{method}} {{path}}",
                ),
            )
        )
        .with_row(dashboard.Row("Queue and MCP"))
        .with_panel(
            series(
                "Queue depth and dead letters",
                "none",
                query("max by (kind) (certify_jobs_queued)", "queued {{kind}}"),
                query("max by (kind) (certify_dead_letters)", "dead letters {{kind}}"),
            )
        )
        .with_panel(
            series(
                "MCP call p95 per server and tool",
                "s",
                query(
                    "histogram_quantile(0.95, sum by (le, server, tool)"
                    " (rate(certify_mcp_client_call_duration_seconds_bucket[$__rate_interval])))",
                    "{{server}} {{tool}}",
                ),
            )
        )
    )


def oncall() -> dashboard.Dashboard:
    """What an on-call SRE opens first: readiness, stuck work, retries, upstreams, the operator."""
    return (
        base("certify-oncall", "certify / on-call", "Readiness, stuck work, retries, upstream systems, operator.")
        .with_panel(single("MCP servers without a session", "none", "count(certify_mcp_server_up == 0) or vector(0)"))
        .with_panel(single("Stuck jobs", "none", "max(certify_jobs_stuck)"))
        .with_panel(single("Dead letters waiting", "none", "sum(max by (kind) (certify_dead_letters))"))
        .with_panel(single("Oldest overdue job", "s", "max(certify_job_oldest_due_age_seconds)"))
        .with_panel(
            series(
                "MCP sessions per server (1 = up)",
                "none",
                query("min by (server) (certify_mcp_server_up)", "{{server}}"),
            )
        )
        .with_panel(
            series(
                "Job attempts by kind and outcome",
                "ops",
                query(
                    "sum by (kind, outcome) (rate(certify_job_attempts_total[$__rate_interval]))",
                    "{{kind}} {{outcome}}",
                ),
            )
        )
        .with_panel(
            series(
                "Upstream calls by outcome",
                "ops",
                query(
                    "sum by (service, upstream, outcome) (rate(certify_upstream_calls_total[$__rate_interval]))",
                    "{{service}} → {{upstream}} {{outcome}}",
                ),
            )
        )
        .with_panel(
            series(
                "MCP tools served by outcome",
                "ops",
                query(
                    "sum by (server, tool, outcome) (rate(certify_mcp_tool_calls_total[$__rate_interval]))",
                    "{{server}} {{tool}} {{outcome}}",
                ),
            )
        )
        .with_panel(
            series(
                "Webhooks and rate limiting",
                "ops",
                query(
                    "sum by (outcome) (rate(certify_webhook_deliveries_total[$__rate_interval]))", "webhook {{outcome}}"
                ),
                query("sum by (kind) (rate(certify_rate_limited_total[$__rate_interval]))", "rate limited {{kind}}"),
            )
        )
        .with_panel(
            series(
                "Operator: balance checks and dead-letter mirroring",
                "ops",
                query(
                    "sum by (outcome) (rate(certify_operator_balance_checks_total[$__rate_interval]))",
                    "balance {{outcome}}",
                ),
                query(
                    "sum by (outcome) (rate(certify_operator_dead_letter_syncs_total[$__rate_interval]))",
                    "sync {{outcome}}",
                ),
                query(
                    "sum by (change) (rate(certify_operator_dead_letter_changes_total[$__rate_interval]))",
                    "DeadLetter {{change}}",
                ),
            )
        )
    )


DASHBOARDS = {"overview": overview, "oncall": oncall}


def rendered() -> dict[str, str]:
    """File name → JSON text of every dashboard (panels numbered in order)."""
    texts = {}
    for name, build in DASHBOARDS.items():
        model = build().build()
        for number, panel in enumerate(model.panels or [], start=1):
            panel.id_val = number
        texts[f"{name}.json"] = json.dumps(model, cls=JSONEncoder, indent=2, sort_keys=True) + "\n"
    return texts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if the committed JSON is not up to date")
    args = parser.parse_args()
    stale = []
    for name, text in rendered().items():
        path = OUT / name
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(name)
        else:
            OUT.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
    if stale:
        print("out of date (run python grafana/generate.py):", ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
