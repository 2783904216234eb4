"""The REST API's answers as models: what the proxy sends (its OpenAPI document is generated from these) and
what :class:`~certify_client.api.CertifyClient` returns.

Times are ISO 8601 strings exactly as sent (UTC offsets kept), amounts decimal strings, nullable fields
``X | None`` without a default so they are always present. A field that is only sometimes present (the
402's ``wallet_links``, ``qr_code_base64`` and ``mobile``) has a default and is left out when not set: dump with
``exclude_unset=True`` (:func:`wire`) to get the bytes the API sent. Documents the proxy passes on from the
x402 protocol (payment requirements) or builds for people (signing instructions) stay JSON objects.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from certify_client.proof import CircularProof


class WireModel(BaseModel):
    """A JSON object of the API; fields are read by name or by their wire alias."""

    model_config = ConfigDict(populate_by_name=True)


def wire(model: BaseModel) -> dict[str, Any]:
    """The JSON object a model stands for, as the API sends it (aliases, only the fields set)."""
    dumped: dict[str, Any] = model.model_dump(mode="json", by_alias=True, exclude_unset=True)
    return dumped


class ErrorBody(WireModel):
    """Every error: a stable snake_case code, a message, whether retrying may help, and details."""

    code: str
    message: str
    retryable: bool
    details: dict[str, Any]


# --- the price -------------------------------------------------------------------------------------------


class PriceBreakdown(WireModel):
    """How the USDC amount was computed, every figure an exact decimal string in USD."""

    cirx_cost_usd: str
    service_margin_usd: str
    margin_percent: str
    total_usd: str
    rounded_usdc: str


class PriceQuote(WireModel):
    """The quote server's price of one certification, as stored with the request."""

    usdc_amount: str = Field(description="Amount to pay in USDC, 6 decimals.")
    amount_atomic: int = Field(description="The same amount in USDC atomic units (10^-6 USDC).")
    cirx_fee: str
    cirx_price_usd: str
    data_size_bytes: int
    breakdown: PriceBreakdown
    valid_until: str


class QuotedPrice(WireModel):
    """The ``quote`` of ``POST /v1/quote``."""

    usdc_amount: str
    amount_atomic: int
    cirx_fee: str
    cirx_price_usd: str
    margin: str = Field(description="The margin applied, in percent.")
    breakdown: PriceBreakdown


class QuoteAnswer(WireModel):
    """``POST /v1/quote``: what certifying the document costs now (nothing is stored)."""

    quote_id: str
    data_hash: str
    data_size_bytes: int
    quote: QuotedPrice
    valid_until: str
    networks_supported: list[str]


# --- the status document ---------------------------------------------------------------------------------


class PaymentOutcome(WireModel):
    """Where a payment stands, as anyone holding the payment link may see it (the payment page): no payer."""

    status: str
    tx_hash: str | None
    network: str
    amount_paid_usdc: str
    settled_at: str | None


class PaymentView(PaymentOutcome):
    """The request's payment (``pending`` while it settles)."""

    payer: str
    block_number: int | None

    def outcome(self) -> PaymentOutcome:
        """The part of it the payment page shows."""
        return PaymentOutcome.model_validate(self.model_dump(include=set(PaymentOutcome.model_fields)))


class CertificationView(WireModel):
    """Where the document was certified on Circular."""

    tx_id: str
    block_id: str | None
    timestamp: str | None
    data_hash: str
    cirx_fee_paid: str | None
    verification_url: str | None
    network: str


class JobProgress(WireModel):
    """The certification job's progress."""

    status: str
    attempts: int
    next_run_at: str | None
    last_error: str | None


class RequestError(WireModel):
    """Why a request failed."""

    code: str
    message: str | None
    retryable: bool
    retry_after: int | None


class HistoryEntry(WireModel):
    """One state transition and how long the request stayed in its target state (open: null)."""

    from_state: str | None = Field(alias="from")
    to: str
    reason: str
    at: str | None
    duration_s: float | None


class StepDurations(WireModel):
    """Seconds each step took (null until it finished)."""

    quote: float | None
    settle: float | None
    submit: float | None
    confirm: float | None


class StatusDocument(WireModel):
    """Everything a client may know about its request (``GET /v1/status/{id}``, the 200/202 of a paid retry,
    webhooks)."""

    request_id: str
    status: str
    status_url: str
    data_hash: str
    network: str
    quote: PriceQuote | None
    payment: PaymentView | None
    certification: CertificationView | None
    certification_job: JobProgress | None
    error: RequestError | None
    history: list[HistoryEntry]
    steps: StepDurations
    created_at: str | None
    updated_at: str | None
    completed_at: str | None
    total_duration_seconds: float | None


# --- the 402 offer ---------------------------------------------------------------------------------------


class OfferPayment(WireModel):
    """What to pay, to whom, on which network; ``requirements`` is the x402 v2 entry to sign for."""

    network: str
    caip2: str
    chain_id: int
    amount_usdc: str
    amount_atomic: str
    pay_to: str
    asset: str
    requirements: dict[str, Any] = Field(description="x402 v2 PaymentRequirements.")
    requirements_v1: dict[str, Any] | None = Field(description="x402 v1 PaymentRequirements, or null.")
    valid_until: str


class WalletLinkView(WireModel):
    """One link of a wallet."""

    kind: str
    url: str
    label: str


class WalletLinks(WireModel):
    """Links opening the payment page in one wallet (client_type browser)."""

    wallet: str
    deep_link: str
    links: list[WalletLinkView]


class MobilePayment(WireModel):
    """How a phone pays (client_type mobile)."""

    opens: str
    qr_ascii: str
    qr_png_base64: str
    note: str


class PaymentRequiredBody(WireModel):
    """402 for a new request: the x402 v1 fields (``x402Version``, ``error``, ``accepts``) then certify's offer.

    The v2 offer travels in the ``PAYMENT-REQUIRED`` header. A paid retry whose payment is refused gets a
    402 with an :class:`ErrorBody` instead (its ``code`` is the x402 reason).
    """

    x402Version: int  # the x402 wire name
    error: str
    accepts: list[dict[str, Any]] = Field(description="x402 v1 PaymentRequirements (empty without a v1 name).")
    request_id: str
    status: str
    quote: PriceQuote
    payment: OfferPayment
    payment_link: str
    qr_code_url: str
    qr_code_base64: str | None = Field(
        None, description="Only for client_type mobile: the QR code PNG, base64 (others fetch qr_code_url)."
    )
    status_url: str
    instructions: dict[str, Any] = Field(description="How to pay, per audience: agent, browser, mobile, manual.")
    wallet_links: list[WalletLinks] | None = Field(None, description="Only for client_type browser.")
    mobile: MobilePayment | None = Field(None, description="Only for client_type mobile.")


# --- webhooks --------------------------------------------------------------------------------------------


class WebhookSecret(WireModel):
    """``GET /v1/webhook-secret``: the key's secret and how webhook signatures are made."""

    webhook_secret: str
    timestamp_header: str
    signature_header: str
    scheme: str


class WebhookEvent(WireModel):
    """The body POSTed to a request's ``callback_url`` when it ends (signed: see :class:`WebhookSecret`)."""

    event: str = Field(description="certification.<status>: certification.completed or certification.failed.")
    status: StatusDocument
    proof: CircularProof | None = Field(description="The circular server's proof once completed, else null.")
