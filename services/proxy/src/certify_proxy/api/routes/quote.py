"""``POST /v1/quote``: what certifying a document costs now."""

from __future__ import annotations

import asyncio
import secrets

from fastapi import APIRouter

from certify_client.models import PriceQuote, QuotedPrice
from certify_common.errors import Failure
from certify_proxy.api.deps import RuntimeDep, WriteCaller
from certify_proxy.api.errors import ApiError
from certify_proxy.api.responses import UPSTREAM, WRITE, errors
from certify_proxy.api.schemas import QuoteAnswer, QuoteBody
from certify_proxy.certification.documents import document_of

router = APIRouter(tags=["quote"])


@router.post(
    "/v1/quote",
    summary="Price a certification (data or data_hash + data_size_bytes)",
    responses=errors(WRITE, UPSTREAM),
)
async def post_quote(body: QuoteBody, runtime: RuntimeDep, _caller: WriteCaller) -> QuoteAnswer:
    """Quote one certification in USDC; nothing is stored."""
    document = await asyncio.to_thread(
        document_of, body.data, body.data_hash, body.data_size_bytes, runtime.settings.max_data_bytes
    )
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
    quoted = await runtime.quotes.calculate(document.size_bytes)
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
