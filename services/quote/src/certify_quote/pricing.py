"""What a certification costs in USDC: ``ceil_to_cent(fee_cirx × price_usd × (1 + margin/100))``.

Exact ``Decimal`` arithmetic in a context that traps inexact results (the input bounds below keep
every product exact), rounded *up* to the cent so the service never sells below its cost, then
written with USDC's 6 decimals: 4 × 0.0044 × 1.65 = 0.02904 → ``0.030000`` (30000 atomic units).
"""

from __future__ import annotations

import decimal
from datetime import datetime, timedelta
from decimal import Decimal

from certify_common.codes import FailureCode
from certify_common.contracts.quote import Breakdown, Quote
from certify_common.errors import Failure, failure

USDC_DECIMALS = 6
CENT = Decimal("0.01")
MICRO = Decimal(1).scaleb(-USDC_DECIMALS)
#: Prices and margins are bounded so every product below is exact within the context precision.
MAX_PRICE_USD = Decimal(1_000_000)
MAX_PRICE_DECIMALS = 18
MAX_MARGIN_DECIMALS = 4
_EXACT = decimal.Context(prec=80, rounding=decimal.ROUND_HALF_EVEN, traps=[decimal.Inexact, decimal.InvalidOperation])
_ROUNDING = decimal.Context(prec=80)


def parse_decimal(value: str | float | None, field: str, code: FailureCode) -> Decimal | Failure | None:
    """A decimal string (or a JSON number, read by its shortest decimal form) as ``Decimal``; None stays None."""
    if value is None:
        return None
    text = value.strip() if isinstance(value, str) else repr(value)
    try:
        parsed = Decimal(text)
    except decimal.InvalidOperation:
        return failure(code, f"{field} must be a decimal number, e.g. `0.0044`", field=field, value=text[:40])
    if not parsed.is_finite():
        return failure(code, f"{field} must be a finite number", field=field, value=text[:40])
    return parsed


def _decimals(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def check_size(data_size_bytes: int, max_data_bytes: int) -> Failure | None:
    """Sizes run from 0 to ``max_data_bytes`` inclusive."""
    if data_size_bytes < 0:
        return failure("invalid_data_size", "data_size_bytes must not be negative", value=data_size_bytes)
    if data_size_bytes > max_data_bytes:
        return failure(
            "data_too_large",
            f"the document has {data_size_bytes} bytes; at most {max_data_bytes} are accepted",
            size_bytes=data_size_bytes,
            max_bytes=max_data_bytes,
        )
    return None


def check_price(price: Decimal) -> Failure | None:
    """Refuse zero, negative, absurd or over-precise prices."""
    if not price.is_finite() or price <= 0 or price > MAX_PRICE_USD:
        return failure(
            "invalid_price", f"cirx_price_usd must be above 0 and at most {MAX_PRICE_USD}", value=str(price)[:40]
        )
    if _decimals(price) > MAX_PRICE_DECIMALS:
        return failure("invalid_price", f"cirx_price_usd has more than {MAX_PRICE_DECIMALS} decimals")
    return None


def check_margin(margin: Decimal, max_margin: Decimal) -> Failure | None:
    """Margins run from 0 % to ``max_margin`` % inclusive, with at most 4 decimals."""
    if not margin.is_finite() or margin < 0 or margin > max_margin:
        return failure(
            "invalid_margin",
            f"margin_percent must be between 0 and {max_margin}",
            value=str(margin)[:40],
            min=0,
            max=str(max_margin),
        )
    if _decimals(margin) > MAX_MARGIN_DECIMALS:
        return failure("invalid_margin", f"margin_percent has more than {MAX_MARGIN_DECIMALS} decimals")
    return None


def _text(value: Decimal) -> str:
    return format(value, "f")


def calculate_quote(
    *,
    data_size_bytes: int,
    max_data_bytes: int,
    cirx_fee: Decimal,
    price_usd: Decimal,
    margin_percent: Decimal,
    max_margin_percent: Decimal,
    now: datetime,
    validity: timedelta,
) -> Quote | Failure:
    """Validate the inputs and price one certification."""
    problem = (
        check_size(data_size_bytes, max_data_bytes)
        or check_price(price_usd)
        or check_margin(margin_percent, max_margin_percent)
    )
    if problem is not None:
        return problem
    with decimal.localcontext(_EXACT):
        cost = cirx_fee * price_usd
        margin = cost * margin_percent / 100
        total = cost + margin
    # The one deliberate rounding: up to the cent, outside the context that traps inexact results.
    rounded = total.quantize(CENT, rounding=decimal.ROUND_CEILING, context=_ROUNDING).quantize(MICRO)
    atomic = rounded.scaleb(USDC_DECIMALS)
    return Quote(
        usdc_amount=_text(rounded),
        amount_atomic=int(atomic),
        cirx_fee=_text(cirx_fee),
        cirx_price_usd=_text(price_usd),
        data_size_bytes=data_size_bytes,
        breakdown=Breakdown(
            cirx_cost_usd=_text(cost),
            service_margin_usd=_text(margin),
            margin_percent=_text(margin_percent),
            total_usd=_text(total),
            rounded_usdc=_text(rounded),
        ),
        valid_until=now + validity,
    )
