"""A facilitator that does not answer in time: a retryable failure, then the same payment settles once."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from eth_account import Account
from mcp import Client

from certify_common.mcp_service import failure_from_result


async def _calls(url: str, pay: Callable[..., str], fund: Callable[[str], None]) -> tuple[Any, Any, Any]:
    async with Client(url) as client:
        offer = await client.call_tool(
            "create_payment_requirement",
            {"network": "base-sepolia", "amount_atomic": "25000", "resource": "https://certify.test/v1/certify/t1"},
        )
        account = Account.create()
        fund(account.address)
        arguments = {
            "payment_header": pay(offer.structured_content["payment_required_v2"], account.key.hex()),  # type: ignore[index]
            "payment_requirements": offer.structured_content["requirements_v2"],  # type: ignore[index]
        }
        timed_out = await client.call_tool("settle_payment", arguments)
        retried = await client.call_tool("settle_payment", arguments)
        return offer, timed_out, retried


def test_a_hanging_facilitator_gives_a_retryable_failure_and_the_retry_settles_once(
    sandbox: Any, x402_server: Callable[..., Any], pay: Callable[..., str]
) -> None:
    server = x402_server(X402_FACILITATOR_TIMEOUT_S="1", X402_RETRY_AFTER_S="3")
    sandbox.faults(hang_next=1, hang_s=3, only_endpoint="settle")
    before = sandbox.stats()
    try:
        _, timed_out, retried = asyncio.run(
            _calls(server.mcp_url, pay, lambda address: sandbox.fund("base-sepolia", address, 25_000))
        )
    finally:
        sandbox.clear_faults()

    failure = failure_from_result(timed_out)
    assert failure is not None
    assert (failure.code, failure.retryable, failure.retry_after) == ("facilitator_timeout", True, 3)
    assert not retried.is_error
    assert retried.structured_content["success"] is True
    after = sandbox.stats()
    assert after["authorization_transfers"] - before["authorization_transfers"] == 1
    assert after["settle_calls"] - before["settle_calls"] == 2
