"""Settings of the quote server (environment variables, see README.md for the table)."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, model_validator

from certify_common.settings import ServiceSettings
from certify_common.settings_types import HttpUrl, is_public_https

#: 10 MiB: the largest document the proxy accepts (ARCHITECTURE.md, "Limits").
MAX_DATA_BYTES = 10 * 1024 * 1024

PRO_HOST = "pro-api.coingecko.com"


class QuoteSettings(ServiceSettings):
    """Where the CIRX price comes from, how long it is trusted, and how a quote is computed."""

    service_name = "quote"
    port: int = Field(8404, ge=1, le=65535, description="TCP port to listen on.")
    coingecko_url: HttpUrl = Field(
        "https://api.coingecko.com/api/v3",
        description="Base URL of the CoinGecko API (`/simple/price` is appended); point it at the sandbox locally.",
    )
    coingecko_api_key: SecretStr | None = Field(
        None, description="CoinGecko API key, sent in COINGECKO_API_KEY_HEADER; unset sends none (public API)."
    )
    coingecko_api_key_header: Literal["x-cg-demo-api-key", "x-cg-pro-api-key"] = Field(
        "x-cg-demo-api-key",
        description=(
            "Header carrying the key: `x-cg-demo-api-key` (Demo plan, api.coingecko.com) or `x-cg-pro-api-key` "
            "(paid plans, with COINGECKO_URL=https://pro-api.coingecko.com/api/v3)."
        ),
    )
    coingecko_coin_id: str = Field("circular", min_length=1, description="CoinGecko id of the CIRX coin.")
    coingecko_timeout_s: float = Field(
        5.0, gt=0, le=20, description="Total timeout of one CoinGecko request (connect, read and write)."
    )
    price_cache_ttl_s: float = Field(
        300.0, gt=0, description="How long a fetched CIRX price is served as fresh (shared via Redis when set)."
    )
    price_max_stale_s: float = Field(
        3600.0,
        ge=0,
        description="How old the last price may be and still be served (marked stale) while CoinGecko fails.",
    )
    price_retry_after_s: float = Field(
        30.0,
        gt=0,
        description="Pause after a failed CoinGecko call before the next one (unless CoinGecko sends Retry-After).",
    )
    cirx_fee: Decimal = Field(Decimal(4), gt=0, description="CIRX fee of one certification on the Circular network.")
    default_margin_percent: Decimal = Field(
        Decimal(65), ge=0, description="Service margin added to the CIRX cost when the caller gives none, in percent."
    )
    max_margin_percent: Decimal = Field(
        Decimal(1000), ge=0, description="Largest margin a caller may ask for, in percent (inclusive)."
    )
    quote_validity_s: int = Field(300, gt=0, description="How long a quote stays valid, in seconds.")
    max_data_bytes: int = Field(
        MAX_DATA_BYTES, gt=0, le=64 * 1024 * 1024, description="Largest decoded document check_data_size accepts."
    )

    @model_validator(mode="after")
    def _margins_agree(self) -> QuoteSettings:
        if self.default_margin_percent > self.max_margin_percent:
            raise ValueError("DEFAULT_MARGIN_PERCENT exceeds MAX_MARGIN_PERCENT")
        return self

    @model_validator(mode="after")
    def _key_matches_host(self) -> QuoteSettings:
        # CoinGecko answers a Demo key on the Pro host (and the reverse) with an error: catch it at start-up.
        host = (urlsplit(self.coingecko_url).hostname or "").lower()
        pro_header = self.coingecko_api_key_header == "x-cg-pro-api-key"
        coingecko_host = self.coingecko_api_key is not None and host.endswith("coingecko.com")
        if coingecko_host and pro_header != (host == PRO_HOST):
            raise ValueError(f"COINGECKO_API_KEY_HEADER {self.coingecko_api_key_header} does not fit {host}")
        return self

    def check_production(self) -> None:
        """Production talks to the real CoinGecko over HTTPS, never to a local stand-in."""
        if not is_public_https(self.coingecko_url):
            raise ValueError("COINGECKO_URL must be the real CoinGecko API over https in production")

    @property
    def max_request_body_bytes(self) -> int:
        """MCP body limit: the largest document as hex (2 chars a byte, the widest encoding) plus 1 MiB of JSON-RPC."""
        return 2 * self.max_data_bytes + 1024 * 1024
