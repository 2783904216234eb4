"""A facilitator answer without its verdict: unknown after a settle (retryable), a plain failure after a verify."""

from __future__ import annotations

import httpx
import pytest

from certify_common.evm import NETWORKS
from certify_x402.facilitator import Facilitator
from certify_x402.settings import X402Settings


@pytest.mark.parametrize(("endpoint", "retryable"), [("settle", True), ("verify", False)])
async def test_an_answer_without_its_verdict_is_retryable_only_after_a_settle(endpoint: str, retryable: bool) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"transaction": "0x" + "ab" * 32})

    settings = X402Settings(x402_facilitator_url="https://facilitator.example")
    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        result = await Facilitator(settings, client).post(NETWORKS["base-sepolia"], endpoint, {})  # type: ignore[arg-type]
    assert not isinstance(result, dict)
    assert (result.code, result.retryable) == ("facilitator_bad_answer", retryable)
    assert (result.retry_after is not None) == retryable
