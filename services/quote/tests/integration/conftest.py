"""Processes for the quote server's integration tests: the sandbox (CoinGecko stand-in) and quote servers.

Helpers reach tests as fixtures: conftest.py is not importable under ``--import-mode=importlib``.
"""

import asyncio
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from mcp.types import CallToolResult

from certify_testkit.mcp_calls import call
from certify_testkit.processes import ServiceProcess


class CoinGeckoControl:
    """The sandbox's CoinGecko stand-in, driven over its control API."""

    def __init__(self, sandbox: ServiceProcess) -> None:
        self.url = sandbox.url
        self.api_url = f"{sandbox.url}/coingecko/api/v3"  # what COINGECKO_URL points at

    def reset(self) -> None:
        httpx.post(f"{self.url}/_control/coingecko/reset", timeout=5).raise_for_status()

    def faults(self, **plan: Any) -> None:
        httpx.put(f"{self.url}/_control/faults/coingecko", json=plan, timeout=5).raise_for_status()

    def price(self, price: str) -> None:
        httpx.put(f"{self.url}/_control/coingecko/price", json={"price": price}, timeout=5).raise_for_status()

    def hits(self) -> int:
        response = httpx.get(f"{self.url}/_control/coingecko/calls", timeout=5)
        response.raise_for_status()
        return int(response.json()["simple_price"])


def call_tool(process: ServiceProcess, tool: str, arguments: dict[str, Any] | None = None) -> CallToolResult:
    """One MCP tool call over HTTP from synchronous test code."""
    return asyncio.run(call(process.mcp_url, tool, arguments))


QuoteFactory = Callable[..., list[ServiceProcess]]
ToolCaller = Callable[..., CallToolResult]


@pytest.fixture
def coingecko(sandbox_process: ServiceProcess) -> CoinGeckoControl:
    """The CoinGecko stand-in, reset to its default price with no faults and a zero hit count."""
    control = CoinGeckoControl(sandbox_process)
    control.reset()
    return control


@pytest.fixture
def tool_call() -> ToolCaller:
    return call_tool


@pytest.fixture
def quote_servers(coingecko: CoinGeckoControl) -> Iterator[QuoteFactory]:
    """Start ``count`` quote processes against the sandbox with extra environment; all stopped afterwards."""
    started: list[ServiceProcess] = []

    def start(count: int = 1, **env: str) -> list[ServiceProcess]:
        processes = [
            ServiceProcess("certify_quote", env={"COINGECKO_URL": coingecko.api_url, "REDIS_URL": "", **env})
            for _ in range(count)
        ]
        started.extend(processes)
        with ThreadPoolExecutor(max_workers=count) as pool:
            list(pool.map(lambda process: process.start(ready_path="/readyz"), processes))
        return processes

    yield start
    for process in started:
        process.stop()
    coingecko.reset()  # leave no fault plan behind for the next test
