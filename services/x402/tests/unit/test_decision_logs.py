"""The x402 server logs each decision about money (verified, refused, settled, unknown, resolved from chain),
with codes and transaction hashes but never the payment header or its signature."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable
from typing import Any

import pytest
from eth_account import Account

from certify_testkit.mcp_calls import call, failure_of
from certify_testkit.plugin import forbid_in_logs

RPC = {"x402_rpc_urls": {"base-sepolia": "http://sandbox.test/rpc/base-sepolia"}}
LOGGER = "certify.x402.decisions"


async def _paid(stack: Any, pay: Callable[..., str]) -> tuple[str, dict[str, Any], str]:
    arguments = {"network": "base-sepolia", "amount_usdc": "0.03", "resource": "https://certify.test/v1/certify/r"}
    offer = (await call(stack.server, "create_payment_requirement", arguments)).structured_content
    key = Account.create().key.hex()
    payer = Account.from_key(key).address
    await stack.fund("base-sepolia", payer, 10**9)
    return pay(offer["payment_required_v2"], key), offer["requirements_v2"], payer


async def _tool(stack: Any, name: str, header: str, requirements: dict[str, Any]) -> Any:
    return await call(stack.server, name, {"payment_header": header, "payment_requirements": requirements})


def _decisions(caplog: pytest.LogCaptureFixture) -> list[tuple[str, str | None, str | None]]:
    return [
        (record.getMessage(), getattr(record, "code", None), getattr(record, "transaction", None))
        for record in caplog.records
        if record.name == LOGGER
    ]


@pytest.mark.x402_settings(**RPC)
async def test_verification_settlement_and_resolution_from_chain_are_logged_without_the_payment(
    stack: Any, pay: Callable[..., str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    header, requirements, payer = await _paid(stack, pay)
    signature = json.loads(base64.b64decode(header))["payload"]["signature"]
    forbid_in_logs("payment header", header)
    forbid_in_logs("payment signature", signature)

    assert (await _tool(stack, "verify_payment", header, requirements)).structured_content["is_valid"] is True
    stack.transport.lost_answers_left = 1  # the money moves, the answer is lost
    assert failure_of(await _tool(stack, "settle_payment", header, requirements))["code"] == "facilitator_timeout"
    settled = (await _tool(stack, "settle_payment", header, requirements)).structured_content
    replayed = (await _tool(stack, "verify_payment", header, requirements)).structured_content

    tx = settled["transaction"]
    assert (settled["success"], replayed["reason"]) == (True, "nonce_already_used")
    assert _decisions(caplog) == [
        ("payment verified", None, None),
        ("settlement outcome unknown", "facilitator_timeout", None),
        ("settlement resolved from chain", None, tx),
        ("payment settled", None, tx),
        ("payment refused", "nonce_already_used", None),
    ]
    ours = [record for record in caplog.records if record.name == LOGGER]
    assert {getattr(record, "payer", None) for record in ours} == {payer}
    assert {getattr(record, "network", None) for record in ours} == {"eip155:84532"}
    for record in ours:
        text = json.dumps(record.__dict__, default=str)
        assert header not in text
        assert signature.removeprefix("0x") not in text


async def test_a_payment_that_does_not_decode_is_logged_as_refused_with_its_code(
    stack: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    arguments = {"network": "base-sepolia", "amount_usdc": "0.03", "resource": "https://certify.test/v1/certify/r"}
    offer = (await call(stack.server, "create_payment_requirement", arguments)).structured_content
    garbage = base64.b64encode(b'{"x402Version": 2}').decode()
    assert (await _tool(stack, "verify_payment", garbage, offer["requirements_v2"])).structured_content[
        "is_valid"
    ] is False
    assert failure_of(await _tool(stack, "settle_payment", garbage, offer["requirements_v2"]))["code"] == (
        "invalid_payload"
    )
    assert _decisions(caplog) == [
        ("payment refused", "invalid_payload", None),
        ("settlement refused", "invalid_payload", None),
    ]
