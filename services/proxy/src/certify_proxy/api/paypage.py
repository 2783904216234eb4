"""The payment page's server side: its HTML, the JSON view its script polls, its assets and headers.

The page is plain HTML, CSS and JavaScript from the package (no build step, no third-party host): the
script asks an injected EIP-1193 wallet for ``eth_signTypedData_v4`` of the EIP-3009 authorization and
posts the x402 payment to the token-guarded callback. Everything the script needs comes from
:func:`page_view`, which shows only what the holder of the public link may see.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from html import escape
from pathlib import Path
from string import Template
from typing import Any

from pydantic import BaseModel, Field

from certify_client.models import CertificationView, PaymentOutcome, RequestError, StatusDocument
from certify_common import eip3009, evm
from certify_common.contracts.x402 import PaymentRequirementResult, PaymentRequirements, RequirementsExtra
from certify_common.evm import NETWORKS
from certify_proxy.certification.offers import stored_terms
from certify_proxy.certification.states import AWAITING_PAYMENT, State
from certify_proxy.store.models import CertificationRequest, aware

STATIC_DIR = Path(__file__).parent / "static"

#: The assets the page loads (name → media type); nothing else is served from the folder.
ASSETS: dict[str, str] = {
    "eip1193.js": "text/javascript; charset=utf-8",
    "pay.js": "text/javascript; charset=utf-8",
    "pay.css": "text/css; charset=utf-8",
}
ASSET_PREFIX = "/pay-assets"

#: Self-only: the page's script and style come from us, it talks only to us, nobody may frame it.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
PAGE_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}


def chain_parameters(network: str) -> dict[str, Any]:
    """The EIP-3085 ``wallet_addEthereumChain`` parameters of a network, from the network table."""
    return evm.chain_parameters(NETWORKS[network])


def _amount_usdc(request: CertificationRequest, x402: PaymentRequirementResult | None) -> str:
    if x402 is not None:
        return x402.amount_usdc
    return str(Decimal(request.amount_atomic or 0).scaleb(-NETWORKS[request.network].decimals))


class PageQuote(BaseModel):
    """What the page asks to pay, and for how long the offer holds."""

    amount_usdc: str
    amount_atomic: str
    pay_to: str | None
    asset: str | None
    valid_until: str | None
    expires_in_s: int | None


class PageView(BaseModel):
    """``GET /pay/{id}/status``: what the page's script reads (no history, jobs or API-key details)."""

    request_id: str
    status: str
    awaiting_payment: bool
    file_name: str | None
    data_hash: str
    data_size_bytes: int
    network: str
    server_time: int = Field(description="Unix seconds on the server (the page's clock check).")
    quote: PageQuote
    chain: dict[str, Any] = Field(description="EIP-3085 wallet_addEthereumChain parameters.")
    typed_data: dict[str, Any] | None = Field(description="EIP-712 domain and types to sign (no message).")
    accepted: PaymentRequirements | None = Field(description="The x402 v2 PaymentRequirements paid against.")
    max_timeout_s: int
    payment: PaymentOutcome | None
    certification: CertificationView | None
    error: RequestError | None
    completed_at: str | None


def _quote(request: CertificationRequest, x402: PaymentRequirementResult | None, now: datetime) -> PageQuote:
    valid_until = aware(request.quote_valid_until)
    return PageQuote(
        amount_usdc=_amount_usdc(request, x402),
        amount_atomic=x402.amount_atomic if x402 is not None else str(request.amount_atomic or 0),
        pay_to=x402.pay_to if x402 is not None else None,
        asset=x402.asset if x402 is not None else None,
        valid_until=valid_until.isoformat() if valid_until is not None else None,
        expires_in_s=int((valid_until - now).total_seconds()) if valid_until is not None else None,
    )


def _accepted(x402: PaymentRequirementResult | None) -> PaymentRequirements | None:
    return PaymentRequirements.model_validate(x402.requirements_v2) if x402 is not None else None


def _typed_data(request: CertificationRequest, requirements: PaymentRequirements | None) -> dict[str, Any] | None:
    if requirements is None:
        return None
    extra = requirements.extra or RequirementsExtra()
    return eip3009.unsigned_document(
        name=extra.name,
        version=extra.version,
        chain_id=NETWORKS[request.network].chain_id,
        verifying_contract=requirements.asset,
    )


def page_view(request: CertificationRequest, status: StatusDocument, now: datetime) -> PageView:
    """What the page's script reads: the offer, the typed data to sign, and where the request stands.

    ``status`` is the request's full status document; only the payment and certification outcome
    are passed on (no history, jobs or API-key details).
    """
    x402 = stored_terms(request)
    requirements = _accepted(x402)
    payment = status.payment
    return PageView(
        request_id=request.request_id,
        status=request.status,
        awaiting_payment=State(request.status) in AWAITING_PAYMENT,
        file_name=request.file_name,
        data_hash=request.data_hash,
        data_size_bytes=request.data_size_bytes,
        network=request.network,
        server_time=int(now.timestamp()),
        quote=_quote(request, x402, now),
        chain=chain_parameters(request.network),
        typed_data=_typed_data(request, requirements),
        accepted=requirements,
        max_timeout_s=(requirements.max_timeout_seconds or 0) if requirements else 0,
        payment=None if payment is None else payment.outcome(),
        certification=status.certification,
        error=status.error,
        completed_at=status.completed_at,
    )


def _size(size_bytes: int) -> str:
    if size_bytes < 1024:
        return f"{size_bytes} bytes"
    value = Decimal(size_bytes) / (1024 if size_bytes < 1024 * 1024 else 1024 * 1024)
    unit = "KiB" if size_bytes < 1024 * 1024 else "MiB"
    return f"{value.quantize(Decimal('0.1'))} {unit} ({size_bytes} bytes)"


def render_page(view: PageView) -> str:
    """The page's HTML with the facts filled in (escaped), readable before and without the script."""
    template = Template((STATIC_DIR / "pay.html").read_text(encoding="utf-8"))
    quote = view.quote
    values = {
        "request_id": view.request_id,
        "file_name": view.file_name or "(not named)",
        "data_hash": view.data_hash,
        "data_size": _size(view.data_size_bytes),
        "amount": quote.amount_usdc,
        "network": view.network,
        "network_label": view.chain["chainName"],
        "pay_to": quote.pay_to or "",
        "valid_until": quote.valid_until or "",
        "status": view.status,
        "assets": ASSET_PREFIX,
    }
    return template.substitute({key: escape(str(value)) for key, value in values.items()})


def asset(name: str) -> tuple[bytes, str] | None:
    """(content, media type) of a page asset, or None for any other name."""
    media_type = ASSETS.get(name)
    if media_type is None:
        return None
    return (STATIC_DIR / name).read_bytes(), media_type
