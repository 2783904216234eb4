"""get_cirx_price across real processes sharing Redis, against the CoinGecko stand-in."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pytest
from mcp import Client
from mcp.types import CallToolResult

from certify_testkit.mcp_calls import failure_of
from certify_testkit.processes import wait_until

if TYPE_CHECKING:  # helpers reach tests as fixtures (conftest.py is not importable under importlib mode)
    from conftest import CoinGeckoControl, QuoteFactory, ToolCaller

pytestmark = pytest.mark.integration


async def price_calls(url: str, count: int) -> list[object]:
    async with Client(url) as client:
        return list(await asyncio.gather(*(client.call_tool("get_cirx_price", {}) for _ in range(count))))


def test_fifty_concurrent_calls_over_two_processes_make_one_upstream_request(
    coingecko: CoinGeckoControl, quote_servers: QuoteFactory, redis_url: str, redis_prefix: str
) -> None:
    first, second = quote_servers(2, REDIS_URL=redis_url, REDIS_PREFIX=redis_prefix)
    # A slow upstream keeps the first request in flight while the other 49 calls arrive.
    coingecko.faults(latency_s=1.0)

    async def spread() -> list[object]:
        halves = await asyncio.gather(price_calls(first.mcp_url, 25), price_calls(second.mcp_url, 25))
        return halves[0] + halves[1]

    results = asyncio.run(spread())
    assert len(results) == 50
    prices = {(r.is_error, r.structured_content["cirx_price_usd"]) for r in results}  # type: ignore[attr-defined]
    assert prices == {(False, "0.0044")}
    assert coingecko.hits() == 1


def test_a_failing_upstream_times_out_recovers_then_gives_the_stale_price_then_price_unavailable(
    coingecko: CoinGeckoControl,
    quote_servers: QuoteFactory,
    tool_call: ToolCaller,
    redis_url: str,
    redis_prefix: str,
) -> None:
    (quote,) = quote_servers(
        1,
        REDIS_URL=redis_url,
        REDIS_PREFIX=redis_prefix,
        COINGECKO_TIMEOUT_S="0.5",
        PRICE_CACHE_TTL_S="0.3",
        PRICE_MAX_STALE_S="2",
        PRICE_RETRY_AFTER_S="0.2",
    )
    # A hang with nothing cached: the call gives up at the timeout, a failure, not an exception.
    coingecko.faults(hang_next=1, hang_s=1.5)
    timed_out = failure_of(tool_call(quote, "get_cirx_price"))
    assert (timed_out["code"], timed_out["details"]["reason"]) == ("price_unavailable", "upstream_timeout")

    fresh: dict[str, Any] = {}

    def recovered() -> bool:
        result = tool_call(quote, "get_cirx_price")
        fresh.update(result.structured_content or {})
        return not result.is_error

    wait_until(recovered, timeout_s=10, interval_s=0.1, what="a fresh price after the pause")
    assert fresh["stale"] is False
    coingecko.faults(fail_next=1000, fail_status=429)

    stale: dict[str, Any] = {}

    def served_stale() -> bool:
        stale.update(tool_call(quote, "get_cirx_price").structured_content or {})
        return stale.get("stale") is True

    wait_until(served_stale, timeout_s=10, interval_s=0.1, what="a stale price")
    assert (stale["cirx_price_usd"], stale["cached_at"]) == (fresh["cirx_price_usd"], fresh["cached_at"])

    last: list[CallToolResult] = []

    def unavailable() -> bool:
        last[:] = [tool_call(quote, "get_cirx_price")]
        return bool(last[0].is_error)

    wait_until(unavailable, timeout_s=10, interval_s=0.2, what="price_unavailable")
    failure = failure_of(last[0])
    assert (failure["code"], failure["retryable"], failure["details"]["retry_after"]) == ("price_unavailable", True, 1)
    assert failure["details"]["reason"] in {"upstream_rate_limited", "paused_after_failure"}

    # CoinGecko answers again, but with NaN: refused, never cached.
    coingecko.faults(fail_next=0)
    coingecko.price("NaN")
    reasons: list[str] = []

    def refused_nan() -> bool:
        result = tool_call(quote, "get_cirx_price")
        reasons.append(failure_of(result)["details"]["reason"])
        return reasons[-1] == "upstream_bad_response"

    wait_until(refused_nan, timeout_s=10, interval_s=0.1, what="a NaN price refused")
