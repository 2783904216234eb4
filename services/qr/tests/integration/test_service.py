"""The QR server as a real process: an MCP client that is not ours (MCP Inspector CLI), and Host checks."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import httpx
import jsonschema
import pytest

from certify_testkit.inspector import inspector
from certify_testkit.paths import vectors
from certify_testkit.processes import ServiceProcess
from certify_testkit.qrdecode import decode_png

pytestmark = pytest.mark.e2e

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "1"}},
}
HEADERS = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def qr_server() -> Iterator[ServiceProcess]:
    with ServiceProcess("certify_qr", env={"ALLOWED_HOSTS": "127.0.0.1:*,localhost:*,qr.certify.svc:8405"}) as server:
        yield server


def test_inspector_lists_the_three_tools_with_output_schemas(qr_server: ServiceProcess) -> None:
    listed = inspector(qr_server.mcp_url, "tools/list")
    tools = {tool["name"]: tool for tool in listed["tools"]}
    assert set(tools) == {"generate_qr_ascii", "generate_qr_image", "encode_x402_to_qr"}
    for tool in tools.values():
        assert tool["description"]
        assert set(tool["outputSchema"]["required"]) == set(tool["outputSchema"]["properties"])


def test_inspector_calls_a_tool_and_gets_a_schema_valid_decodable_image(qr_server: ServiceProcess) -> None:
    schema = {t["name"]: t for t in inspector(qr_server.mcp_url, "tools/list")["tools"]}["encode_x402_to_qr"]
    requirements = vectors("x402_vectors")["vectors"]["v1_base"]["http_402_body_object"]["accepts"][0]
    result = inspector(
        qr_server.mcp_url,
        "tools/call",
        "encode_x402_to_qr",
        {"payment_requirements": requirements, "callback_url": "https://pay.example.com/cb?id=7"},
    )
    assert not result.get("isError")
    payment = result["structuredContent"]
    jsonschema.validate(payment, schema["outputSchema"])
    assert json.loads(result["content"][0]["text"]) == payment
    assert decode_png(base64.b64decode(payment["image"]["base64"])) == payment["qr_data"]
    assert payment["qr_data"].endswith("&uint256=30000&callback=https%3A%2F%2Fpay.example.com%2Fcb%3Fid%3D7")


def test_failures_reach_a_foreign_client_as_error_results_with_the_failure(qr_server: ServiceProcess) -> None:
    # Failures travel as JSON text (no structuredContent), so the TypeScript SDK inside the Inspector,
    # which checks structuredContent against the output schema even on errors, reads them too.
    result = inspector(
        qr_server.mcp_url, "tools/call", "generate_qr_image", {"data": "certify", "format": "png", "size": 10}
    )
    assert result["isError"] is True
    assert "structuredContent" not in result
    failure = json.loads(result["content"][0]["text"])
    assert failure["code"] == "size_out_of_range"
    assert set(failure) == {"code", "message", "retryable", "details"}


@pytest.mark.parametrize(("host", "status"), [("evil.example:8405", 421), ("qr.certify.svc:8405", 200)])
def test_only_allowed_host_headers_reach_mcp(qr_server: ServiceProcess, host: str, status: int) -> None:
    response = httpx.post(qr_server.mcp_url, json=INITIALIZE, headers={**HEADERS, "Host": host}, timeout=10)
    assert response.status_code == status


def test_health_and_metrics_are_served(qr_server: ServiceProcess) -> None:
    assert httpx.get(f"{qr_server.url}/healthz", timeout=5).json() == {"status": "ok", "service": "qr"}
    assert httpx.get(f"{qr_server.url}/readyz", timeout=5).status_code == 200
    metrics = httpx.get(f"{qr_server.url}/metrics", timeout=5).text
    assert 'certify_mcp_tool_calls_total{outcome="ok",server="certify-qr",tool="encode_x402_to_qr"}' in metrics
