"""The x402 server, typed: payment requirements, verification, settlement and wallet links."""

from __future__ import annotations

from certify_common.contracts.x402 import (
    BrowserLinkResult,
    PaymentRequirementResult,
    PaymentRequirements,
    SettleResult,
    VerifyResult,
)
from certify_common.errors import Failure
from certify_proxy.upstream.pool import UpstreamClient


class X402(UpstreamClient):
    """Calls to the x402 server's tools; each answers its contract model or a :class:`Failure`."""

    server = "x402"

    async def payment_requirement(
        self, *, network: str, resource: str, amount_atomic: str, description: str
    ) -> PaymentRequirementResult | Failure:
        """The offer of ``amount_atomic`` USDC on ``network`` for ``resource`` (x402 v1 and v2 shapes)."""
        arguments = {
            "network": network,
            "resource": resource,
            "amount_atomic": amount_atomic,
            "description": description,
            "mime_type": "application/json",
        }
        return await self._call("create_payment_requirement", arguments, PaymentRequirementResult)

    async def verify(self, payment_header: str, requirements: PaymentRequirements) -> VerifyResult | Failure:
        """Check a payment header against the offered requirements (no money moves)."""
        arguments = {"payment_header": payment_header, "payment_requirements": requirements.wire()}
        return await self._call("verify_payment", arguments, VerifyResult)

    async def settle(self, payment_header: str, requirements: PaymentRequirements) -> SettleResult | Failure:
        """Settle through the facilitator; the same authorization again replays the first answer."""
        arguments = {"payment_header": payment_header, "payment_requirements": requirements.wire()}
        return await self._call("settle_payment", arguments, SettleResult)

    async def browser_link(
        self, requirements: PaymentRequirements, page_url: str, wallet: str
    ) -> BrowserLinkResult | Failure:
        """A wallet's deep link opening the payment page in its browser, with the EIP-681 alternatives."""
        arguments = {"payment_requirements": requirements.wire(), "page_url": page_url, "wallet": wallet}
        return await self._call("generate_browser_link", arguments, BrowserLinkResult)
