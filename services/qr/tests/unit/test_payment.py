"""encode_x402_to_qr: the vector EIP-681 URIs from v1 and v2 offers, the callback, and refusals."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client
from mcp.server import MCPServer
from mcp.types import CallToolResult

from certify_common.mcp_runtime import Runtime
from certify_qr.settings import QrSettings
from certify_qr.tools import build_server
from certify_testkit.mcp_calls import assert_matches_output_schema, failure_of
from certify_testkit.paths import vectors

X402 = vectors("x402_vectors")
CALLBACK = "https://pay.example.com/v1/callback?request_id=abc&x=1"
ENCODED_CALLBACK = "https%3A%2F%2Fpay.example.com%2Fv1%2Fcallback%3Frequest_id%3Dabc%26x%3D1"


def offer(vector: str) -> dict[str, Any]:
    case = X402["vectors"][vector]
    body = case.get("payment_required_object") or case["http_402_body_object"]
    return dict(body["accepts"][0])


@pytest.fixture
def server() -> MCPServer:
    return build_server(QrSettings(payment_qr_size_px=400), Runtime("qr", None))


async def encode(server: MCPServer, arguments: dict[str, Any]) -> tuple[dict[str, Any], CallToolResult]:
    async with Client(server) as client:
        tool = next(t for t in (await client.list_tools()).tools if t.name == "encode_x402_to_qr")
        result = await client.call_tool("encode_x402_to_qr", arguments)
    return (assert_matches_output_schema(tool, result) if not result.is_error else {}), result


@pytest.mark.parametrize(
    ("vector", "network", "chain_id"),
    [
        ("v2_base-sepolia", "base-sepolia", 84532),
        ("v1_base-sepolia", "base-sepolia", 84532),
        ("v2_base", "base", 8453),
        ("v1_base", "base", 8453),
        ("v2_arbitrum-sepolia", "arbitrum-sepolia", 421614),
        ("v2_arbitrum", "arbitrum", 42161),
    ],
)
async def test_v1_and_v2_offers_give_the_vector_uri(
    server: MCPServer, vector: str, network: str, chain_id: int
) -> None:
    requirements = offer(vector)
    payment, _ = await encode(server, {"payment_requirements": requirements, "callback_url": CALLBACK})
    expected_uri = X402["eip681_and_metamask"][network]["eip681_uri"]
    assert payment["eip681_uri"] == expected_uri
    assert payment["qr_data"] == f"{expected_uri}&callback={ENCODED_CALLBACK}"
    assert payment["callback_embedded"] is True
    assert payment["callback_url"] == CALLBACK
    assert (payment["network"], payment["chain_id"]) == (network, chain_id)
    assert (payment["token"], payment["pay_to"]) == (requirements["asset"], requirements["payTo"])
    assert payment["amount_atomic"] == "30000"
    assert payment["image"]["format"] == "png"
    assert payment["image"]["width_px"] == 400
    assert "not an x402 payment" in payment["note"]


async def test_a_whole_402_body_uses_its_first_supported_offer(server: MCPServer) -> None:
    body = X402["vectors"]["v1_base"]["http_402_body_object"]
    unsupported = {**body["accepts"][0], "network": "eip155:1"}
    arguments = {"payment_requirements": {**body, "accepts": [unsupported, *body["accepts"]]}, "callback_url": CALLBACK}
    payment, _ = await encode(server, arguments)
    assert payment["eip681_uri"] == X402["eip681_and_metamask"]["base"]["eip681_uri"]


async def test_the_callback_can_be_left_out_of_the_qr(server: MCPServer) -> None:
    arguments = {"payment_requirements": offer("v2_base"), "callback_url": CALLBACK, "embed_callback": False}
    payment, _ = await encode(server, arguments)
    assert payment["qr_data"] == payment["eip681_uri"] == X402["eip681_and_metamask"]["base"]["eip681_uri"]
    assert payment["callback_embedded"] is False
    assert payment["callback_url"] == CALLBACK


@pytest.mark.parametrize(
    "callback_url",
    [
        "ftp://pay.example.com/cb",
        "/v1/callback",
        "https://",
        "javascript:alert(1)",
        "https://pay example.com/cb",
        "https://pay.example.com:99999/cb",
        "https://user:secret@pay.example.com/cb",
        "https://pay.example.com/" + "a" * 2048,
        "",
    ],
)
async def test_a_callback_that_is_not_an_absolute_http_url_is_refused(server: MCPServer, callback_url: str) -> None:
    _, result = await encode(server, {"payment_requirements": offer("v2_base"), "callback_url": callback_url})
    assert failure_of(result)["code"] == "invalid_callback_url"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"network": "eip155:1"}, "unknown_network"),
        ({"payTo": "0x1234"}, "invalid_address"),
        ({"asset": "not-an-address"}, "invalid_address"),
        ({"amount": "0"}, "invalid_amount"),
        ({"amount": "1.5"}, "invalid_amount"),
    ],
)
async def test_unusable_requirements_are_failures(server: MCPServer, change: dict[str, str], code: str) -> None:
    arguments = {"payment_requirements": {**offer("v2_base"), **change}, "callback_url": CALLBACK}
    _, result = await encode(server, arguments)
    assert failure_of(result)["code"] == code


async def test_a_body_without_a_supported_offer_is_a_failure(server: MCPServer) -> None:
    body = {"x402Version": 2, "accepts": [{**offer("v2_base"), "network": "solana"}]}
    _, result = await encode(server, {"payment_requirements": body, "callback_url": CALLBACK})
    assert failure_of(result)["code"] == "no_supported_requirement"
