"""Proxy under load: /v1/quote and the 402 path at 100 concurrent clients, and the MCP pool's per-call cost."""

from __future__ import annotations

import asyncio
import base64
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from mcp import Client

from bench.stats import report
from certify_proxy.upstream.pool import McpPool
from certify_testkit.stack import Stack

CLIENTS = 100
REQUESTS = 1000
POOL_CALLS = 300
API_KEY = "bench-" + uuid.uuid4().hex
DOCUMENT = base64.b64encode(b"benchmark document " * 20).decode()


async def http_load(base_url: str, path: str, body: Callable[[], dict[str, Any]], expect: int) -> None:
    """POST ``body()`` REQUESTS times from CLIENTS concurrent clients; print latency figures."""
    samples: list[float] = []
    unexpected = 0
    remaining = iter(range(REQUESTS))
    limits = httpx.Limits(max_connections=CLIENTS, max_keepalive_connections=CLIENTS)
    headers = {"X-API-Key": API_KEY}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60, limits=limits) as http:

        async def worker() -> None:
            nonlocal unexpected
            for _ in remaining:
                start = time.perf_counter()
                answer = await http.post(path, json=body())
                samples.append(time.perf_counter() - start)
                unexpected += answer.status_code != expect

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CLIENTS)))
        wall = time.perf_counter() - started
    print(report(f"POST {path} ({CLIENTS} clients, expect {expect})", samples, wall), f"unexpected={unexpected}")


async def pool_overhead(url: str) -> None:
    """calculate_quote through the proxy's long-lived pool vs a new MCP session per call."""
    arguments = {"data_size_bytes": 1024, "cirx_price_usd": "0.0044"}
    pool = McpPool({"quote": url}, call_timeout_s=30)
    await pool.start(wait_s=10)
    try:
        pooled = []
        for _ in range(POOL_CALLS):
            start = time.perf_counter()
            await pool.call("quote", "calculate_quote", arguments)
            pooled.append(time.perf_counter() - start)
    finally:
        await pool.stop()
    print(report("MCP pool: calculate_quote (long-lived session)", pooled))
    fresh = []
    for _ in range(POOL_CALLS // 10):
        start = time.perf_counter()
        async with Client(url) as client:
            await client.call_tool("calculate_quote", arguments)
        fresh.append(time.perf_counter() - start)
    print(report("MCP: calculate_quote (new session per call)", fresh))


def main() -> None:
    os.environ.update(
        {
            "CERTIFY_STACK_PORTS": "auto",
            "DEV_API_KEY": API_KEY,
            "RATE_LIMIT_WRITES_PER_MIN": "1000000",
            "RATE_LIMIT_READS_PER_MIN": "1000000",
            "LOG_LEVEL": "WARNING",
        }
    )
    with tempfile.TemporaryDirectory() as state:
        stack = Stack(Path(state))
        try:
            stack.start()
            proxy = stack.url("proxy")
            asyncio.run(http_load(proxy, "/v1/quote", lambda: {"data": DOCUMENT}, 200))
            new_request = {"data": DOCUMENT, "network": "base-sepolia"}
            asyncio.run(http_load(proxy, "/v1/certify", lambda: {"request_id": uuid.uuid4().hex, **new_request}, 402))
            asyncio.run(pool_overhead(stack.url("quote", "/mcp")))
        finally:
            stack.stop()
