"""Metrics of the durable workflow (labels only from bounded sets)."""

from __future__ import annotations

from functools import cache

from prometheus_client import Counter, Gauge

JOB_RUNS = Counter(
    "certify_job_attempts_total",
    "Job attempts by kind and outcome (done, retried, dead_lettered, lease_lost).",
    ["kind", "outcome"],
)
WEBHOOK_DELIVERIES = Counter(
    "certify_webhook_deliveries_total", "Webhook delivery attempts by outcome (delivered, failed).", ["outcome"]
)
JOBS_WAITING = Gauge("certify_jobs_queued", "Jobs queued or running, by kind (the queue backlog).", ["kind"])
JOB_OLDEST_AGE = Gauge(
    "certify_job_oldest_due_age_seconds", "How long the most overdue queued job has been due, by kind.", ["kind"]
)
JOBS_STUCK = Gauge("certify_jobs_stuck", "Running jobs past their lease and queued jobs overdue (STUCK_AFTER_S).")
DEAD_LETTERS_WAITING = Gauge("certify_dead_letters", "Dead letters not re-queued yet, by job kind.", ["kind"])


@cache
def balance_gauges() -> tuple[Gauge, Gauge]:
    """``certify_cirx_wallet_balance`` and ``certify_cirx_daily_burn``, registered on first use.

    Only the process that runs the periodic balance check exports them (the proxy's monitor, or the
    Kubernetes operator when the monitor is off): an unset gauge would read 0 and page someone.
    """
    return (
        Gauge("certify_cirx_wallet_balance", "Last CIRX balance read from the service wallet."),
        Gauge("certify_cirx_daily_burn", "CIRX spent per day over the last day's balance readings."),
    )


SETTLEMENTS_UNRESOLVED = Gauge(
    "certify_settlements_unresolved",
    "Payments reserved for settlement whose outcome is not recorded yet (reconciled until resolved, never dropped).",
)
SETTLEMENTS_UNRESOLVED_OLDEST_AGE = Gauge(
    "certify_settlements_unresolved_oldest_age_seconds",
    "Age of the oldest unresolved settlement (0 when there is none): alert when it grows.",
)
