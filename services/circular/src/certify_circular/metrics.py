"""Circular-specific metrics (labels from bounded sets only)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

SUBMISSION_TO_EXECUTED = Histogram(
    "certify_circular_submission_to_executed_seconds",
    "Time from a certificate's submission to the first status read that saw it Executed.",
    buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800),
)
TRANSACTION_POLLS = Counter(
    "certify_circular_transaction_polls_total",
    "Circular_GetTransactionbyID_ calls, by purpose (status, proof, recovery).",
    ["purpose"],
)
SUBMISSIONS = Counter(
    "certify_circular_submissions_total",
    "Circular_AddTransaction_ outcomes (accepted, recovered, rejected, unavailable, unknown).",
    ["outcome"],
)
CIRX_BALANCE = Gauge(
    "certify_circular_wallet_balance_cirx",
    "CIRX balance of the service wallet as the circular server last read it (the proxy exports the monitored one).",
)
