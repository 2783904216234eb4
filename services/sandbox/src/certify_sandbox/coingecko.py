"""CoinGecko stand-in: ``GET /coingecko/api/v3/simple/price`` in CoinGecko's response shape, with a settable price.

Point a client's CoinGecko base URL at ``http://<sandbox>/coingecko/api/v3`` (the path mirrors
``https://api.coingecko.com/api/v3``).

The shape is CoinGecko's: ``{"<coin id>": {"<currency>": <number>}}``, unknown ids omitted, numbers
written exactly as set (prices are held as ``Decimal`` and written as JSON number text, never via
float). Tests set prices with ``PUT /_control/coingecko/price``, inject latency and faults (429,
500, hangs) with ``PUT /_control/faults/coingecko``, and read how often the price endpoint was hit
with ``GET /_control/coingecko/calls``. A test double may misbehave on purpose: any decimal,
including ``0``, negative numbers and ``NaN``, can be set, to test that clients refuse them.
"""

from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation

from fastapi import APIRouter, HTTPException, Query, Response
from pydantic import BaseModel, Field

from certify_sandbox.faults import Faults

TARGET = "coingecko"
#: Where the stand-in answers: the real API's path under a /coingecko namespace.
BASE_PATH = "/coingecko/api/v3"
ENDPOINT = "simple_price"
DEFAULT_PRICES = {"circular": {"usd": "0.0044"}}


class PriceUpdate(BaseModel):
    """A price to serve from now on."""

    coin_id: str = Field("circular", min_length=1, max_length=100, description="CoinGecko coin id.")
    currency: str = Field("usd", min_length=1, max_length=20, description="vs_currency, lowercase.")
    price: str = Field(description="The number to serve, written as is (e.g. `0.0044`, `0`, `-1`, `NaN`).")


def _defaults() -> dict[str, dict[str, Decimal]]:
    return {coin: {cur: Decimal(text) for cur, text in by_cur.items()} for coin, by_cur in DEFAULT_PRICES.items()}


def _json_number(value: Decimal) -> str:
    if value.is_nan():
        return "NaN"  # what a broken upstream could send; Python's json accepts it, strict parsers do not
    if value.is_infinite():
        return "Infinity" if value > 0 else "-Infinity"
    return format(value, "f") if value == value.to_integral_value() else str(value)


def _body(prices: dict[str, dict[str, Decimal]], ids: list[str], currencies: list[str]) -> str:
    parts = []
    for coin_id in ids:
        known = prices.get(coin_id)
        if known is None:
            continue  # CoinGecko omits ids it does not know
        fields = [f"{json.dumps(cur)}:{_json_number(known[cur])}" for cur in currencies if cur in known]
        parts.append(f"{json.dumps(coin_id)}:{{{','.join(fields)}}}")
    return "{" + ",".join(parts) + "}"


def _split(value: str) -> list[str]:
    return [part.strip().lower() for part in value.split(",") if part.strip()]


def _error(status: int) -> Response:
    body: dict[str, object]
    if status == 429:
        # CoinGecko's rate-limit body; it sends no Retry-After, so clients fall back on their own pause.
        body = {"status": {"error_code": 429, "error_message": "You've exceeded the Rate Limit."}}
    else:
        body = {"error": f"sandbox fault: HTTP {status}"}
    return Response(json.dumps(body), status_code=status, media_type="application/json")


def build_router(faults: Faults) -> APIRouter:
    """The stand-in's routes: ``/coingecko/api/v3/simple/price`` and its ``/_control/coingecko`` controls."""
    router = APIRouter(tags=["coingecko"])
    prices = _defaults()

    @router.get(f"{BASE_PATH}/simple/price")
    async def simple_price(
        ids: str = Query(..., description="Comma-separated coin ids."),
        vs_currencies: str = Query(..., description="Comma-separated currencies."),
    ) -> Response:
        status = await faults.apply(TARGET, ENDPOINT)
        if status is not None:
            return _error(status)
        body = _body(prices, _split(ids), _split(vs_currencies))
        return Response(body, media_type="application/json")

    @router.put("/_control/coingecko/price")
    async def set_price(update: PriceUpdate) -> dict[str, str]:
        try:
            value = Decimal(update.price.strip())
        except InvalidOperation as exc:
            raise HTTPException(422, "price must be a decimal number or NaN") from exc
        prices.setdefault(update.coin_id.lower(), {})[update.currency.lower()] = value
        return {"coin_id": update.coin_id.lower(), "currency": update.currency.lower(), "price": str(value)}

    @router.get("/_control/coingecko/calls")
    async def calls() -> dict[str, int]:
        """Requests received by ``/simple/price`` (faulted ones included) since the last reset."""
        return {ENDPOINT: faults.calls[f"{TARGET}.{ENDPOINT}"]}

    @router.post("/_control/coingecko/reset")
    async def reset() -> dict[str, str]:
        """Back to the default price, no fault plan, and a zero call count."""
        faults.reset(TARGET)
        prices.clear()
        prices.update(_defaults())
        return {"status": "reset"}

    return router
