"""The proxy's domain metrics (names from ARCHITECTURE.md; labels only from bounded sets)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from certify_proxy.queue.metrics import WEBHOOK_DELIVERIES

CERTIFICATIONS = Counter(
    "certify_certifications_total", "Certification requests by first final status (each request once).", ["status"]
)
CERTIFICATIONS_RECOVERED = Counter(
    "certify_certifications_recovered_total",
    "Failed requests re-queued by an operator that reached a final status again (already counted as failed).",
    ["status"],
)
CERTIFICATION_DURATION = Histogram(
    "certify_certification_duration_seconds",
    "From payment verified to completed (first completions), by client type.",
    ["client_type"],
    buckets=(1, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600),
)
PAYMENT_VERIFICATIONS = Counter(
    "certify_payment_verifications_total", "Payment verifications by result (valid or the reason code).", ["result"]
)
STATE_TRANSITIONS = Counter("certify_state_transitions_total", "Lifecycle transitions by target state.", ["to_state"])
MCP_CLIENT_CALLS = Counter(
    "certify_mcp_client_calls_total",
    "MCP tool calls made by the proxy, by server, tool and outcome.",
    ["server", "tool", "outcome"],
)
MCP_CLIENT_DURATION = Histogram(
    "certify_mcp_client_call_duration_seconds",
    "Round trip of MCP tool calls made by the proxy.",
    ["server", "tool"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
MCP_SERVER_UP = Gauge("certify_mcp_server_up", "1 while the proxy holds a working session to the server.", ["server"])
OFFER_CACHE_LOOKUPS = Counter(
    "certify_offer_cache_lookups_total",
    "Offers of 402 answers by network and source: hit (this process), shared (Redis) or miss (asked the servers).",
    ["network", "source"],
)
OFFER_CACHE_AGE = Gauge(
    "certify_offer_cache_age_seconds", "Age of the cached offer last served, by network (seconds).", ["network"]
)
RATE_LIMITED = Counter("certify_rate_limited_total", "Requests refused by the rate limiter, by class.", ["kind"])


def register_series() -> None:
    """Create the series of bounded label sets at 0, so rules and dashboards find them before any traffic."""
    for status in ("completed", "failed"):
        CERTIFICATIONS.labels(status)
        CERTIFICATIONS_RECOVERED.labels(status)
    for kind in ("writes", "reads", "paid_retries"):
        RATE_LIMITED.labels(kind)
    for outcome in ("delivered", "failed"):
        WEBHOOK_DELIVERIES.labels(outcome)
