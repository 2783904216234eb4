"""CoinGecko's ``/simple/price``: one request, parsed to an exact ``Decimal``, or a ``Failure``.

The JSON text is parsed with ``parse_float=Decimal`` so the price never passes through a float.
A response that is not a finite, positive number for the configured coin is refused: a bad
price is worse than none, because the cache would serve it for five minutes.
"""

from __future__ import annotations

import asyncio
import json
import logging
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx

from certify_common.errors import Failure, failure
from certify_common.metrics import upstream_call
from certify_quote.settings import QuoteSettings

logger = logging.getLogger("certify.quote.coingecko")

SERVICE = "quote"
UPSTREAM = "coingecko"


def new_http_client(settings: QuoteSettings) -> httpx.AsyncClient:
    """The one long-lived client for CoinGecko (created in the app lifespan), with explicit timeouts."""
    timeout_s = settings.coingecko_timeout_s
    headers = {"accept": "application/json", "user-agent": "certify-quote/0.1"}
    if settings.coingecko_api_key is not None:
        headers[settings.coingecko_api_key_header] = settings.coingecko_api_key.get_secret_value()
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 2.0)),
        headers=headers,
        limits=httpx.Limits(max_connections=10, max_keepalive_connections=5),
        follow_redirects=False,
    )


def _retry_after_s(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        seconds = float(value)
    except ValueError:
        return None  # an HTTP-date or garbage: the caller's default pause applies
    return seconds if 0 <= seconds <= 3600 else None


def _decimal_constant(name: str) -> Decimal:
    # NaN / Infinity literals become Decimals here and are refused by the finiteness check below.
    return Decimal(name)


def parse_price(text: str, coin_id: str, currency: str = "usd") -> Decimal | Failure:
    """The price of ``coin_id`` in ``currency`` from a ``/simple/price`` body, exactly as written."""
    try:
        body: Any = json.loads(text, parse_float=Decimal, parse_int=Decimal, parse_constant=_decimal_constant)
    except (ValueError, InvalidOperation):
        return failure("upstream_bad_response", "CoinGecko sent a body that is not JSON", retryable=True)
    coin = body.get(coin_id) if isinstance(body, dict) else None
    price = coin.get(currency) if isinstance(coin, dict) else None
    if not isinstance(price, Decimal):
        return failure(
            "upstream_bad_response", f"CoinGecko sent no {currency} price for {coin_id}", retryable=True, coin=coin_id
        )
    if not price.is_finite() or price <= 0:
        return failure(
            "upstream_bad_response", f"CoinGecko sent an unusable price ({price})", retryable=True, coin=coin_id
        )
    return price


class CoinGecko:
    """Reads the CIRX/USD price from CoinGecko with one shared HTTP client."""

    def __init__(self, http: httpx.AsyncClient, settings: QuoteSettings) -> None:
        self._http = http
        self._url = settings.coingecko_url.rstrip("/") + "/simple/price"
        self._coin_id = settings.coingecko_coin_id
        self._timeout_s = settings.coingecko_timeout_s

    async def usd_price(self) -> Decimal | Failure:
        """One request, bounded by the total timeout; never retried here (the cache decides when to ask again)."""
        params = {"ids": self._coin_id, "vs_currencies": "usd"}
        with upstream_call(SERVICE, UPSTREAM) as outcome:
            try:
                async with asyncio.timeout(self._timeout_s):
                    response = await self._http.get(self._url, params=params)
            except (httpx.TimeoutException, TimeoutError):
                outcome["outcome"] = "timeout"
                logger.warning("coingecko timed out", extra={"timeout_s": self._timeout_s})
                return failure("upstream_timeout", "CoinGecko did not answer in time", retryable=True)
            except httpx.HTTPError as exc:
                outcome["outcome"] = "unreachable"
                logger.warning("coingecko unreachable", extra={"error_type": type(exc).__name__})
                return failure("upstream_unreachable", "CoinGecko could not be reached", retryable=True)
            if response.status_code == 429:
                outcome["outcome"] = "rate_limited"
                logger.warning("coingecko rate limited")
                return failure(
                    "upstream_rate_limited",
                    "CoinGecko rate-limited the request",
                    retryable=True,
                    retry_after=_retry_after_s(response),
                )
            if response.status_code != 200:
                outcome["outcome"] = "http_error"
                logger.warning("coingecko error", extra={"status": response.status_code})
                return failure(
                    "upstream_error",
                    f"CoinGecko answered HTTP {response.status_code}",
                    retryable=True,
                    status=response.status_code,
                )
            price = parse_price(response.text, self._coin_id)
            outcome["outcome"] = "bad_response" if isinstance(price, Failure) else "ok"
            return price
