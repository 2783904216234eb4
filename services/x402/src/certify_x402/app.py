"""The x402 server app: MCP tools at /mcp plus health and metrics; clients created in the lifespan."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import httpx
from fastapi import FastAPI

from certify_common.kv import KeyValue, create_kv
from certify_common.mcp_runtime import Runtime
from certify_common.mcp_service import create_service
from certify_x402.chain import EvmRpc
from certify_x402.facilitator import Facilitator
from certify_x402.payments import Payments
from certify_x402.records import SettlementRecords
from certify_x402.settings import X402Settings
from certify_x402.settlement import Settlement
from certify_x402.tools import X402Deps, build_server


def unix_now() -> int:
    """Seconds since the epoch (EIP-3009 windows are Unix times)."""
    return int(time.time())


def build_payments(
    settings: X402Settings, kv: KeyValue, http: httpx.AsyncClient, clock: Callable[[], int] = unix_now
) -> Payments:
    """Wire the payment operations on shared state and one HTTP client."""
    facilitator = Facilitator(settings, http)
    rpc = EvmRpc(settings, http)
    settlement = Settlement(
        SettlementRecords(kv, settings.x402_settlement_retention_s),
        facilitator,
        rpc,
        clock,
        settings.x402_retry_after_s,
        lock_ttl_s=settings.x402_facilitator_timeout_s + settings.x402_rpc_timeout_s + 5,
        lock_wait_s=settings.x402_settle_wait_s,
    )
    return Payments(settings, settlement, facilitator, rpc, clock)


def create_app(settings: X402Settings | None = None) -> FastAPI:
    """A fresh app (fresh MCP server and runtime) — tests build one per test when they need isolation."""
    settings = settings or X402Settings()
    runtime: Runtime[X402Deps] = Runtime("x402")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        kv = create_kv(settings.redis_url, settings.redis_prefix)
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
        try:
            async with httpx.AsyncClient(timeout=settings.x402_facilitator_timeout_s, limits=limits) as http:
                deps = X402Deps(build_payments(settings, kv, http), kv)
                async with runtime.provide(deps):
                    yield
        finally:
            await kv.close()

    async def kv_ready() -> bool:
        return runtime.started and await runtime.get().kv.ping()

    return create_service(settings, build_server(settings, runtime), readiness={"kv": kv_ready}, lifespan=lifespan)
