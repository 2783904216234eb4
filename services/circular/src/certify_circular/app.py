"""The circular service app: ``create_app(settings)`` → FastAPI with the MCP server at ``/mcp``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from certify_circular.service import CircularService
from certify_circular.settings import CircularSettings
from certify_circular.tools import build_server
from certify_common.mcp_runtime import Runtime
from certify_common.mcp_service import create_service


def create_app(settings: CircularSettings | None = None) -> FastAPI:
    """A fresh app (fresh MCP session manager): tests build one per test."""
    settings = settings or CircularSettings()
    service = CircularService(settings)  # loads and checks the key now: a bad key fails at start, not on a call
    runtime: Runtime[CircularService] = Runtime("circular")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            async with runtime.provide(service):
                yield
        finally:
            await service.close()

    return create_service(settings, build_server(settings, runtime), readiness={"kv": service.ready}, lifespan=lifespan)
