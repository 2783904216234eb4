"""Benchmark helpers for ``make bench`` (the lead's bench module calls them): figures, never pass/fail.

- :func:`http_latency`: p50/p95/p99 and throughput of one endpoint under N concurrent clients
  (``/v1/quote``, or the 402 path with fresh request ids).
- :func:`pool_overhead`: per-call time of a tool through the proxy's long-lived MCP pool, against a
  fresh ``mcp.Client`` session per call (what the pool saves).
"""

from __future__ import annotations

import asyncio
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from mcp import Client

from certify_proxy.mcp_pool import McpPool


def summary(samples_s: list[float], wall_s: float) -> dict[str, float]:
    """p50/p95/p99 in milliseconds and requests per second."""
    ordered = sorted(samples_s)
    if not ordered:
        return {"count": 0}

    def pct(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)

    return {
        "count": len(ordered),
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 2),
        "throughput_rps": round(len(ordered) / wall_s, 1) if wall_s > 0 else 0.0,
    }


async def http_latency(
    base_url: str,
    path: str,
    body: Callable[[], dict[str, Any]],
    headers: dict[str, str],
    *,
    clients: int = 100,
    requests: int = 1000,
    expect: int = 200,
) -> dict[str, float]:
    """POST ``body()`` to ``path`` ``requests`` times from ``clients`` concurrent workers."""
    samples: list[float] = []
    errors = 0
    queue: asyncio.Queue[int] = asyncio.Queue()
    for index in range(requests):
        queue.put_nowait(index)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60, limits=limits) as http:

        async def worker() -> None:
            nonlocal errors
            while not queue.empty():
                queue.get_nowait()
                start = time.perf_counter()
                answer = await http.post(path, json=body())
                samples.append(time.perf_counter() - start)
                errors += answer.status_code != expect

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(clients)))
        wall = time.perf_counter() - started
    return {**summary(samples, wall), "unexpected_status": errors}


def new_request_body(data_b64: str, network: str = "base-sepolia") -> Callable[[], dict[str, Any]]:
    """Bodies for the 402 path: a fresh request id each time (each is a new request)."""
    return lambda: {"request_id": f"bench-{uuid.uuid4().hex}", "data": data_b64, "network": network}


async def pool_overhead(
    server: str, url: str, tool: str, arguments: dict[str, Any], calls: int = 200
) -> dict[str, Any]:
    """The same tool called through the pool (one long-lived session) and with a new session per call."""
    pool = McpPool({server: url}, call_timeout_s=30)
    await pool.start(wait_s=10)
    try:
        pooled = []
        for _ in range(calls):
            start = time.perf_counter()
            await pool.call(server, tool, arguments)
            pooled.append(time.perf_counter() - start)
    finally:
        await pool.stop()
    fresh = []
    for _ in range(max(calls // 10, 1)):
        start = time.perf_counter()
        async with Client(url) as client:
            await client.call_tool(tool, arguments)
        fresh.append(time.perf_counter() - start)
    return {"pooled": summary(pooled, sum(pooled)), "fresh_session": summary(fresh, sum(fresh))}
