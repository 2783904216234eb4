"""The quote server as a process: an independent MCP client, the Host check, the body limit, and clean logs."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import jsonschema
import pytest

from certify_testkit.inspector import inspector
from certify_testkit.mcp_calls import failure_of
from certify_testkit.plugin import forbid_in_logs, scan_logs
from certify_testkit.processes import ServiceProcess

if TYPE_CHECKING:  # helpers reach tests as fixtures (conftest.py is not importable under importlib mode)
    from conftest import ToolCaller

pytestmark = pytest.mark.integration

MAX = 10 * 1024 * 1024
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "probe", "version": "0"}},
}


API_KEY = f"CG-test-{os.urandom(8).hex()}"


@pytest.fixture(scope="module")
def quote(sandbox_process: ServiceProcess) -> Iterator[ServiceProcess]:
    """One quote server shared by this module's tests: in-process cache, an API key, DEBUG logs (the most a log
    could leak)."""
    forbid_in_logs("quote CoinGecko API key", API_KEY)
    env = {
        "COINGECKO_URL": f"{sandbox_process.url}/coingecko/api/v3",
        "COINGECKO_API_KEY": API_KEY,
        "REDIS_URL": "",
        "LOG_LEVEL": "DEBUG",
    }
    with ServiceProcess("certify_quote", env=env) as process:
        yield process


@pytest.fixture(scope="module")
def listed(quote: ServiceProcess) -> dict[str, Any]:
    """The tools as the MCP Inspector CLI lists them, by name."""
    return {tool["name"]: tool for tool in inspector(quote.mcp_url, "tools/list")["tools"]}


def test_the_mcp_inspector_lists_the_tools_with_their_schemas(listed: dict[str, Any]) -> None:
    tools = listed
    assert set(tools) == {"check_data_size", "get_cirx_price", "calculate_quote"}
    for tool in tools.values():
        schema = tool["outputSchema"]
        assert tool["description"]
        assert set(schema["required"]) == set(schema["properties"])


def test_the_mcp_inspector_gets_the_price_from_the_stand_in(quote: ServiceProcess, listed: dict[str, Any]) -> None:
    schema = listed["get_cirx_price"]
    result = inspector(quote.mcp_url, "tools/call", "get_cirx_price")
    assert result["isError"] is False
    jsonschema.validate(result["structuredContent"], schema["outputSchema"])
    assert result["structuredContent"]["cirx_price_usd"] == "0.0044"


def test_the_mcp_inspector_gets_a_quote_that_matches_the_schema(quote: ServiceProcess, listed: dict[str, Any]) -> None:
    schema = listed["calculate_quote"]
    result = inspector(
        quote.mcp_url, "tools/call", "calculate_quote", {"data_size_bytes": 1024, "cirx_price_usd": "0.0044"}
    )
    assert result["isError"] is False
    jsonschema.validate(result["structuredContent"], schema["outputSchema"])
    assert (result["structuredContent"]["usdc_amount"], result["structuredContent"]["amount_atomic"]) == (
        "0.030000",
        30000,
    )


def test_a_foreign_host_header_on_mcp_is_refused_with_421(quote: ServiceProcess) -> None:
    headers = {"Host": "attacker.example", "Accept": "application/json, text/event-stream"}
    refused = httpx.post(quote.mcp_url, json=INITIALIZE, headers=headers, timeout=10)
    assert refused.status_code == 421
    allowed = httpx.post(quote.mcp_url, json=INITIALIZE, headers={**headers, "Host": f"127.0.0.1:{quote.port}"})
    assert allowed.status_code == 200


def test_10_mb_plus_one_byte_in_hex_reaches_the_tool_and_is_refused_as_data_too_large(
    quote: ServiceProcess, tool_call: ToolCaller
) -> None:
    # Hex is the widest encoding: if this body fits the raised limit, every encoding of the largest document does.
    result = tool_call(quote, "check_data_size", {"data": "ab" * (MAX + 1), "encoding": "hex"})
    failure = failure_of(result)
    assert (failure["code"], failure["details"]) == ("data_too_large", {"size_bytes": MAX + 1, "max_bytes": MAX})


def test_document_bytes_passed_to_check_data_size_never_reach_the_logs(
    quote: ServiceProcess, tool_call: ToolCaller
) -> None:
    document = b"certify-secret-document:" + os.urandom(24)
    forbid_in_logs("quote check_data_size document", document, base64.b64encode(document).decode())
    for data, encoding in ((base64.b64encode(document).decode(), "base64"), (document.hex(), "hex")):
        result = tool_call(quote, "check_data_size", {"data": data, "encoding": encoding})
        assert result.is_error is False
    tool_call(quote, "check_data_size", {"data": document.hex(), "encoding": "base64"})  # a failure path too
    assert "tool call" in quote.logs()  # the server does log these calls
    assert [finding for finding in scan_logs() if finding.endswith(": quote check_data_size document")] == []


def test_the_coingecko_api_key_never_reaches_the_logs(quote: ServiceProcess, tool_call: ToolCaller) -> None:
    assert tool_call(quote, "get_cirx_price").is_error is False  # the key was sent with this request
    assert [finding for finding in scan_logs() if finding.endswith(": quote CoinGecko API key")] == []
