"""The three tools, called in memory the way an MCP host calls them: schemas, results and structured failures."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import pytest
from mcp import Client

from certify_common.errors import failure
from certify_common.kv import MemoryKeyValue
from certify_common.mcp_runtime import Runtime
from certify_quote.price_cache import PriceCache
from certify_quote.settings import QuoteSettings
from certify_quote.tools import QuoteDeps, build_server
from certify_testkit.mcp_calls import assert_matches_output_schema, failure_of, schema_requires_documented_fields

if TYPE_CHECKING:  # the doubles reach tests as fixtures (conftest.py is not importable under importlib mode)
    from conftest import Clock, ScriptedUpstream
    from mcp.server import MCPServer

SETTINGS = QuoteSettings()


@pytest.fixture
def server(upstream: ScriptedUpstream, clock: Clock) -> MCPServer:
    kv = MemoryKeyValue("tools")
    prices = PriceCache(upstream, kv, SETTINGS, clock=clock)
    return build_server(SETTINGS, Runtime("quote", QuoteDeps(prices, kv, clock)))


async def call(server: MCPServer, tool: str, arguments: dict[str, Any]) -> Any:
    async with Client(server) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        return tools[tool], await client.call_tool(tool, arguments)


async def succeeds(server: MCPServer, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    described, result = await call(server, tool, arguments)
    return assert_matches_output_schema(described, result)


async def fails(server: MCPServer, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    _, result = await call(server, tool, arguments)
    return failure_of(result)


def all_required(schema: dict[str, Any]) -> None:
    for definition in [schema, *schema.get("$defs", {}).values()]:
        assert set(definition.get("required", [])) == set(definition["properties"]), definition


async def test_every_tool_has_a_description_and_an_output_schema_with_every_field_required(server: MCPServer) -> None:
    async with Client(server) as client:
        tools = (await client.list_tools()).tools
    assert {tool.name for tool in tools} == {"check_data_size", "get_cirx_price", "calculate_quote"}
    for tool in tools:
        assert tool.description, tool.name
        assert len(tool.description) > 80, tool.name
        schema_requires_documented_fields(tool)
        assert tool.output_schema is not None
        all_required(tool.output_schema)
        for name, spec in tool.input_schema.get("properties", {}).items():
            assert spec.get("description"), f"{tool.name}.{name} has no description"


async def test_check_data_size_reports_size_encoding_and_digest(server: MCPServer) -> None:
    data = base64.b64encode(b"certify me").decode()
    result = await succeeds(server, "check_data_size", {"data": data, "encoding": "base64"})
    assert result == {
        "size_bytes": 10,
        "size_kb": 0.01,
        "size_human": "10 B",
        "encoding": "base64",
        "sha256": hashlib.sha256(b"certify me").hexdigest(),
    }


async def test_check_data_size_reads_deadbeef_as_hex(server: MCPServer) -> None:
    result = await succeeds(server, "check_data_size", {"data": "deadbeef"})
    assert (result["encoding"], result["size_bytes"]) == ("hex", 4)


async def test_check_data_size_refuses_10_mb_plus_one_byte_as_a_failure(server: MCPServer) -> None:
    data = base64.b64encode(b"\x01" * (10 * 1024 * 1024 + 1)).decode()
    result = await fails(server, "check_data_size", {"data": data, "encoding": "base64"})
    assert result["code"] == "data_too_large"
    assert result["details"] == {"size_bytes": 10 * 1024 * 1024 + 1, "max_bytes": 10 * 1024 * 1024}


async def test_get_cirx_price_returns_the_cached_price(server: MCPServer, clock: Clock) -> None:
    result = await succeeds(server, "get_cirx_price", {})
    assert result == {
        "cirx_price_usd": "0.0044",
        "source": "coingecko",
        "cached_at": clock.now.isoformat().replace("+00:00", "Z"),
        "expires_at": (clock.now + timedelta(minutes=5)).isoformat().replace("+00:00", "Z"),
        "stale": False,
    }


async def test_get_cirx_price_fails_retryably_when_no_price_can_be_had(
    server: MCPServer, upstream: ScriptedUpstream
) -> None:
    upstream.fail = failure("upstream_rate_limited", "429", retryable=True, retry_after=20)
    result = await fails(server, "get_cirx_price", {})
    assert (result["code"], result["retryable"], result["details"]["retry_after"]) == ("price_unavailable", True, 20)


async def test_calculate_quote_fetches_the_price_when_not_given(
    server: MCPServer, upstream: ScriptedUpstream, clock: Clock
) -> None:
    result = await succeeds(server, "calculate_quote", {"data_size_bytes": 2048})
    assert result == {
        "usdc_amount": "0.030000",
        "amount_atomic": 30000,
        "cirx_fee": "4",
        "cirx_price_usd": "0.0044",
        "data_size_bytes": 2048,
        "breakdown": {
            "cirx_cost_usd": "0.0176",
            "service_margin_usd": "0.01144",
            "margin_percent": "65",
            "total_usd": "0.02904",
            "rounded_usdc": "0.030000",
        },
        "valid_until": (clock.now + timedelta(minutes=5)).isoformat().replace("+00:00", "Z"),
    }
    assert upstream.calls == 1


async def test_calculate_quote_uses_a_given_price_and_margin_without_fetching(
    server: MCPServer, upstream: ScriptedUpstream
) -> None:
    result = await succeeds(
        server, "calculate_quote", {"data_size_bytes": 1, "cirx_price_usd": "2.45", "margin_percent": 65}
    )
    assert (result["usdc_amount"], result["amount_atomic"]) == ("16.170000", 16170000)
    assert upstream.calls == 0


@pytest.mark.parametrize(
    ("arguments", "code"),
    [
        ({"data_size_bytes": 10, "margin_percent": 1000.01}, "invalid_margin"),
        ({"data_size_bytes": 10, "margin_percent": "1000.01"}, "invalid_margin"),
        ({"data_size_bytes": 10, "cirx_price_usd": "NaN"}, "invalid_price"),
        ({"data_size_bytes": 10, "cirx_price_usd": "0"}, "invalid_price"),
        ({"data_size_bytes": 10, "cirx_price_usd": "-0.0044"}, "invalid_price"),
        ({"data_size_bytes": -1, "cirx_price_usd": "0.0044"}, "invalid_data_size"),
        ({"data_size_bytes": 10 * 1024 * 1024 + 1}, "data_too_large"),
    ],
)
async def test_calculate_quote_refuses_bad_inputs_with_clear_codes(
    server: MCPServer, upstream: ScriptedUpstream, arguments: dict[str, Any], code: str
) -> None:
    result = await fails(server, "calculate_quote", arguments)
    assert (result["code"], result["retryable"]) == (code, False)
    assert upstream.calls == 0


async def test_calculate_quote_passes_on_price_unavailable(server: MCPServer, upstream: ScriptedUpstream) -> None:
    upstream.fail = failure("upstream_error", "500", retryable=True, status=500)
    result = await fails(server, "calculate_quote", {"data_size_bytes": 10})
    assert (result["code"], result["retryable"]) == ("price_unavailable", True)
