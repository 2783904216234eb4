"""calculate_quote: exact decimal arithmetic, rounded up to the cent, with validated inputs."""

import math
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certify_common.contracts.quote import Breakdown, Quote
from certify_common.errors import Failure
from certify_quote.pricing import calculate_quote, parse_decimal

NOW = datetime(2026, 11, 22, 3, 0, tzinfo=UTC)
MAX = 10 * 1024 * 1024


def quote(price: str, margin: str = "65", size: int = 1024, fee: str = "4") -> Quote | Failure:
    return calculate_quote(
        data_size_bytes=size,
        max_data_bytes=MAX,
        cirx_fee=Decimal(fee),
        price_usd=Decimal(price),
        margin_percent=Decimal(margin),
        max_margin_percent=Decimal(1000),
        now=NOW,
        validity=timedelta(minutes=5),
    )


def test_4_cirx_at_0_0044_with_65_percent_is_0_02904_rounded_up_to_0_030000() -> None:
    assert quote("0.0044") == Quote(
        usdc_amount="0.030000",
        amount_atomic=30000,
        cirx_fee="4",
        cirx_price_usd="0.0044",
        data_size_bytes=1024,
        breakdown=Breakdown(
            cirx_cost_usd="0.0176",
            service_margin_usd="0.01144",
            margin_percent="65",
            total_usd="0.02904",
            rounded_usdc="0.030000",
        ),
        valid_until=NOW + timedelta(minutes=5),
    )


def test_a_total_float_arithmetic_rounds_to_the_wrong_cent_is_exact_here() -> None:
    # 4 × 2.45 × 1.65 is exactly 16.17; in binary floating point it lands a hair above, so ceil gives 16.18.
    assert math.ceil(4 * 2.45 * 1.65 * 100) / 100 == 16.18
    result = quote("2.45")
    assert isinstance(result, Quote)
    assert (result.breakdown.total_usd, result.usdc_amount, result.amount_atomic) == ("16.17", "16.170000", 16170000)


def test_a_fraction_of_a_cent_above_a_cent_rounds_up_to_the_next_cent() -> None:
    result = quote("0.004545454545454546")  # total 0.0300000000000000036
    assert isinstance(result, Quote)
    assert (result.breakdown.total_usd, result.usdc_amount) == ("0.0300000000000000036", "0.040000")


def test_a_tiny_price_still_costs_one_cent() -> None:
    result = quote("0.000000000001")
    assert isinstance(result, Quote)
    assert (result.usdc_amount, result.amount_atomic) == ("0.010000", 10000)


def test_margin_1000_percent_is_the_largest_accepted() -> None:
    result = quote("0.0044", margin="1000")
    assert isinstance(result, Quote)
    assert result.usdc_amount == "0.200000"  # 0.0176 × 11 = 0.1936


@pytest.mark.parametrize("margin", ["1000.01", "-0.01", "1E+9", "0.00001"])
def test_a_margin_outside_0_to_1000_percent_or_over_precise_is_refused(margin: str) -> None:
    result = quote("0.0044", margin=margin)
    assert isinstance(result, Failure)
    assert (result.code, result.retryable) == ("invalid_margin", False)


@pytest.mark.parametrize("price", ["0", "-0.0044", "1000000.01", "0.0000000000000000001"])
def test_zero_negative_absurd_or_over_precise_prices_are_refused(price: str) -> None:
    result = quote(price)
    assert isinstance(result, Failure)
    assert result.code == "invalid_price"


def test_a_negative_size_is_refused() -> None:
    result = quote("0.0044", size=-1)
    assert isinstance(result, Failure)
    assert result.code == "invalid_data_size"


def test_a_size_above_the_limit_is_data_too_large() -> None:
    result = quote("0.0044", size=MAX + 1)
    assert isinstance(result, Failure)
    assert (result.code, result.details) == ("data_too_large", {"size_bytes": MAX + 1, "max_bytes": MAX})


@pytest.mark.parametrize("value", ["NaN", "nan", "sNaN", "Infinity", "-inf", float("nan"), float("inf")])
def test_nan_and_infinity_are_refused_when_parsed(value: str | float) -> None:
    result = parse_decimal(value, "cirx_price_usd", "invalid_price")
    assert isinstance(result, Failure)
    assert (result.code, result.details["field"]) == ("invalid_price", "cirx_price_usd")


@pytest.mark.parametrize("value", ["cheap", "", "0x10", "1,5"])
def test_text_that_is_not_a_decimal_is_refused(value: str) -> None:
    result = parse_decimal(value, "margin_percent", "invalid_margin")
    assert isinstance(result, Failure)
    assert result.code == "invalid_margin"


@pytest.mark.parametrize(("value", "parsed"), [("0.0044", "0.0044"), (0.0044, "0.0044"), (65, "65"), (None, None)])
def test_decimal_strings_and_json_numbers_parse_to_their_decimal_form(
    value: str | float | None, parsed: str | None
) -> None:
    assert parse_decimal(value, "x", "invalid_x") == (None if parsed is None else Decimal(parsed))


@given(
    price=st.decimals(min_value=Decimal("0.000001"), max_value=Decimal(1000), places=6),
    margin=st.decimals(min_value=Decimal(0), max_value=Decimal(1000), places=2),
)
def test_the_amount_is_the_smallest_cent_at_or_above_the_exact_total(price: Decimal, margin: Decimal) -> None:
    result = quote(str(price), margin=str(margin))
    assert isinstance(result, Quote)
    total = Decimal(4) * price * (1 + margin / 100)
    amount = Decimal(result.usdc_amount)
    assert Decimal(result.breakdown.total_usd) == total
    assert total <= amount < total + Decimal("0.01")
    assert amount == amount.quantize(Decimal("0.01"))
    assert result.amount_atomic == int(amount * 1_000_000)
