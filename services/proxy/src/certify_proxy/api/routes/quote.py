"""``POST /v1/quote``: what certifying a document costs now."""

from __future__ import annotations

import secrets

from fastapi import APIRouter

from certify_client.models import PriceQuote, QuotedPrice
from certify_common.contracts.quote import Quote
from certify_common.errors import Failure
from certify_proxy.api.deps import RuntimeDep, WriteCaller
from certify_proxy.api.errors import ApiError
from certify_proxy.api.responses import UPSTREAM, WRITE, errors
from certify_proxy.api.schemas import QuoteAnswer, QuoteBody
from certify_proxy.certification.documents import document_of_body
from certify_proxy.runtime import Runtime

router = APIRouter(tags=["quote"])


@router.post(
    "/v1/quote",
    summary="Price a certification (data or data_hash + data_size_bytes)",
    responses=errors(WRITE, UPSTREAM),
)
async def post_quote(body: QuoteBody, runtime: RuntimeDep, _caller: WriteCaller) -> QuoteAnswer:
    """Quote one certification in USDC; nothing is stored."""
    document = await document_of_body(body.data, body.data_hash, body.data_size_bytes, runtime.settings.max_data_bytes)
    if isinstance(document, Failure):
        raise ApiError(document)
    if body.data is None and body.data_size_bytes is None:
        raise ApiError(
            Failure(
                code="invalid_request",
                message="data_size_bytes is required with data_hash",
                details={"fields": ["data_size_bytes"]},
            )
        )
    quoted = await current_quote(runtime, document.size_bytes)
    if isinstance(quoted, Failure):
        raise ApiError(quoted)
    price = PriceQuote.model_validate(quoted.model_dump(mode="json"))
    return QuoteAnswer(
        quote_id=secrets.token_hex(16),
        data_hash=document.data_hash,
        data_size_bytes=document.size_bytes,
        quote=QuotedPrice(
            usdc_amount=price.usdc_amount,
            amount_atomic=price.amount_atomic,
            cirx_fee=price.cirx_fee,
            cirx_price_usd=price.cirx_price_usd,
            margin=price.breakdown.margin_percent,
            breakdown=price.breakdown,
        ),
        valid_until=price.valid_until,
        networks_supported=list(runtime.settings.x402_networks),
    )


async def current_quote(runtime: Runtime, size_bytes: int) -> Quote | Failure:
    """The quote server's price, as a 402 would ask it now: the offer cache's quote when one is cached (asked of the
    quote server once per price period; the price does not depend on the size), else the quote server itself.
    Quoting never fills the cache, so it waits on neither the x402 server nor the cache's locks."""
    template = await runtime.offers.cached(runtime.settings.default_network)
    if template is None:
        return await runtime.quotes.calculate(size_bytes)
    return template.quote.model_copy(update={"data_size_bytes": size_bytes})
