"""Prometheus helpers shared by every service.

Metric names follow ARCHITECTURE.md; labels come only from bounded sets (tool names, outcome
words, upstream names), never from ids or user input. Under gunicorn with several workers set
``PROMETHEUS_MULTIPROC_DIR`` and ``/metrics`` aggregates every worker.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client import REGISTRY as DEFAULT_REGISTRY

MCP_TOOL_CALLS = Counter(
    "certify_mcp_tool_calls_total",
    "MCP tool calls served, by server, tool and outcome (ok, failure, error).",
    ["server", "tool", "outcome"],
)
MCP_TOOL_DURATION = Histogram(
    "certify_mcp_tool_duration_seconds",
    "Time spent serving an MCP tool call.",
    ["server", "tool"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30),
)
UPSTREAM_CALLS = Counter(
    "certify_upstream_calls_total",
    "Calls to outside systems (CoinGecko, facilitator, NAG, RPC), by service, upstream and outcome.",
    ["service", "upstream", "outcome"],
)
UPSTREAM_DURATION = Histogram(
    "certify_upstream_call_duration_seconds",
    "Latency of calls to outside systems.",
    ["service", "upstream"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
HTTP_DURATION = Histogram(
    "certify_http_request_duration_seconds",
    "HTTP requests served, by method, route template and status.",
    ["method", "path", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)


@contextmanager
def upstream_call(service: str, upstream: str) -> Iterator[dict[str, str]]:
    """Time one upstream call; set ``outcome`` in the yielded dict (default ``error`` if it raises)."""
    state = {"outcome": "error"}
    start = time.perf_counter()
    try:
        yield state
    finally:
        UPSTREAM_DURATION.labels(service, upstream).observe(time.perf_counter() - start)
        UPSTREAM_CALLS.labels(service, upstream, state["outcome"]).inc()


def render_latest() -> tuple[bytes, str]:
    """The exposition text for ``/metrics``, aggregated across workers in multiprocess mode."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(DEFAULT_REGISTRY), CONTENT_TYPE_LATEST
