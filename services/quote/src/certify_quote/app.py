"""The quote server app: MCP tools at /mcp plus health and metrics, clients created in the lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from certify_common.kv import create_kv
from certify_common.logs import register_secret
from certify_common.mcp_runtime import Runtime
from certify_common.mcp_service import create_service
from certify_quote.coingecko import CoinGecko, new_http_client
from certify_quote.price_cache import PriceCache
from certify_quote.settings import QuoteSettings
from certify_quote.tools import QuoteDeps, build_server


def create_app(settings: QuoteSettings | None = None) -> FastAPI:
    """A fresh app (fresh MCP server and runtime) — tests build one per test when they need isolation."""
    settings = settings or QuoteSettings()
    if settings.coingecko_api_key is not None:
        register_secret(settings.coingecko_api_key.get_secret_value())
    runtime: Runtime[QuoteDeps] = Runtime("quote")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        kv = create_kv(settings.redis_url, settings.redis_prefix)
        try:
            async with new_http_client(settings) as http:
                deps = QuoteDeps(PriceCache(CoinGecko(http, settings), kv, settings), kv)
                async with runtime.provide(deps):
                    yield
        finally:
            await kv.close()

    async def kv_ready() -> bool:
        return runtime.started and await runtime.get().kv.ping()

    return create_service(
        settings,
        build_server(settings, runtime),
        readiness={"kv": kv_ready},
        lifespan=lifespan,
        max_request_body_bytes=settings.max_request_body_bytes,
    )
