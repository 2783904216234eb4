"""The cached CIRX price: fresh for 5 minutes, one upstream call per miss, stale then unavailable on failures."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

from certify_common.errors import Failure, failure
from certify_common.kv import MemoryKeyValue
from certify_quote.price_cache import CirxPrice, PriceCache
from certify_quote.settings import QuoteSettings

if TYPE_CHECKING:  # the doubles reach tests as fixtures (conftest.py is not importable under importlib mode)
    from conftest import Clock, ScriptedUpstream

SETTINGS = QuoteSettings(price_cache_ttl_s=300, price_max_stale_s=3600, price_retry_after_s=30)
SERVER_ERROR = failure("upstream_error", "HTTP 500", retryable=True, status=500)


def cache(upstream: ScriptedUpstream, clock: Clock, kv: MemoryKeyValue | None = None) -> PriceCache:
    return PriceCache(upstream, kv or MemoryKeyValue("test"), SETTINGS, clock=clock)


async def price_of(prices: PriceCache) -> CirxPrice:
    result = await prices.current()
    assert isinstance(result, CirxPrice), result
    return result


async def unavailable(prices: PriceCache) -> Failure:
    result = await prices.current()
    assert isinstance(result, Failure), result
    return result


async def test_the_first_call_fetches_and_the_next_ones_are_served_from_the_cache(
    upstream: ScriptedUpstream, clock: Clock
) -> None:
    prices = cache(upstream, clock)
    first = await price_of(prices)
    assert first == CirxPrice(
        cirx_price_usd="0.0044",
        source="coingecko",
        cached_at=clock.now,
        expires_at=clock.now + timedelta(minutes=5),
        stale=False,
    )
    clock.advance(299)
    assert await price_of(prices) == first
    assert upstream.calls == 1


async def test_after_five_minutes_the_price_is_fetched_again(upstream: ScriptedUpstream, clock: Clock) -> None:
    prices = cache(upstream, clock)
    await price_of(prices)
    clock.advance(300)
    upstream.price = upstream.price * 2
    assert (await price_of(prices)).cirx_price_usd == "0.0088"
    assert upstream.calls == 2


async def test_fifty_concurrent_misses_make_one_upstream_call(upstream: ScriptedUpstream, clock: Clock) -> None:
    prices = cache(upstream, clock)
    upstream.gate.clear()
    calls = [asyncio.create_task(prices.current()) for _ in range(50)]
    await asyncio.wait_for(upstream.called.wait(), timeout=5)
    await asyncio.sleep(0)  # let every other task reach the cache and queue behind the first
    upstream.gate.set()
    results = await asyncio.gather(*calls)
    assert upstream.calls == 1
    assert {result.cirx_price_usd for result in results if isinstance(result, CirxPrice)} == {"0.0044"}
    assert len(results) == 50


async def test_two_caches_sharing_one_store_share_the_price(upstream: ScriptedUpstream, clock: Clock) -> None:
    kv = MemoryKeyValue("shared")
    await price_of(cache(upstream, clock, kv))
    await price_of(cache(upstream, clock, kv))
    assert upstream.calls == 1


async def test_when_the_upstream_fails_the_last_price_is_served_stale(upstream: ScriptedUpstream, clock: Clock) -> None:
    prices = cache(upstream, clock)
    fresh = await price_of(prices)
    clock.advance(301)
    upstream.fail = SERVER_ERROR
    stale = await price_of(prices)
    assert stale == fresh.model_copy(update={"stale": True})
    assert upstream.calls == 2


async def test_after_a_failure_nobody_asks_upstream_again_until_the_pause_ends(
    upstream: ScriptedUpstream, clock: Clock
) -> None:
    prices = cache(upstream, clock)
    await price_of(prices)
    clock.advance(301)
    upstream.fail = SERVER_ERROR
    for _ in range(5):
        assert (await price_of(prices)).stale
    assert upstream.calls == 2
    clock.advance(30)
    upstream.fail = None
    upstream.price = upstream.price + 1
    recovered = await price_of(prices)
    assert (recovered.cirx_price_usd, recovered.stale, upstream.calls) == ("1.0044", False, 3)


async def test_a_rate_limit_pause_follows_the_upstreams_retry_after(upstream: ScriptedUpstream, clock: Clock) -> None:
    prices = cache(upstream, clock)
    upstream.fail = failure("upstream_rate_limited", "429", retryable=True, retry_after=90)
    result = await unavailable(prices)
    assert result.details["retry_after"] == 90
    clock.advance(60)
    assert (await unavailable(prices)).details["retry_after"] == 30
    assert upstream.calls == 1


async def test_a_price_older_than_an_hour_is_not_served(upstream: ScriptedUpstream, clock: Clock) -> None:
    prices = cache(upstream, clock)
    await price_of(prices)
    upstream.fail = SERVER_ERROR
    clock.advance(3600)
    assert (await price_of(prices)).stale
    clock.advance(31)  # past the pause and past the hour
    result = await unavailable(prices)
    assert (result.code, result.retryable) == ("price_unavailable", True)
    assert result.details == {
        "retry_after": 30,
        "reason": "upstream_error",
        "last_price_age_s": 3631,
    }


async def test_with_no_price_ever_fetched_a_failure_is_price_unavailable(
    upstream: ScriptedUpstream, clock: Clock
) -> None:
    upstream.fail = failure("upstream_timeout", "slow", retryable=True)
    result = await unavailable(cache(upstream, clock))
    assert result.code == "price_unavailable"
    assert result.retry_after == 30
    assert result.details["last_price_age_s"] is None


async def test_an_unreadable_cache_entry_is_ignored_and_refetched(upstream: ScriptedUpstream, clock: Clock) -> None:
    kv = MemoryKeyValue("test")
    await kv.set("quote:cirx_price", '{"price": "NaN", "fetched_at": "2026-11-22T03:00:00+00:00"}')
    assert (await price_of(cache(upstream, clock, kv))).cirx_price_usd == "0.0044"
    assert upstream.calls == 1


async def test_a_price_in_exponent_form_is_served_as_a_plain_decimal(upstream: ScriptedUpstream, clock: Clock) -> None:
    upstream.price = Decimal("4.4E-8")
    assert (await price_of(cache(upstream, clock))).cirx_price_usd == "0.000000044"
