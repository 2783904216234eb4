"""What a running proxy holds: settings, database, shared state, rate limiter and MCP pool."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import httpx
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from certify_common.kv import KeyValue, RedisKeyValue, create_kv
from certify_proxy.api.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from certify_proxy.api_keys import KeyCache
from certify_proxy.certification.offer_cache import OfferCache
from certify_proxy.certification.offers import AgentOffers
from certify_proxy.settings import ProxySettings
from certify_proxy.store.db import create_engine, read_factory, session_factory
from certify_proxy.store.direct import DirectPool
from certify_proxy.upstream.circular import Circular
from certify_proxy.upstream.pool import McpPool
from certify_proxy.upstream.qr import Qr
from certify_proxy.upstream.quote import Quotes
from certify_proxy.upstream.x402 import X402


@dataclass
class Runtime:
    """Long-lived clients of one process, created in the lifespan and closed at shutdown.

    ``http`` serves the JSON-RPC receipt lookups; MCP calls go through the typed clients over ``pool``
    (``x402``, ``circular``, ``quotes``, ``qr``); ``offers`` holds the offers of 402 answers (asked of the
    quote and x402 servers once per price period); ``keys`` the API keys found active (trusted for
    ``API_KEY_CACHE_TTL_S``).
    """

    settings: ProxySettings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    kv: KeyValue
    limiter: RateLimiter
    pool: McpPool
    http: httpx.AsyncClient
    offers: OfferCache
    keys: KeyCache

    @classmethod
    def build(cls, settings: ProxySettings) -> Runtime:
        """Create (not yet connect) every client from the settings."""
        engine = create_engine(settings)
        kv = create_kv(settings.redis_url, settings.redis_prefix)
        limiter: RateLimiter = (
            RedisRateLimiter(kv.client, settings.redis_prefix) if isinstance(kv, RedisKeyValue) else MemoryRateLimiter()
        )
        pool = McpPool(
            settings.mcp_urls,
            call_timeout_s=settings.mcp_call_timeout_s,
            connect_timeout_s=settings.mcp_connect_timeout_s,
            max_backoff_s=settings.mcp_reconnect_max_backoff_s,
            retry_attempts=settings.mcp_retry_attempts,
            sessions_per_server=settings.mcp_sessions_per_server,
            max_concurrency_per_server=settings.mcp_max_concurrency_per_server,
        )
        http = httpx.AsyncClient(timeout=settings.evm_rpc_timeout_s)
        return cls(
            settings,
            engine,
            session_factory(engine),
            kv,
            limiter,
            pool,
            http,
            OfferCache(Quotes(pool), X402(pool), kv, settings),
            KeyCache(settings.api_key_cache_ttl_s),
        )

    @property
    def autocommit(self) -> bool:
        """Whether a single statement may run outside a transaction block (no ``BEGIN``/``COMMIT`` round trips).
        Not behind PgBouncer in transaction mode: SQLAlchemy's asyncpg dialect prepares a statement and runs it in
        two exchanges, which PgBouncer may send to two server connections unless a transaction holds one."""
        return not self.settings.database_pgbouncer

    @cached_property
    def reads(self) -> async_sessionmaker[AsyncSession]:
        """Sessions for reads only: no transaction round trips where ``autocommit`` allows, and no writes."""
        return read_factory(self.engine, autocommit=self.autocommit)

    @cached_property
    def direct(self) -> DirectPool:
        """Direct asyncpg connections for the 402's single statement (``store/direct.py``)."""
        return DirectPool(self.settings)

    @cached_property
    def x402(self) -> X402:
        """The x402 server's tools."""
        return X402(self.pool)

    @cached_property
    def circular(self) -> Circular:
        """The circular server's tools."""
        return Circular(self.pool)

    @cached_property
    def quotes(self) -> Quotes:
        """The quote server's tools."""
        return Quotes(self.pool)

    @cached_property
    def qr(self) -> Qr:
        """The qr server's tools."""
        return Qr(self.pool)

    @cached_property
    def agent_offers(self) -> AgentOffers:
        """Agents' 402s, rendered once per offer template."""
        return AgentOffers(self.offers, self.settings)

    async def close(self) -> None:
        """Close every client."""
        await self.pool.stop()
        await self.http.aclose()
        await self.kv.close()
        await self.direct.close()
        await self.engine.dispose()
