"""One ``calculate_quote`` call: parse and check what the caller sent, fetch the price if needed, then price it.

Everything the caller sent is checked before the price is fetched, so a bad request never costs a
CoinGecko call. The arithmetic itself is :func:`certify_quote.pricing.calculate_quote`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from certify_common.codes import FailureCode
from certify_common.contracts.quote import Quote
from certify_common.errors import Failure
from certify_quote import pricing
from certify_quote.price_cache import PriceCache
from certify_quote.settings import QuoteSettings


async def quote(
    settings: QuoteSettings,
    prices: PriceCache,
    *,
    data_size_bytes: int,
    cirx_price_usd: str | float | None,
    margin_percent: str | float | None,
    now: datetime,
) -> Quote | Failure:
    """The quote for a document size, at the given price (or the cached current one) and margin (or the default)."""
    price = pricing.parse_decimal(cirx_price_usd, "cirx_price_usd", FailureCode.INVALID_PRICE)
    margin = pricing.parse_decimal(margin_percent, "margin_percent", FailureCode.INVALID_MARGIN)
    if isinstance(price, Failure):
        return price
    if isinstance(margin, Failure):
        return margin
    margin = settings.default_margin_percent if margin is None else margin
    problem = pricing.check_size(data_size_bytes, settings.max_data_bytes) or pricing.check_margin(
        margin, settings.max_margin_percent
    )
    if problem is None and price is not None:
        problem = pricing.check_price(price)
    if problem is not None:
        return problem
    if price is None:
        fetched = await prices.current()
        if isinstance(fetched, Failure):
            return fetched
        price = Decimal(fetched.cirx_price_usd)
    return pricing.calculate_quote(
        data_size_bytes=data_size_bytes,
        max_data_bytes=settings.max_data_bytes,
        cirx_fee=settings.cirx_fee,
        price_usd=price,
        margin_percent=margin,
        max_margin_percent=settings.max_margin_percent,
        now=now,
        validity=timedelta(seconds=settings.quote_validity_s),
    )
