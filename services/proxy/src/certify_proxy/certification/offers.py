"""The 402 answer: quote, x402 offer (v1 body fields + v2 header), links and signing instructions.

The offer comes from :mod:`certify_proxy.certification.offer_cache` (the quote and x402 servers' answers, asked once
per price period); QR codes are drawn only for phones (``client_type`` mobile) and on ``GET /v1/qr/{id}``.
Everything is fetched before anything is written, so a failing server leaves no half-made request behind.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from certify_client.models import MobilePayment, OfferPayment, PaymentRequiredBody, PriceQuote, WalletLinks
from certify_common.errors import Failure
from certify_proxy.certification.instructions import instructions
from certify_proxy.certification.offer_cache import Offer
from certify_proxy.certification.status import status_url
from certify_proxy.settings import ProxySettings
from certify_proxy.store.models import CertificationRequest
from certify_proxy.upstream.qr import Qr
from certify_proxy.upstream.x402 import X402

WALLETS = ("metamask", "coinbase", "rainbow")


@dataclass(frozen=True)
class Links:
    """Links of one request; public ones carry its unguessable token, and so do all of a keyless request's."""

    payment_link: str
    qr_code_url: str
    status_url: str
    certify_url: str


def links_for(settings: ProxySettings, request_id: str, token: str, *, keyless: bool) -> Links:
    """The payment page, QR image, status and paid-retry URLs of a request.

    A keyless request is read and paid with its token (no key names its owner), so its status and
    retry URLs carry it too.
    """
    base = settings.public_base_url
    return Links(
        f"{base}/pay/{request_id}?token={token}",
        f"{base}/v1/qr/{request_id}?token={token}&format=png",
        status_url(base, request_id, token if keyless else None),
        f"{base}/v1/certify" + (f"?token={token}" if keyless else ""),
    )


def links_of(settings: ProxySettings, request: CertificationRequest) -> Links:
    """The links of a stored request."""
    return links_for(settings, request.request_id, request.public_token, keyless=request.api_key_id is None)


async def _browser_links(x402: X402, requirements: dict[str, Any], page_url: str) -> list[WalletLinks] | Failure:
    answers = await asyncio.gather(*(x402.browser_link(requirements, page_url, wallet) for wallet in WALLETS))
    result = []
    for answer in answers:
        if isinstance(answer, Failure):
            return answer
        result.append(WalletLinks.model_validate(answer.model_dump(include={"wallet", "deep_link", "links"})))
    return result


async def payment_required_body(
    x402_server: X402, qr_server: Qr, request_id: str, client_type: str, offer: Offer, links: Links
) -> PaymentRequiredBody | Failure:
    """The body of the 402: x402 v1 fields first, then certify's own (``wallet_links`` for browsers; the QR
    code and ``mobile`` for phones)."""
    x402 = offer.x402
    v1 = x402.get("requirements_v1")
    body = PaymentRequiredBody(
        x402Version=1,
        error="payment_required",
        accepts=[v1] if v1 else [],
        request_id=request_id,
        status="payment_pending",
        quote=PriceQuote.model_validate(offer.quote),
        payment=OfferPayment(
            network=x402["network"],
            caip2=x402["caip2"],
            chain_id=x402["chain_id"],
            amount_usdc=x402["amount_usdc"],
            amount_atomic=x402["amount_atomic"],
            pay_to=x402["pay_to"],
            asset=x402["asset"],
            requirements=x402["requirements_v2"],
            requirements_v1=v1,
            valid_until=offer.valid_until.isoformat(),
        ),
        payment_link=links.payment_link,
        qr_code_url=links.qr_code_url,
        status_url=links.status_url,
        instructions=instructions(links.certify_url, request_id, x402, links.payment_link),
    )
    if client_type == "browser":
        wallet_links = await _browser_links(x402_server, x402["requirements_v2"], links.payment_link)
        if isinstance(wallet_links, Failure):
            return wallet_links
        body.wallet_links = wallet_links
    elif client_type == "mobile":
        png, ascii_qr = await asyncio.gather(qr_server.image(links.payment_link), qr_server.ascii(links.payment_link))
        if isinstance(png, Failure):
            return png
        if isinstance(ascii_qr, Failure):
            return ascii_qr
        body.qr_code_base64 = png.base64
        body.mobile = MobilePayment(
            opens=links.payment_link,
            qr_ascii=ascii_qr.text,
            qr_png_base64=png.base64,
            note="Scan with the wallet's QR scanner: the payment page opens in the wallet's browser and asks "
            "for a gasless x402 signature. A plain EIP-681 transfer is not offered: it cannot be settled by "
            "the facilitator.",
        )
    return body
