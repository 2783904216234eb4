"""The CoinGecko client asks /simple/price once, reads the price exactly, and turns every problem into a Failure."""

from collections.abc import Callable
from decimal import Decimal

import httpx
import pytest
from prometheus_client import REGISTRY

from certify_common.errors import Failure
from certify_quote.coingecko import CoinGecko, new_http_client, parse_price
from certify_quote.settings import QuoteSettings

Handler = Callable[[httpx.Request], httpx.Response]


def client_for(handler: Handler, **settings: object) -> CoinGecko:
    config = QuoteSettings(coingecko_url="https://cg.example/api/v3", **settings)  # type: ignore[arg-type]
    real = new_http_client(config)
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler), headers=real.headers, timeout=real.timeout)
    return CoinGecko(http, config)


def answer(body: str, status: int = 200, headers: dict[str, str] | None = None) -> Handler:
    return lambda request: httpx.Response(status, text=body, headers=headers)


async def test_the_request_is_coingeckos_simple_price_for_circular_in_usd() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, text='{"circular":{"usd":0.0044}}')

    assert await client_for(handler).usd_price() == Decimal("0.0044")
    (request,) = seen
    assert str(request.url) == "https://cg.example/api/v3/simple/price?ids=circular&vs_currencies=usd"
    assert "x-cg-demo-api-key" not in request.headers
    assert "x-cg-pro-api-key" not in request.headers


@pytest.mark.parametrize("header", ["x-cg-demo-api-key", "x-cg-pro-api-key"])
async def test_the_api_key_goes_in_the_configured_header(header: str) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, text='{"circular":{"usd":1}}')

    await client_for(handler, coingecko_api_key="CG-abcdefgh12345678", coingecko_api_key_header=header).usd_price()
    assert seen[0].headers[header] == "CG-abcdefgh12345678"


@pytest.mark.parametrize(
    ("body", "price"),
    [
        ('{"circular":{"usd":0.00440000000000000001}}', "0.00440000000000000001"),  # beyond float precision
        ('{"circular":{"usd":4.4e-05}}', "0.000044"),
        ('{"circular":{"usd":3}}', "3"),
    ],
)
def test_the_price_is_read_from_the_json_text_without_a_float(body: str, price: str) -> None:
    parsed = parse_price(body, "circular")
    assert isinstance(parsed, Decimal)
    assert parsed == Decimal(price)


def test_a_float_round_trip_would_have_lost_digits() -> None:
    body = '{"circular":{"usd":0.00440000000000000001}}'
    assert parse_price(body, "circular") == Decimal("0.00440000000000000001")
    assert Decimal(repr(0.00440000000000000001)) != Decimal("0.00440000000000000001")


@pytest.mark.parametrize(
    "body",
    [
        '{"circular":{"usd":NaN}}',
        '{"circular":{"usd":Infinity}}',
        '{"circular":{"usd":0}}',
        '{"circular":{"usd":-0.0044}}',
        '{"circular":{"usd":"0.0044"}}',
        '{"circular":{"usd":null}}',
        '{"circular":{}}',
        "{}",
        "[]",
        "<html>busy</html>",
    ],
)
async def test_nan_zero_negative_or_missing_prices_are_refused(body: str) -> None:
    result = await client_for(answer(body)).usd_price()
    assert isinstance(result, Failure)
    assert (result.code, result.retryable) == ("upstream_bad_response", True)


async def test_a_rate_limit_carries_coingeckos_retry_after() -> None:
    result = await client_for(answer("{}", 429, {"retry-after": "12"})).usd_price()
    assert isinstance(result, Failure)
    assert (result.code, result.retry_after) == ("upstream_rate_limited", 12.0)


async def test_a_rate_limit_without_retry_after_leaves_the_pause_to_the_caller() -> None:
    result = await client_for(answer("{}", 429)).usd_price()
    assert isinstance(result, Failure)
    assert (result.code, result.details["retry_after"]) == ("upstream_rate_limited", None)


async def test_a_server_error_is_an_upstream_error_with_its_status() -> None:
    result = await client_for(answer("oops", 503)).usd_price()
    assert isinstance(result, Failure)
    assert (result.code, result.details) == ("upstream_error", {"status": 503})


@pytest.mark.parametrize(
    ("error", "code"),
    [(httpx.ReadTimeout("slow"), "upstream_timeout"), (httpx.ConnectError("refused"), "upstream_unreachable")],
)
async def test_timeouts_and_connection_errors_are_failures_not_exceptions(error: Exception, code: str) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    result = await client_for(handler).usd_price()
    assert isinstance(result, Failure)
    assert (result.code, result.retryable) == (code, True)


def test_the_shared_client_has_explicit_timeouts() -> None:
    client = new_http_client(QuoteSettings(coingecko_timeout_s=3))
    assert client.timeout == httpx.Timeout(3, connect=2)


def upstream_count(outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "certify_upstream_calls_total", {"service": "quote", "upstream": "coingecko", "outcome": outcome}
    )
    return value or 0.0


@pytest.mark.parametrize(
    ("handler", "outcome"),
    [
        (answer('{"circular":{"usd":0.0044}}'), "ok"),
        (answer("{}", 429), "rate_limited"),
        (answer("{}", 500), "http_error"),
        (answer('{"circular":{"usd":0}}'), "bad_response"),
    ],
)
async def test_every_request_is_counted_by_outcome(handler: Handler, outcome: str) -> None:
    before = upstream_count(outcome)
    await client_for(handler).usd_price()
    assert upstream_count(outcome) == before + 1
