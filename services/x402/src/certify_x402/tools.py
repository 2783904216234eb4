"""The x402 server's MCP tools: validate, call one domain function, map the result.

No ``from __future__ import annotations``: MCP evaluates the signatures to build the schemas.
"""

from dataclasses import dataclass
from decimal import Decimal
from typing import Annotated, Any

from mcp.server import MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from certify_common.contracts.x402 import (
    AuthorizationView,
    BrowserLinkResult,
    LinkView,
    PaymentRequirementResult,
    QrPaymentResult,
    SettleResult,
    VerifyResult,
)
from certify_common.eip681 import eip681_uri, payment_transfer, transfer_from_requirements
from certify_common.errors import Failure
from certify_common.kv import KeyValue
from certify_common.mcp_runtime import Runtime, tool
from certify_common.mcp_service import new_mcp_server, result_of
from certify_x402 import links
from certify_x402.payments import Checked, Payments
from certify_x402.requirements import atomic_amount, build_offer
from certify_x402.settings import X402Settings
from certify_x402.settlement import Settled
from certify_x402.wire import encode_header

INSTRUCTIONS = (
    "Takes USDC payments with x402 (EIP-3009 authorizations, scheme exact). create_payment_requirement makes "
    "the 402 offer; verify_payment checks a payment header against it; settle_payment settles it once (safe to "
    "repeat); generate_browser_link and encode_payment_for_qr help wallet users reach the payment page."
)
_PURE = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
_READS = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True)
_SETTLES = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True)

Requirements = Annotated[
    dict[str, Any],
    Field(description="x402 payment requirements, v2 (amount, CAIP-2 network) or v1 (maxAmountRequired)."),
]
PaymentHeader = Annotated[
    str, Field(description="The payment header value: base64 JSON of an X-PAYMENT (v1) or PAYMENT-SIGNATURE (v2).")
]


@dataclass(frozen=True)
class X402Deps:
    """What the x402 server's lifespan provides: the payment operations and the shared store they use."""

    payments: Payments
    kv: KeyValue


def _verify_result(checked: Checked | Failure) -> VerifyResult | Failure:
    if isinstance(checked, Failure):
        return checked
    payment, verdict = checked.payment, checked.verdict
    auth = payment.authorization if payment is not None else None
    view = None
    if auth is not None:
        wire = auth.as_wire()
        view = AuthorizationView(
            from_address=wire["from"],
            to=wire["to"],
            value=wire["value"],
            valid_after=wire["validAfter"],
            valid_before=wire["validBefore"],
            nonce=wire["nonce"],
        )
    return VerifyResult(
        is_valid=verdict.is_valid,
        payer=verdict.payer,
        reason=verdict.reason,
        message=verdict.message,
        network=payment.network_id if payment is not None else None,
        x402_version=payment.version if payment is not None else None,
        authorization=view,
    )


def _settle_result(settled: Settled | Failure) -> SettleResult | Failure:
    if isinstance(settled, Failure):
        return settled
    answer = settled.answer
    return SettleResult(
        success=True,
        transaction=str(answer.get("transaction", "")),
        network=str(answer.get("network", "")),
        payer=answer.get("payer"),
        amount=answer.get("amount"),
        replayed=settled.replayed,
        settle_response=answer,
        payment_response_header=encode_header(answer),
    )


def build_server(settings: X402Settings, runtime: Runtime[X402Deps]) -> MCPServer:
    """The MCP server with the five x402 tools registered."""
    mcp = new_mcp_server("certify-x402", INSTRUCTIONS)

    @tool(mcp, _PURE)
    async def create_payment_requirement(
        network: Annotated[str, Field(description="base, base-sepolia, arbitrum or arbitrum-sepolia (or CAIP-2).")],
        resource: Annotated[str, Field(description="URL of what is paid for.")],
        amount_usdc: Annotated[str | None, Field(description="Decimal USDC, at most 6 places, e.g. '0.25'.")] = None,
        amount_atomic: Annotated[
            str | None, Field(description="Or the amount in atomic units (integer string).")
        ] = None,
        pay_to: Annotated[str | None, Field(description="Payee address; defaults to the configured payee.")] = None,
        description: Annotated[str, Field(description="What the payment is for, shown to payers.")] = "",
        mime_type: Annotated[str, Field(description="MIME type of the resource.")] = "application/json",
        max_timeout_seconds: Annotated[int | None, Field(ge=10, le=3600, description="Validity bound.")] = None,
    ) -> Annotated[CallToolResult, PaymentRequirementResult]:
        """Build the x402 offer for one network: v2 requirements and the base64 PAYMENT-REQUIRED header, plus the
        v1 requirements and the whole v1 402 body for networks with a v1 name (base, base-sepolia).

        Give exactly one of amount_usdc and amount_atomic. Asset and extra {name, version} (the USDC EIP-712
        domain) come from the network table. Failures: unknown_network (not enabled), invalid_address,
        invalid_amount (zero, negative, not a number), amount_too_precise (more than 6 decimal places).
        """
        decimals = 6
        amount = atomic_amount(amount_usdc, amount_atomic, decimals)
        if isinstance(amount, Failure):
            return result_of(amount)
        offer = build_offer(
            network_name=network,
            enabled=settings.x402_networks,
            amount_atomic=amount,
            pay_to=pay_to or settings.x402_pay_to,
            resource=resource,
            description=description,
            mime_type=mime_type,
            max_timeout_seconds=max_timeout_seconds or settings.x402_max_timeout_seconds,
        )
        if isinstance(offer, Failure):
            return result_of(offer)
        return result_of(
            PaymentRequirementResult(
                network=offer.network.name,
                caip2=offer.network.caip2,
                chain_id=offer.network.chain_id,
                amount_atomic=str(offer.amount_atomic),
                amount_usdc=str(Decimal(offer.amount_atomic).scaleb(-offer.network.decimals)),
                pay_to=offer.pay_to,
                asset=offer.network.usdc_address,
                requirements_v2=offer.requirements_v2,
                payment_required_v2=offer.payment_required_v2,
                payment_required_header=offer.payment_required_header,
                requirements_v1=offer.requirements_v1,
                payment_required_v1=offer.payment_required_v1,
            )
        )

    @tool(mcp, _READS)
    async def verify_payment(
        payment_header: PaymentHeader, payment_requirements: Requirements
    ) -> Annotated[CallToolResult, VerifyResult]:
        """Check a payment against its requirements without moving money: is_valid, payer, reason, the decoded
        authorization.

        Checks scheme, network, asset, EIP-712 domain, recipient, exact amount, validity window and the
        signature (recovered locally; smart wallets via EIP-1271 where an RPC is configured); then that this
        service has not settled or started settling the same authorization (reason nonce_already_used), and,
        where configured, the on-chain balance and authorizationState and the facilitator's /verify. An
        invalid payment is a normal result with is_valid false and a reason code. Failures (isError):
        invalid_requirements, unknown_network, and the retryable rpc_unavailable / facilitator_timeout /
        facilitator_unavailable with details.retry_after.
        """
        return result_of(_verify_result(await runtime.get().payments.verify(payment_header, payment_requirements)))

    @tool(mcp, _SETTLES)
    async def settle_payment(
        payment_header: PaymentHeader, payment_requirements: Requirements
    ) -> Annotated[CallToolResult, SettleResult]:
        """Settle a verified payment through the facilitator: the USDC moves to the payee once, ever.

        Safe to repeat: the same authorization settled again returns the first result (replayed true) with no
        second facilitator call, from any replica. Failures: the verification reason codes (e.g. expired,
        invalid_signature), nonce_already_used (another authorization used this nonce), the facilitator's
        refusal mapped to a code (e.g. insufficient_funds) with details.error_reason; retryable ones carry
        details.retry_after: settlement_pending (broadcast, unconfirmed: call again, it is reconciled, never
        paid twice), settlement_unconfirmed, settlement_in_progress, facilitator_timeout, facilitator_unavailable,
        rpc_unavailable. An outcome left unknown is resolved from the chain where an RPC is configured: a final
        expired, authorization_canceled or nonce_already_used with details.charged false means nothing moved.
        """
        return result_of(_settle_result(await runtime.get().payments.settle(payment_header, payment_requirements)))

    @tool(mcp, _PURE)
    async def generate_browser_link(
        payment_requirements: Requirements,
        page_url: Annotated[str, Field(description="The service's own payment page (absolute https URL).")],
        wallet: Annotated[links.Wallet, Field(description="metamask, coinbase or rainbow.")],
    ) -> Annotated[CallToolResult, BrowserLinkResult]:
        """A deep link that opens page_url inside the chosen wallet's browser (where the page asks the wallet to
        sign a gasless x402 authorization), plus the plain EIP-681 send link as a labelled alternative (the
        payer broadcasts a transfer and pays gas; a facilitator cannot settle it).

        Failures: invalid_page_url, unknown_network, invalid_address, invalid_amount.
        """
        page = links.check_page_url(page_url)
        if isinstance(page, Failure):
            return result_of(page)
        transfer = transfer_from_requirements(payment_requirements)
        if isinstance(transfer, Failure):
            return result_of(transfer)
        wallet_links = links.wallet_links(wallet, page, transfer)
        return result_of(
            BrowserLinkResult(
                wallet=wallet,
                page_url=page,
                deep_link=wallet_links[0].url,
                eip681_uri=eip681_uri(transfer),
                links=[LinkView(kind=link.kind, url=link.url, label=link.label) for link in wallet_links],
                chain_id=transfer.network.chain_id,
                token=transfer.token,
                pay_to=transfer.pay_to,
                amount_atomic=str(transfer.amount_atomic),
            )
        )

    @tool(mcp, _PURE)
    async def encode_payment_for_qr(
        payment_requirements: Requirements,
        callback_url: Annotated[str, Field(description="Absolute http(s) URL the payer's app may call after paying.")],
        embed_callback: Annotated[
            bool, Field(description="Append &callback=<percent-encoded callback_url> to the QR text (qr_data).")
        ] = True,
    ) -> Annotated[CallToolResult, QrPaymentResult]:
        """The EIP-681 URI a payment QR code carries (ethereum:<token>@<chainId>/transfer?address=<payTo>&uint256=
        <amount>), from the same shared encoder as the qr server's encode_x402_to_qr, with the callback URL.

        qr_data is byte-identical to the qr server's for the same input. Failures: invalid_callback_url,
        unknown_network, invalid_address, invalid_amount.
        """
        content = payment_transfer(payment_requirements, callback_url, embed_callback=embed_callback)
        if isinstance(content, Failure):
            return result_of(content)
        transfer = content.transfer
        return result_of(
            QrPaymentResult(
                eip681_uri=content.uri,
                qr_data=content.qr_data,
                callback_embedded=embed_callback,
                callback_url=content.callback_url,
                network=transfer.network.name,
                chain_id=transfer.network.chain_id,
                token=transfer.token,
                pay_to=transfer.pay_to,
                amount_atomic=str(transfer.amount_atomic),
            )
        )

    return mcp
