"""The CIRX/USD price, cached and shared by every process that shares the key-value store.

- Fresh for ``price_cache_ttl_s`` (5 min): served from the cache without asking CoinGecko.
- On a miss, one caller asks CoinGecko: an in-process lock queues this process's callers and a
  key-value lock (Redis when configured) elects one process; every waiter re-reads the cache
  once it gets the lock, so concurrent misses make a single upstream request.
- When CoinGecko fails or rate-limits, nobody asks again for ``price_retry_after_s`` (or the
  ``Retry-After`` it sent), and the last price is served marked ``stale`` while it is younger than
  ``price_max_stale_s``; beyond that the answer is a retryable ``price_unavailable`` failure.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Protocol

from pydantic import BaseModel, Field

from certify_common.errors import Failure, failure
from certify_common.kv import KeyValue, LockTimeoutError
from certify_quote.settings import QuoteSettings

logger = logging.getLogger("certify.quote.price")

PRICE_KEY = "quote:cirx_price"
BACKOFF_KEY = "quote:cirx_price:backoff"
LOCK_NAME = "quote:cirx_price"
SOURCE = "coingecko"


class PriceUpstream(Protocol):
    """Where fresh prices come from (CoinGecko in production)."""

    async def usd_price(self) -> Decimal | Failure: ...


class CirxPrice(BaseModel):
    """The CIRX price in USD and how fresh it is."""

    cirx_price_usd: str = Field(description="Price of 1 CIRX in USD, an exact decimal string, e.g. `0.0044`.")
    source: str = Field(description="Where the price came from (`coingecko`).")
    cached_at: datetime = Field(description="When the price was fetched from the source (UTC).")
    expires_at: datetime = Field(description="When the price stops being fresh (UTC); in the past when stale.")
    stale: bool = Field(description="True when the source is failing and an older price is served instead.")


@dataclass(frozen=True)
class _Entry:
    price: Decimal
    fetched_at: datetime

    def dump(self) -> str:
        return json.dumps({"price": format(self.price, "f"), "fetched_at": self.fetched_at.isoformat()})

    @classmethod
    def load(cls, text: str | None) -> _Entry | None:
        if text is None:
            return None
        try:
            raw = json.loads(text)
            entry = cls(Decimal(raw["price"]), datetime.fromisoformat(raw["fetched_at"]))
        except (ValueError, KeyError, TypeError, InvalidOperation):
            logger.warning("unreadable cached price ignored")
            return None
        return entry if entry.price.is_finite() and entry.price > 0 else None


def _utc_now() -> datetime:
    return datetime.now(UTC)


class PriceCache:
    """Serves :class:`CirxPrice` values; one instance per process, shared by every tool call."""

    def __init__(
        self,
        upstream: PriceUpstream,
        kv: KeyValue,
        settings: QuoteSettings,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self._upstream = upstream
        self._kv = kv
        self._ttl = timedelta(seconds=settings.price_cache_ttl_s)
        self._max_stale = timedelta(seconds=settings.price_max_stale_s)
        self._pause_s = settings.price_retry_after_s
        self._lock_ttl_s = settings.coingecko_timeout_s + 5.0
        self._lock_wait_s = settings.coingecko_timeout_s + 2.0
        self._clock = clock
        self._local = asyncio.Lock()

    async def current(self) -> CirxPrice | Failure:
        """The fresh price, else one upstream request, else the stale price, else ``price_unavailable``."""
        cached = await self._cached()
        if cached is not None:
            return cached
        async with self._local:
            cached = await self._cached()
            if cached is not None:
                return cached
            paused_s = await self._paused_for()
            if paused_s is not None:
                # CoinGecko failed moments ago: answer from what is cached without queueing on the lock.
                return self._fallback(await self._read(), "paused_after_failure", paused_s)
            try:
                async with self._kv.lock(LOCK_NAME, ttl_s=self._lock_ttl_s, wait_s=self._lock_wait_s):
                    return await self._refresh()
            except LockTimeoutError:
                # Another process holds the lock beyond its bounded upstream call: do not pile on.
                cached = await self._cached()
                return cached or self._fallback(await self._read(), "lock_busy", self._pause_s)

    async def _refresh(self) -> CirxPrice | Failure:
        entry = await self._read()
        if entry is not None and self._fresh(entry):
            return self._view(entry)
        paused_s = await self._paused_for()
        if paused_s is not None:
            return self._fallback(entry, "paused_after_failure", paused_s)
        price = await self._upstream.usd_price()
        if isinstance(price, Failure):
            pause_s = price.retry_after or self._pause_s
            await self._pause(pause_s)
            return self._fallback(entry, price.code, pause_s)
        fresh = _Entry(price, self._clock())
        keep_s = (self._ttl + self._max_stale).total_seconds() + 60
        await self._kv.set(PRICE_KEY, fresh.dump(), ttl_s=keep_s)
        return self._view(fresh)

    async def _read(self) -> _Entry | None:
        return _Entry.load(await self._kv.get(PRICE_KEY))

    async def _cached(self) -> CirxPrice | None:
        """The cached price while it is fresh, else None."""
        entry = await self._read()
        return self._view(entry) if entry is not None and self._fresh(entry) else None

    def _fresh(self, entry: _Entry) -> bool:
        return self._clock() < entry.fetched_at + self._ttl

    def _view(self, entry: _Entry, stale: bool = False) -> CirxPrice:
        return CirxPrice(
            cirx_price_usd=format(entry.price, "f"),
            source=SOURCE,
            cached_at=entry.fetched_at,
            expires_at=entry.fetched_at + self._ttl,
            stale=stale,
        )

    def _fallback(self, entry: _Entry | None, reason: str, retry_after_s: float) -> CirxPrice | Failure:
        now = self._clock()
        if entry is not None and now - entry.fetched_at <= self._max_stale:
            # Once per failed upstream call, not once per served call (those would flood the log).
            if reason != "paused_after_failure":
                logger.warning("serving stale cirx price", extra={"reason": reason})
            return self._view(entry, stale=True)
        age_s = None if entry is None else int((now - entry.fetched_at).total_seconds())
        return failure(
            "price_unavailable",
            "the CIRX price source is failing and no recent price is cached; retry later",
            retryable=True,
            retry_after=max(1, math.ceil(retry_after_s)),
            reason=reason,
            last_price_age_s=age_s,
        )

    async def _paused_for(self) -> float | None:
        """Seconds left of the pause after an upstream failure, or None when not paused."""
        text = await self._kv.get(BACKOFF_KEY)
        if text is None:
            return None
        try:
            until = datetime.fromisoformat(text)
        except ValueError:
            return None
        left = (until - self._clock()).total_seconds()
        return left if left > 0 else None

    async def _pause(self, seconds: float) -> None:
        until = self._clock() + timedelta(seconds=seconds)
        await self._kv.set(BACKOFF_KEY, until.isoformat(), ttl_s=seconds + 1)
