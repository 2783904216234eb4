"""The offer of a 402 is asked of the quote and x402 servers once per price period and network, shared across
processes, and filled in per request."""

from __future__ import annotations

import base64
import json
import types
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from prometheus_client import REGISTRY

from certify_common.errors import Failure, failure
from certify_common.kv import MemoryKeyValue
from certify_proxy.api.routes.quote import current_quote
from certify_proxy.certification.offer_cache import DESCRIPTION, OfferCache
from certify_proxy.settings import ProxySettings
from certify_proxy.upstream.quote import Quotes
from certify_proxy.upstream.x402 import X402

START = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
VALIDITY = timedelta(minutes=5)


class Clock:
    def __init__(self) -> None:
        self.now = START.timestamp()

    def __call__(self) -> float:
        return self.now


class Servers:
    """The quote and x402 servers as the pool sees them: answers shaped as theirs, every call recorded."""

    def __init__(self, clock: Clock, amount: int = 30000) -> None:
        self.clock = clock
        self.amount = amount
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.quote_failure: Failure | None = None
        self.x402_failure: Failure | None = None

    async def call(self, server: str, tool: str, arguments: dict[str, Any], **_: Any) -> dict[str, Any] | Failure:
        self.calls.append((tool, arguments))
        if tool == "calculate_quote":
            if self.quote_failure is not None:
                return self.quote_failure
            valid_until = datetime.fromtimestamp(self.clock.now, UTC) + VALIDITY
            usdc = f"{self.amount / 1e6:.6f}"
            breakdown = {"cirx_cost_usd": usdc, "service_margin_usd": "0", "margin_percent": "0"}
            return {
                "usdc_amount": usdc,
                "amount_atomic": self.amount,
                "cirx_fee": "4",
                "cirx_price_usd": "0.0044",
                "data_size_bytes": arguments["data_size_bytes"],
                "breakdown": {**breakdown, "total_usd": usdc, "rounded_usdc": usdc},
                "valid_until": valid_until.isoformat(),
            }
        if self.x402_failure is not None:
            return self.x402_failure
        required_v2 = {
            "x402Version": 2,
            "resource": {"url": arguments["resource"], "description": arguments["description"]},
            "accepts": [{"amount": arguments["amount_atomic"], "network": "eip155:84532"}],
        }
        return {
            "network": arguments["network"],
            "caip2": "eip155:84532",
            "chain_id": 84532,
            "amount_atomic": arguments["amount_atomic"],
            "amount_usdc": f"{int(arguments['amount_atomic']) / 1e6:.6f}",
            "pay_to": "0x" + "11" * 20,
            "asset": "0x" + "22" * 20,
            "payment_required_v1": None,
            "requirements_v1": {
                "description": arguments["description"],
                "maxAmountRequired": arguments["amount_atomic"],
            },
            "requirements_v2": required_v2["accepts"][0],
            "payment_required_v2": required_v2,
            "payment_required_header": base64.b64encode(
                json.dumps(required_v2, separators=(",", ":")).encode()
            ).decode(),
        }

    def asked(self) -> list[str]:
        return [tool for tool, _ in self.calls]


def _cache(servers: Servers, kv: MemoryKeyValue, clock: Clock, **settings: Any) -> OfferCache:
    pool = cast(Any, servers)
    return OfferCache(Quotes(pool), X402(pool), kv, ProxySettings(**settings), clock=clock)


def _lookups(network: str, source: str) -> float:
    return REGISTRY.get_sample_value("certify_offer_cache_lookups_total", {"network": network, "source": source}) or 0.0


async def test_new_requests_share_one_offer_asked_of_the_servers_once() -> None:
    clock = Clock()
    servers = Servers(clock)
    cache = _cache(servers, MemoryKeyValue(), clock)
    hits, misses = _lookups("base", "hit"), _lookups("base", "miss")
    first = await cache.offer("base", "req-1", 380)
    second = await cache.offer("base", "req-2", 1024)
    assert servers.asked() == ["calculate_quote", "create_payment_requirement"]
    assert servers.calls[1][1]["description"] == DESCRIPTION
    assert (_lookups("base", "miss") - misses, _lookups("base", "hit") - hits) == (1, 1)
    assert (first.quote.data_size_bytes, second.quote.data_size_bytes) == (380, 1024)
    assert first.x402.amount_atomic == second.x402.amount_atomic == "30000"
    assert REGISTRY.get_sample_value("certify_offer_cache_age_seconds", {"network": "base"}) == 0.0


async def test_each_offer_names_its_request_in_the_descriptions_and_the_header() -> None:
    clock = Clock()
    cache = _cache(Servers(clock), MemoryKeyValue(), clock, public_base_url="https://certify.example")
    offer = await cache.offer("base", "invoice-42", 380)
    wanted = "certify request invoice-42: one document certified on Circular"
    assert offer.x402.requirements_v1["description"] == wanted
    assert offer.x402.payment_required_v2["resource"]["description"] == wanted
    header = json.loads(base64.b64decode(offer.x402.payment_required_header))
    assert header == offer.x402.payment_required_v2
    assert header["resource"]["url"] == "https://certify.example/v1/certify"


async def test_another_process_reads_the_shared_offer_without_asking_the_servers() -> None:
    clock = Clock()
    kv = MemoryKeyValue()
    first_servers, second_servers = Servers(clock), Servers(clock)
    await _cache(first_servers, kv, clock).offer("base-sepolia", "a", 1)
    shared = _lookups("base-sepolia", "shared")
    offer = await _cache(second_servers, kv, clock).offer("base-sepolia", "b", 1)
    assert second_servers.calls == []
    assert _lookups("base-sepolia", "shared") - shared == 1
    assert offer.x402.requirements_v1["description"].startswith("certify request b:")


async def test_an_offer_near_the_end_of_its_quote_is_asked_for_again_at_the_new_price() -> None:
    clock = Clock()
    servers = Servers(clock)
    cache = _cache(servers, MemoryKeyValue(), clock, offer_min_validity_s=120)
    await cache.offer("base", "a", 1)
    clock.now += 170  # 130 s of the quote left: still served
    await cache.offer("base", "b", 1)
    assert len(servers.calls) == 2
    assert REGISTRY.get_sample_value("certify_offer_cache_age_seconds", {"network": "base"}) == 170
    clock.now += 20  # 110 s left: too little for a new request
    servers.amount = 40000
    renewed = await cache.offer("base", "c", 1)
    assert len(servers.calls) == 4
    assert renewed.x402.amount_atomic == "40000"
    assert renewed.valid_until == datetime.fromtimestamp(clock.now, UTC) + VALIDITY


async def test_networks_and_public_urls_have_offers_of_their_own() -> None:
    clock = Clock()
    kv = MemoryKeyValue()
    servers = Servers(clock)
    await _cache(servers, kv, clock).offer("base", "a", 1)
    await _cache(servers, kv, clock).offer("arbitrum", "a", 1)
    await _cache(servers, kv, clock, public_base_url="https://moved.example").offer("base", "a", 1)
    assert servers.asked().count("create_payment_requirement") == 3
    assert [arguments["network"] for tool, arguments in servers.calls if tool != "calculate_quote"] == [
        "base",
        "arbitrum",
        "base",
    ]


async def test_a_failing_quote_server_is_reported_and_nothing_is_cached() -> None:
    clock = Clock()
    servers = Servers(clock)
    servers.quote_failure = failure("price_unavailable", "no price", retryable=True)
    cache = _cache(servers, MemoryKeyValue(), clock)
    answer = await cache.offer("base", "a", 1)
    assert isinstance(answer, Failure)
    assert answer.code == "price_unavailable"
    servers.quote_failure = None
    assert not isinstance(await cache.offer("base", "a", 1), Failure)
    assert servers.asked() == ["calculate_quote", "calculate_quote", "create_payment_requirement"]


def _quoting(servers: Servers, clock: Clock) -> tuple[OfferCache, Any]:
    settings = ProxySettings(default_network="base")
    cache = OfferCache(Quotes(cast(Any, servers)), X402(cast(Any, servers)), MemoryKeyValue(), settings, clock=clock)
    return cache, types.SimpleNamespace(offers=cache, quotes=Quotes(cast(Any, servers)), settings=settings)


async def test_a_quote_is_the_cached_offers_quote_for_its_size_else_the_quote_servers() -> None:
    clock = Clock()
    servers = Servers(clock)
    cache, runtime = _quoting(servers, clock)
    first = await current_quote(runtime, 380)  # nothing cached yet: the quote server, for this size
    assert servers.calls == [("calculate_quote", {"data_size_bytes": 380})]
    offer = await cache.offer("base", "req-1", 380)  # a 402 fills the cache
    small, large = await current_quote(runtime, 380), await current_quote(runtime, 10_000)
    assert servers.asked() == ["calculate_quote", "calculate_quote", "create_payment_requirement"]
    assert not isinstance(small, Failure)
    assert not isinstance(large, Failure)
    assert small == offer.quote == first  # the amount a 402 asks, to the last field
    assert large.data_size_bytes == 10_000


async def test_quoting_never_asks_the_x402_server_nor_fills_the_cache() -> None:
    clock = Clock()
    servers = Servers(clock)
    servers.x402_failure = failure("upstream_unavailable", "x402 is down", retryable=True)
    cache, runtime = _quoting(servers, clock)
    quoted = [await current_quote(runtime, size) for size in (380, 381)]
    assert [quote.data_size_bytes for quote in quoted if not isinstance(quote, Failure)] == [380, 381]
    assert servers.asked() == ["calculate_quote", "calculate_quote"]
    assert await cache.cached("base") is None
