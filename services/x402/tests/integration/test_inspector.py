"""All five tools answer the MCP Inspector CLI (an MCP client that is not ours), results valid per schema."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import jsonschema
from eth_account import Account

from certify_common.eip681 import eip681_from_requirements
from certify_testkit.inspector import inspector


def test_the_inspector_lists_and_calls_every_tool(sandbox: Any, x402_pair: list[Any], pay: Callable[..., str]) -> None:
    server = x402_pair[1]
    listed = {tool["name"]: tool for tool in inspector(server.mcp_url, "tools/list")["tools"]}
    assert set(listed) == {
        "create_payment_requirement",
        "verify_payment",
        "settle_payment",
        "generate_browser_link",
        "encode_payment_for_qr",
    }
    for tool in listed.values():
        assert tool["description"]
        assert set(tool["outputSchema"]["required"]) == set(tool["outputSchema"]["properties"])

    def called(name: str, args: dict[str, Any]) -> dict[str, Any]:
        result = inspector(server.mcp_url, "tools/call", name, args)
        assert not result.get("isError"), result
        jsonschema.validate(result["structuredContent"], listed[name]["outputSchema"])
        return result["structuredContent"]  # type: ignore[no-any-return]

    offer = called(
        "create_payment_requirement",
        {"network": "base-sepolia", "amount_usdc": "0.02", "resource": "https://certify.test/v1/certify/i1"},
    )
    requirements = offer["requirements_v2"]
    account = Account.create()
    sandbox.fund("base-sepolia", account.address, 20_000)
    payment = {
        "payment_header": pay(offer["payment_required_v2"], account.key.hex()),
        "payment_requirements": requirements,
    }

    assert called("verify_payment", payment)["is_valid"] is True
    settled = called("settle_payment", payment)
    assert settled["success"] is True
    assert settled["transaction"].startswith("0x")
    link = called(
        "generate_browser_link",
        {"payment_requirements": requirements, "page_url": "https://pay.certify.test/x402/i1", "wallet": "coinbase"},
    )
    assert link["deep_link"] == "https://go.cb-w.com/dapp?cb_url=https%3A%2F%2Fpay.certify.test%2Fx402%2Fi1"
    qr = called("encode_payment_for_qr", {"payment_requirements": requirements, "callback_url": "https://c.test/cb"})
    assert qr["eip681_uri"] == eip681_from_requirements(requirements)

    # "W10=" is base64 of [], a JSON array: not a payment.
    refused = inspector(server.mcp_url, "tools/call", "settle_payment", {**payment, "payment_header": "W10="})
    assert refused["isError"] is True
    assert json.loads(refused["content"][0]["text"])["code"] == "invalid_payload"
