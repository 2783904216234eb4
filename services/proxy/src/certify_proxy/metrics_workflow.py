"""Metrics of the durable workflow (labels only from bounded sets)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

JOB_RUNS = Counter(
    "certify_job_attempts_total",
    "Job attempts by kind and outcome (done, retried, dead_lettered, lease_lost).",
    ["kind", "outcome"],
)
WEBHOOK_DELIVERIES = Counter(
    "certify_webhook_deliveries_total", "Webhook delivery attempts by outcome (delivered, failed).", ["outcome"]
)
CIRX_DAILY_BURN = Gauge("certify_cirx_daily_burn", "CIRX spent per day over the last day's balance readings.")
