"""The operator's metrics: the wallet gauges (the one source of ``certify_cirx_wallet_balance`` in a
cluster where the proxies' own balance task is off) and its own work."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

WALLET_BALANCE = Gauge(
    "certify_cirx_wallet_balance", "Last CIRX balance read from the service wallet.", ["namespace", "wallet", "network"]
)
WALLET_BURN_PER_HOUR = Gauge(
    "certify_cirx_burn_rate_per_hour", "CIRX spent per hour (last day's readings).", ["namespace", "wallet", "network"]
)
WALLET_HOURS_LEFT = Gauge(
    "certify_cirx_hours_to_depletion",
    "Hours until the wallet is empty at the current burn rate (absent while nothing is spent).",
    ["namespace", "wallet", "network"],
)
BALANCE_CHECKS = Counter(
    "certify_operator_balance_checks_total", "Balance checks by outcome (ok, failed).", ["outcome"]
)
DEAD_LETTER_SYNCS = Counter(
    "certify_operator_dead_letter_syncs_total", "Dead-letter mirror runs by outcome (ok, failed).", ["outcome"]
)
DEAD_LETTER_CHANGES = Counter(
    "certify_operator_dead_letter_changes_total",
    "DeadLetter resources created, deleted, re-queued, completed or failed by the operator.",
    ["change"],
)


def register_series() -> None:
    """Create the label-less series at 0 so rules and dashboards find them before the first event."""
    for outcome in ("ok", "failed"):
        BALANCE_CHECKS.labels(outcome)
        DEAD_LETTER_SYNCS.labels(outcome)
    for change in ("created", "deleted", "requeued", "completed", "failed"):
        DEAD_LETTER_CHANGES.labels(change)
