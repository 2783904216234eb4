"""The CoinGecko stand-in answers in CoinGecko's shape, serves set prices exactly, and suffers faults on demand."""

import json
from decimal import Decimal

import pytest
from fastapi.testclient import TestClient

from certify_sandbox.app import create_app
from certify_sandbox.settings import SandboxSettings

PRICE_URL = "/coingecko/api/v3/simple/price"


@pytest.fixture
def client() -> TestClient:
    return TestClient(create_app(SandboxSettings()))


def hits(client: TestClient) -> int:
    return int(client.get("/_control/coingecko/calls").json()["simple_price"])


def test_the_default_price_comes_in_coingeckos_shape(client: TestClient) -> None:
    response = client.get(PRICE_URL, params={"ids": "circular", "vs_currencies": "usd"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.text == '{"circular":{"usd":0.0044}}'


def test_a_set_price_is_served_digit_for_digit(client: TestClient) -> None:
    answer = client.put("/_control/coingecko/price", json={"price": "0.00123456789012345678"})
    assert answer.status_code == 200
    body = client.get(PRICE_URL, params={"ids": "circular", "vs_currencies": "usd"}).text
    assert json.loads(body, parse_float=Decimal) == {"circular": {"usd": Decimal("0.00123456789012345678")}}


def test_unknown_ids_and_currencies_are_omitted_like_coingecko(client: TestClient) -> None:
    client.put("/_control/coingecko/price", json={"coin_id": "bitcoin", "currency": "eur", "price": "85000"})
    response = client.get(PRICE_URL, params={"ids": "circular,bitcoin,nope", "vs_currencies": "usd,eur"})
    assert json.loads(response.text, parse_float=Decimal) == {
        "circular": {"usd": Decimal("0.0044")},
        "bitcoin": {"eur": 85000},
    }


def test_a_broken_upstream_can_be_imitated_with_nan_zero_and_negative_prices(client: TestClient) -> None:
    for price, text in (("NaN", "NaN"), ("0", "0"), ("-1.5", "-1.5")):
        client.put("/_control/coingecko/price", json={"price": price})
        body = client.get(PRICE_URL, params={"ids": "circular", "vs_currencies": "usd"}).text
        assert body == '{"circular":{"usd":' + text + "}}"


def test_a_price_that_is_not_a_number_is_refused(client: TestClient) -> None:
    assert client.put("/_control/coingecko/price", json={"price": "cheap"}).status_code == 422


def test_rate_limits_and_errors_are_served_as_planned_and_counted(client: TestClient) -> None:
    client.put("/_control/faults/coingecko", json={"fail_next": 1, "fail_status": 429})
    limited = client.get(PRICE_URL, params={"ids": "circular", "vs_currencies": "usd"})
    assert limited.status_code == 429
    assert limited.json()["status"]["error_code"] == 429
    client.put("/_control/faults/coingecko", json={"fail_next": 1, "fail_status": 500})
    assert client.get(PRICE_URL, params={"ids": "circular", "vs_currencies": "usd"}).status_code == 500
    assert client.get(PRICE_URL, params={"ids": "circular", "vs_currencies": "usd"}).status_code == 200
    assert hits(client) == 3


def test_a_hang_ends_in_a_gateway_timeout(client: TestClient) -> None:
    client.put("/_control/faults/coingecko", json={"hang_next": 1, "hang_s": 0})
    assert client.get(PRICE_URL, params={"ids": "circular", "vs_currencies": "usd"}).status_code == 504
    assert client.get(PRICE_URL, params={"ids": "circular", "vs_currencies": "usd"}).status_code == 200


def test_reset_restores_the_default_price_and_zeroes_the_count(client: TestClient) -> None:
    client.put("/_control/coingecko/price", json={"price": "1"})
    client.put("/_control/faults/coingecko", json={"fail_next": 5})
    client.get(PRICE_URL, params={"ids": "circular", "vs_currencies": "usd"})
    assert client.post("/_control/coingecko/reset").status_code == 200
    assert hits(client) == 0
    response = client.get(PRICE_URL, params={"ids": "circular", "vs_currencies": "usd"})
    assert response.text == '{"circular":{"usd":0.0044}}'


def test_each_sandbox_app_starts_with_its_own_state() -> None:
    first = TestClient(create_app(SandboxSettings()))
    first.put("/_control/coingecko/price", json={"price": "9"})
    second = TestClient(create_app(SandboxSettings()))
    assert second.get(PRICE_URL, params={"ids": "circular", "vs_currencies": "usd"}).text.endswith(":0.0044}}")
