"""The quote server's MCP tools: validate, call one domain function, map the result.

No ``from __future__ import annotations`` here: the tool signatures use values known only inside
:func:`build_server` (the configured margins), and MCP evaluates annotations to build the schemas.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from mcp.server import MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from certify_common.kv import KeyValue
from certify_common.mcp_runtime import Runtime, tool
from certify_common.mcp_service import new_mcp_server, result_of
from certify_quote import pricing, quotes, sizing
from certify_quote.price_cache import CirxPrice, PriceCache
from certify_quote.settings import QuoteSettings

INSTRUCTIONS = (
    "Prices a document certification on the Circular Protocol in USDC. Call check_data_size on the "
    "document, then calculate_quote with its size_bytes (it fetches the CIRX price itself); "
    "get_cirx_price shows the price alone. Amounts are exact decimal strings."
)
_LOCAL = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=False)
#: May ask CoinGecko for the price.
_PRICED = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True)


def utc_now() -> datetime:
    """The current time, aware in UTC (quotes' valid_until)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class QuoteDeps:
    """What the quote server's lifespan provides: the shared price cache, its store, and the clock."""

    prices: PriceCache
    kv: KeyValue
    clock: Callable[[], datetime] = utc_now


def build_server(settings: QuoteSettings, runtime: Runtime[QuoteDeps]) -> MCPServer:
    """The MCP server with the three quote tools registered."""
    mcp = new_mcp_server("certify-quote", INSTRUCTIONS)

    @tool(mcp, _LOCAL)
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

    @tool(mcp, _PRICED)
    async def get_cirx_price() -> Annotated[CallToolResult, CirxPrice]:
        """The current CIRX price in USD from CoinGecko, as an exact decimal string.

        Cached for 5 minutes (by default) and shared by every replica. When CoinGecko fails or
        rate-limits, the last price (up to 1 hour old by default) is returned with `stale: true`; with
        no recent price the call fails with the retryable `price_unavailable` (see
        `details.retry_after`, seconds).
        """
        return result_of(await runtime.get().prices.current())

    @tool(mcp, _PRICED)
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
        deps = runtime.get()
        return result_of(
            await quotes.quote(
                settings,
                deps.prices,
                data_size_bytes=data_size_bytes,
                cirx_price_usd=cirx_price_usd,
                margin_percent=margin_percent,
                now=deps.clock(),
            )
        )

    return mcp
