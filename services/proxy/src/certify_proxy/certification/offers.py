"""The 402 answer: quote, x402 offer (v1 body fields + v2 header), links and signing instructions.

The offer comes from :mod:`certify_proxy.certification.offer_cache` (the quote and x402 servers' answers, asked once
per price period); QR codes are drawn only for phones (``client_type`` mobile) and on ``GET /v1/qr/{id}``.
Everything is fetched before anything is written, so a failing server leaves no half-made request behind.

An agent's 402 (the default client type, most of them) is the same for every request of a network but for the
request's id, token and size: :class:`AgentOffers` renders it once per offer template through the same models,
with those values left open, and fills them in by substitution (:class:`AgentTemplate`).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_json

from certify_client.models import (
    MobilePayment,
    OfferPayment,
    PaymentRequiredBody,
    PriceQuote,
    WalletLinks,
    wire,
)
from certify_common.contracts.x402 import PaymentRequirementResult, PaymentRequirements
from certify_common.errors import Failure
from certify_proxy.certification.instructions import instructions
from certify_proxy.certification.offer_cache import PLACEHOLDER, Offer, OfferCache, Template
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


async def _browser_links(x402: X402, requirements: PaymentRequirements, page_url: str) -> list[WalletLinks] | Failure:
    answers = await asyncio.gather(*(x402.browser_link(requirements, page_url, wallet) for wallet in WALLETS))
    result = []
    for answer in answers:
        if isinstance(answer, Failure):
            return answer
        result.append(WalletLinks.model_validate(answer.model_dump(include={"wallet", "deep_link", "links"})))
    return result


def agent_body(request_id: str, offer: Offer, links: Links) -> PaymentRequiredBody:
    """The 402 body every client gets: x402 v1 fields first, then certify's own (quote, payment, links, how to
    pay). Browsers' and phones' bodies add wallet links or QR codes to it (:func:`payment_required_body`)."""
    x402 = offer.x402
    v1 = x402.requirements_v1
    return PaymentRequiredBody(
        x402Version=1,
        error="payment_required",
        accepts=[v1] if v1 else [],
        request_id=request_id,
        status="payment_pending",
        quote=PriceQuote.model_validate(offer.quote.model_dump(mode="json")),
        payment=OfferPayment(
            network=x402.network,
            caip2=x402.caip2,
            chain_id=x402.chain_id,
            amount_usdc=x402.amount_usdc,
            amount_atomic=x402.amount_atomic,
            pay_to=x402.pay_to,
            asset=x402.asset,
            requirements=x402.requirements_v2,
            requirements_v1=v1,
            valid_until=offer.valid_until.isoformat(),
        ),
        payment_link=links.payment_link,
        qr_code_url=links.qr_code_url,
        status_url=links.status_url,
        instructions=instructions(links.certify_url, request_id, x402, links.payment_link),
    )


async def payment_required_body(
    x402_server: X402, qr_server: Qr, request_id: str, client_type: str, offer: Offer, links: Links
) -> PaymentRequiredBody | Failure:
    """The body of the 402 for a client type: ``wallet_links`` for browsers; the QR code and ``mobile`` for
    phones (asked of the x402 and qr servers)."""
    x402 = offer.x402
    body = agent_body(request_id, offer, links)
    if client_type == "browser":
        requirements = PaymentRequirements.model_validate(x402.requirements_v2)
        wallet_links = await _browser_links(x402_server, requirements, links.payment_link)
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


#: Values an agent template leaves open (besides the offer cache's ``{request_id}``). None needs JSON escaping
#: where it is filled in: request ids match ``REQUEST_ID_PATTERN``, tokens are URL-safe base64, the header base64.
LINK_SLOT = "{token}"  # the public token of the links
SIZE = "{data_size_bytes}"
HEADER = "{payment_required_header}"


@dataclass(frozen=True)
class MadeOffer:
    """One request's 402 as stored and sent: the body's JSON, the PAYMENT-REQUIRED header and the columns."""

    body: bytes
    header: str
    quote_json: str
    offer_json: str
    amount_atomic: int
    amount_usdc: str
    valid_until: datetime


def made_offer(offer: Offer, body: PaymentRequiredBody) -> MadeOffer:
    """The stored and sent texts of an offer and its 402 body."""
    return _made(offer.x402, offer.quote.model_dump(mode="json"), wire(body), offer.valid_until)


def _made(
    x402: PaymentRequirementResult, quote: dict[str, Any], wired: dict[str, Any], valid_until: datetime
) -> MadeOffer:
    """``quote`` and ``wired`` (the body) are the JSON documents stored and sent (:class:`StoredOffer`)."""
    header = x402.payment_required_header
    return MadeOffer(
        body=to_json(wired),
        header=header,
        quote_json=to_json(quote).decode(),
        offer_json=to_json({"x402": x402, "body": wired, "header": header}).decode(),
        amount_atomic=int(x402.amount_atomic),
        amount_usdc=x402.amount_usdc,
        valid_until=valid_until,
    )


class StoredOffer(BaseModel):
    """A request's ``offer_json``: the x402 server's offer for it, the 402 body sent and its PAYMENT-REQUIRED."""

    x402: PaymentRequirementResult
    body: PaymentRequiredBody
    header: str


class _StoredTerms(BaseModel):
    """The x402 part of a stored offer alone (the 402 body is left unread)."""

    x402: PaymentRequirementResult


def stored_offer(request: CertificationRequest) -> StoredOffer | None:
    """The offer stored with a request (None before it was offered)."""
    return StoredOffer.model_validate_json(request.offer_json) if request.offer_json else None


def stored_terms(request: CertificationRequest) -> PaymentRequirementResult | None:
    """The x402 server's offer stored with a request, for paying it (None before it was offered): the stored
    402 body is not validated on the paid path or the payment page's polls."""
    return _StoredTerms.model_validate_json(request.offer_json).x402 if request.offer_json else None


@dataclass(frozen=True)
class AgentTemplate:
    """:func:`made_offer` of an agent's 402 with the request id, token, size and header left open."""

    source: Template
    made: MadeOffer
    body: str

    def fill(self, request_id: str, token: str, size_bytes: int) -> MadeOffer:
        """This request's offer: byte for byte what :func:`made_offer` gives for its own models."""
        header = self.source.header(request_id)

        def filled(text: str) -> str:
            text = text.replace(f'"{SIZE}"', str(size_bytes)).replace(PLACEHOLDER, request_id)
            return text.replace(LINK_SLOT, token).replace(HEADER, header)

        made = self.made
        return MadeOffer(
            body=filled(self.body).encode(),
            header=header,
            quote_json=filled(made.quote_json),
            offer_json=filled(made.offer_json),
            amount_atomic=made.amount_atomic,
            amount_usdc=made.amount_usdc,
            valid_until=made.valid_until,
        )


class AgentOffers:
    """Agents' 402s: one :class:`AgentTemplate` per network and kind of caller, renewed with the offer cache's."""

    def __init__(self, cache: OfferCache, settings: ProxySettings) -> None:
        self.cache, self.settings = cache, settings
        self._templates: dict[tuple[str, bool], AgentTemplate] = {}

    async def offer(
        self, network: str, request_id: str, token: str, size_bytes: int, *, keyless: bool
    ) -> MadeOffer | Failure:
        """The 402 of one agent's request."""
        source = await self.cache.template(network)
        if isinstance(source, Failure):
            return source
        template = self._templates.get((network, keyless))
        if template is None or template.source is not source:
            template = self._templates[(network, keyless)] = self._render(source, keyless)
        return template.fill(request_id, token, size_bytes)

    def _render(self, source: Template, keyless: bool) -> AgentTemplate:
        filled = source.fill(PLACEHOLDER, 0)
        offer = Offer(filled.quote, filled.x402.model_copy(update={"payment_required_header": HEADER}))
        links = links_for(self.settings, PLACEHOLDER, LINK_SLOT, keyless=keyless)
        body = agent_body(PLACEHOLDER, offer, links)
        # The models hold the size as an int: the open size goes into their JSON documents.
        wired, quote = wire(body), offer.quote.model_dump(mode="json")
        wired["quote"]["data_size_bytes"] = quote["data_size_bytes"] = SIZE
        made = _made(offer.x402, quote, wired, offer.valid_until)
        return AgentTemplate(source, made, made.body.decode())
