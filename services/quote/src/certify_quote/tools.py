"""The quote server's MCP tools: validate, call one domain function, map the result.

No ``from __future__ import annotations`` here: the tool signatures use values known only inside
:func:`build_server` (the configured margins), and MCP evaluates annotations to build the schemas.
"""

import inspect
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated

from mcp.server import MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from certify_common.errors import Failure
from certify_common.kv import KeyValue
from certify_common.mcp_service import new_mcp_server, result_of
from certify_quote import pricing, sizing
from certify_quote.price import CirxPrice, PriceCache
from certify_quote.settings import QuoteSettings

INSTRUCTIONS = (
    "Prices a document certification on the Circular Protocol in USDC. Call check_data_size on the "
    "document, then calculate_quote with its size_bytes (it fetches the CIRX price itself); "
    "get_cirx_price shows the price alone. Amounts are exact decimal strings."
)
_LOCAL = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
#: May ask CoinGecko for the price.
_PRICED = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True)


class Runtime:
    """Long-lived dependencies, created by the app lifespan (or by a test) and read by the tools."""

    def __init__(self, kv: KeyValue | None = None, prices: PriceCache | None = None) -> None:
        self.kv = kv
        self.prices = prices

    def price_cache(self) -> PriceCache:
        if self.prices is None:
            raise RuntimeError("the quote server's lifespan has not started")
        return self.prices


def _utc_now() -> datetime:
    return datetime.now(UTC)


def build_server(settings: QuoteSettings, runtime: Runtime, clock: Callable[[], datetime] = _utc_now) -> MCPServer:
    """The MCP server with the three quote tools registered."""
    mcp = new_mcp_server("certify-quote", INSTRUCTIONS)

    async def check_data_size(
        data: Annotated[str, Field(description="The document: base64, hex (0x optional) or plain text.")],
        encoding: Annotated[
            sizing.RequestedEncoding,
            Field(description="How `data` is encoded; `auto` (default) detects it: hex, then base64, then text."),
        ] = "auto",
    ) -> Annotated[CallToolResult, sizing.DataSize]:
        """Measure a document: decoded size in bytes, KB and human form, the encoding used, and its SHA-256.

        With encoding `auto` the first matching rule wins: (1) hex — a non-empty even-length string of
        hex digits, optional 0x prefix; (2) base64 — canonical padded base64, standard or URL-safe;
        (3) text — anything else, measured as UTF-8. So "deadbeef", valid hex and valid base64, is hex:
        an even-length all-hex string is far more likely a digest or hex dump than base64. Pass
        `encoding` explicitly when you know it. Documents above the size limit (10 MB by default)
        fail with `data_too_large`; input that is not in the stated encoding fails with `invalid_encoding`.
        """
        return result_of(await sizing.check_data_size(data, encoding, settings.max_data_bytes))

    async def get_cirx_price() -> Annotated[CallToolResult, CirxPrice]:
        """The current CIRX price in USD from CoinGecko, as an exact decimal string.

        Cached for 5 minutes (by default) and shared by every replica. When CoinGecko fails or
        rate-limits, the last price (up to 1 hour old by default) is returned with `stale: true`; with
        no recent price the call fails with the retryable `price_unavailable` (see
        `details.retry_after`, seconds).
        """
        return result_of(await runtime.price_cache().current())

    async def calculate_quote(
        data_size_bytes: Annotated[int, Field(description="Decoded document size in bytes (from check_data_size).")],
        cirx_price_usd: Annotated[
            str | float | None,
            Field(description='CIRX price in USD as a decimal string, e.g. "0.0044"; omitted: fetched now.'),
        ] = None,
        margin_percent: Annotated[
            str | float | None,
            Field(
                description=f"Service margin in percent, 0 to {settings.max_margin_percent}; "
                f"omitted: {settings.default_margin_percent}."
            ),
        ] = None,
    ) -> Annotated[CallToolResult, pricing.Quote]:
        """Price one certification in USDC: ceil_to_cent(cirx_fee × cirx_price_usd × (1 + margin_percent/100)).

        Exact decimal arithmetic, rounded up to the cent and written with USDC's 6 decimals, e.g.
        4 CIRX × 0.0044 USD × 1.65 = 0.02904 → usdc_amount "0.030000", amount_atomic 30000. The quote
        is valid for 5 minutes (valid_until). Failures: `invalid_data_size` (negative), `data_too_large`
        (above 10 MB by default), `invalid_price` (not a positive finite number up to 1,000,000),
        `invalid_margin` (not a number, or outside 0–1000 % by default), and `price_unavailable` when
        the price must be fetched and cannot be.
        """
        price = pricing.parse_decimal(cirx_price_usd, "cirx_price_usd", "invalid_price")
        margin = pricing.parse_decimal(margin_percent, "margin_percent", "invalid_margin")
        if isinstance(price, Failure):
            return result_of(price)
        if isinstance(margin, Failure):
            return result_of(margin)
        margin = settings.default_margin_percent if margin is None else margin
        # Everything the caller sent is checked before the price is fetched.
        problem = pricing.check_size(data_size_bytes, settings.max_data_bytes) or pricing.check_margin(
            margin, settings.max_margin_percent
        )
        if problem is None and price is not None:
            problem = pricing.check_price(price)
        if problem is not None:
            return result_of(problem)
        if price is None:
            fetched = await runtime.price_cache().current()
            if isinstance(fetched, Failure):
                return result_of(fetched)
            price = Decimal(fetched.cirx_price_usd)
        quote = pricing.calculate_quote(
            data_size_bytes=data_size_bytes,
            max_data_bytes=settings.max_data_bytes,
            cirx_fee=settings.cirx_fee,
            price_usd=price,
            margin_percent=margin,
            max_margin_percent=settings.max_margin_percent,
            now=clock(),
            validity=timedelta(seconds=settings.quote_validity_s),
        )
        return result_of(quote)

    for tool, annotations in ((check_data_size, _LOCAL), (get_cirx_price, _PRICED), (calculate_quote, _PRICED)):
        # The docstring is what the model reads: send it without the source indentation.
        mcp.add_tool(tool, annotations=annotations, description=inspect.cleandoc(tool.__doc__ or ""))
    return mcp
