"""MCP per-call overhead on loopback: a reused session vs a new session per call, and QR rendering cost."""

from __future__ import annotations

import asyncio
import time

from mcp import Client

from bench.stats import report
from certify_testkit.processes import ServiceProcess

CALLS_REUSED = 300
CALLS_FRESH = 40
CONCURRENCY = 20


async def _timed_calls(url: str, tool: str, arguments: dict[str, object]) -> None:
    async with Client(url) as client:
        await client.call_tool(tool, arguments)  # warm-up
        samples = []
        start = time.perf_counter()
        for _ in range(CALLS_REUSED):
            t0 = time.perf_counter()
            await client.call_tool(tool, arguments)
            samples.append(time.perf_counter() - t0)
        print(report(f"{tool} (one reused session)", samples, time.perf_counter() - start))

        async def one() -> float:
            t0 = time.perf_counter()
            await client.call_tool(tool, arguments)
            return time.perf_counter() - t0

        start = time.perf_counter()
        concurrent: list[float] = []
        for _ in range(CALLS_REUSED // CONCURRENCY):
            concurrent += await asyncio.gather(*(one() for _ in range(CONCURRENCY)))
        print(report(f"{tool} (shared session, {CONCURRENCY} concurrent)", concurrent, time.perf_counter() - start))
    fresh = []
    for _ in range(CALLS_FRESH):
        t0 = time.perf_counter()
        async with Client(url) as client:
            await client.call_tool(tool, arguments)
        fresh.append(time.perf_counter() - t0)
    print(report(f"{tool} (new session per call)", fresh))


def main() -> None:
    with ServiceProcess("certify_qr", env={"LOG_LEVEL": "WARNING"}) as qr:
        asyncio.run(_timed_calls(qr.mcp_url, "generate_qr_ascii", {"data": "https://example.org/pay/abc"}))
        asyncio.run(
            _timed_calls(
                qr.mcp_url, "generate_qr_image", {"data": "https://example.org/pay/abc", "format": "png", "size": 512}
            )
        )
