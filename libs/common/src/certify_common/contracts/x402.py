"""Results of the x402 tools: offers, verification verdicts, settlements, wallet links."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer


class Offered(BaseModel):
    """A JSON object of the x402 protocol as it was offered: the fields certify reads are typed, any other kept.

    It dumps as it was read: a field it did not have stays absent (never null), other keys come along.
    """

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    @model_serializer(mode="wrap")
    def _as_offered(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        fields = type(self).model_fields
        unset = set(fields) - self.model_fields_set
        absent = unset | {fields[name].alias for name in unset if fields[name].alias}
        dumped: dict[str, Any] = handler(self)
        return {key: value for key, value in dumped.items() if key not in absent}


class RequirementsExtra(Offered):
    """``extra`` of exact-scheme requirements: the token's EIP-712 domain name and version."""

    name: str | None = None
    version: str | None = None


class PaymentRequirements(Offered):
    """x402 PaymentRequirements, v2 (``amount``, a CAIP-2 ``network``) or v1 (``maxAmountRequired``, a v1 network
    name, ``resource``…), read by field name or wire name. Dump it ``by_alias`` for the wire: the payer signed
    against this object, so it is passed on to verification and settlement as offered."""

    scheme: str
    network: str = Field(description="CAIP-2 id (v2) or network name (v1).")
    pay_to: str = Field(alias="payTo")
    asset: str | None = Field(None, description="The token contract.")
    amount: str | None = Field(None, description="v2: atomic units.")
    max_amount_required: str | None = Field(None, alias="maxAmountRequired", description="v1: atomic units.")
    max_timeout_seconds: int | None = Field(None, alias="maxTimeoutSeconds")
    extra: RequirementsExtra | None = None

    def wire(self) -> dict[str, Any]:
        """The JSON object as offered, in wire names."""
        return self.model_dump(mode="json", by_alias=True)


class PaymentRequirementResult(BaseModel):
    """The offer for one network, in both protocol versions where the network has a v1 name."""

    network: str = Field(description="certify network name, e.g. base-sepolia.")
    caip2: str = Field(description="x402 v2 network id, eip155:<chainId>.")
    chain_id: int
    amount_atomic: str = Field(description="USDC amount in atomic units (6 decimals).")
    amount_usdc: str = Field(description="The same amount as a decimal USDC string.")
    pay_to: str
    asset: str = Field(description="USDC contract address.")
    requirements_v2: dict[str, Any] = Field(description="v2 PaymentRequirements (one entry of accepts).")
    payment_required_v2: dict[str, Any] = Field(description="The v2 PaymentRequired object.")
    payment_required_header: str = Field(description="PAYMENT-REQUIRED header value: base64 of the v2 object.")
    requirements_v1: dict[str, Any] | None = Field(description="v1 PaymentRequirements, or null (no v1 name).")
    payment_required_v1: dict[str, Any] | None = Field(description="The whole v1 402 JSON body, or null.")


class AuthorizationView(BaseModel):
    """The decoded EIP-3009 authorization (decimal strings as on the wire)."""

    from_address: str
    to: str
    value: str
    valid_after: str
    valid_before: str
    nonce: str


class VerifyResult(BaseModel):
    """Verification verdict: is_valid, or the first failed check's reason code."""

    is_valid: bool
    payer: str | None
    reason: str | None = Field(
        description="null when valid; else invalid_payload (details in message), invalid_x402_version, "
        "unsupported_scheme, version_mismatch, network_mismatch, asset_mismatch, missing_eip712_domain, "
        "recipient_mismatch, amount_mismatch, expired, not_yet_valid, validity_too_long, invalid_signature, "
        "eip712_domain_mismatch, accepted_mismatch (a v2 accepted block that is not the offer), "
        "nonce_already_used, insufficient_funds, facilitator_rejected."
    )
    message: str | None
    network: str | None = Field(description="The network the payment names.")
    x402_version: int | None
    authorization: AuthorizationView | None


class SettleResult(BaseModel):
    """A successful settlement: the facilitator's settle answer, flattened and as the receipt header."""

    success: bool
    transaction: str = Field(description="Transaction hash of the transfer.")
    network: str
    payer: str | None
    amount: str | None
    replayed: bool = Field(description="True when answered from the record of an earlier settle (no new call).")
    settle_response: dict[str, Any] = Field(description="The facilitator's settle answer as received.")
    payment_response_header: str = Field(description="PAYMENT-RESPONSE / X-PAYMENT-RESPONSE header value.")


class LinkView(BaseModel):
    """One labelled link."""

    kind: str = Field(description="wallet_browser, eip681_transfer or metamask_send.")
    url: str
    label: str = Field(description="What the link does, for people.")


class BrowserLinkResult(BaseModel):
    """Wallet deep link to the payment page, plus the plain EIP-681 alternatives."""

    wallet: str
    page_url: str
    deep_link: str = Field(description="Opens page_url inside the wallet's browser.")
    eip681_uri: str
    links: list[LinkView]
    chain_id: int
    token: str
    pay_to: str
    amount_atomic: str


class QrPaymentResult(BaseModel):
    """What a payment QR code encodes."""

    eip681_uri: str = Field(description="ethereum:<token>@<chainId>/transfer?address=<payTo>&uint256=<amount>.")
    qr_data: str = Field(
        description="The text to put in the QR code: eip681_uri, plus &callback=<percent-encoded> if embedded."
    )
    callback_embedded: bool
    callback_url: str
    network: str
    chain_id: int
    token: str
    pay_to: str
    amount_atomic: str
