"""Results of the quote tools."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class Breakdown(BaseModel):
    """How the amount was computed, every figure an exact decimal string in USD."""

    cirx_cost_usd: str = Field(description="cirx_fee × cirx_price_usd.")
    service_margin_usd: str = Field(description="cirx_cost_usd × margin_percent / 100.")
    margin_percent: str = Field(description="The margin applied, in percent.")
    total_usd: str = Field(description="cirx_cost_usd + service_margin_usd, before rounding.")
    rounded_usdc: str = Field(description="total_usd rounded up to the cent, with 6 decimals.")


class Quote(BaseModel):
    """The USDC price of one certification."""

    usdc_amount: str = Field(description="Amount to pay in USDC, 6 decimals, e.g. `0.030000`.")
    amount_atomic: int = Field(description="The same amount in USDC atomic units (10^-6 USDC), e.g. 30000.")
    cirx_fee: str = Field(description="CIRX fee of one certification.")
    cirx_price_usd: str = Field(description="CIRX price used, in USD.")
    data_size_bytes: int = Field(description="Size of the document quoted, in bytes.")
    breakdown: Breakdown = Field(description="How usdc_amount was computed.")
    valid_until: datetime = Field(description="When the quote expires (UTC).")
