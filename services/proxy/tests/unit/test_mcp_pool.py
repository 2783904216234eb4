"""The pool against in-memory MCP servers: tool checks at start, results, failures, fail-fast when absent."""

from __future__ import annotations

from typing import Annotated

from mcp.server import MCPServer
from mcp.types import CallToolResult
from pydantic import BaseModel

from certify_common.errors import Failure, failure
from certify_common.mcp_service import new_mcp_server, result_of
from certify_proxy.upstream.pool import McpPool


class Price(BaseModel):
    cirx_price_usd: str


def _quote_server(*, complete: bool = True) -> tuple[MCPServer, list[int]]:
    server = new_mcp_server("quote", "test double")
    calls: list[int] = []

    @server.tool()
    async def get_cirx_price() -> Annotated[CallToolResult, Price]:
        """Price."""
        calls.append(1)
        return result_of(Price(cirx_price_usd="0.0044"))

    @server.tool()
    async def calculate_quote(data_size_bytes: int) -> Annotated[CallToolResult, Price]:
        """Quote, or a coded failure for negative sizes."""
        if data_size_bytes < 0:
            return result_of(failure("invalid_data_size", "negative", value=data_size_bytes))
        return result_of(Price(cirx_price_usd=str(data_size_bytes)))

    if complete:

        @server.tool()
        async def check_data_size(data: str) -> Annotated[CallToolResult, Price]:
            """Size."""
            return result_of(Price(cirx_price_usd=str(len(data))))

    return server, calls


async def test_a_connected_server_answers_with_structured_results_and_failures() -> None:
    server, _ = _quote_server()
    pool = McpPool({"quote": server}, call_timeout_s=5)
    await pool.start(wait_s=5)
    try:
        assert await pool.ready("quote")
        assert await pool.call("quote", "calculate_quote", {"data_size_bytes": 7}) == {"cirx_price_usd": "7"}
        assert await pool.call("quote", "calculate_quote", {"data_size_bytes": -1}) == Failure(
            code="invalid_data_size", message="negative", retryable=False, details={"value": -1}
        )
    finally:
        await pool.stop()


async def test_a_server_missing_an_expected_tool_is_never_ready_and_calls_fail_fast() -> None:
    server, calls = _quote_server(complete=False)
    pool = McpPool({"quote": server}, call_timeout_s=5, max_backoff_s=0.5)
    await pool.start(wait_s=0.5)
    try:
        assert not await pool.ready("quote")
        answer = await pool.call("quote", "get_cirx_price", {})
        assert isinstance(answer, Failure)
        assert (answer.code, answer.retryable, answer.details["server"]) == ("upstream_unavailable", True, "quote")
        assert answer.details["retry_after"] >= 1
        assert calls == []
    finally:
        await pool.stop()


async def test_an_unknown_tool_is_an_upstream_error_not_an_exception() -> None:
    server, _ = _quote_server()
    pool = McpPool({"quote": server}, call_timeout_s=5)
    await pool.start(wait_s=5)
    try:
        answer = await pool.call("quote", "no_such_tool", {})
        assert isinstance(answer, Failure)
        assert answer.code == "upstream_error"
    finally:
        await pool.stop()
