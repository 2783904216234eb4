"""The circular service app: ``create_app(settings)`` → FastAPI with the MCP server at ``/mcp``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from certify_circular.service import CircularService
from certify_circular.settings import CircularSettings
from certify_circular.tools import build_mcp
from certify_common.mcp_service import create_service


def create_app(settings: CircularSettings | None = None) -> FastAPI:
    """A fresh app (fresh MCP session manager): tests build one per test."""
    settings = settings or CircularSettings()
    service = CircularService(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await service.start()
        try:
            yield
        finally:
            await service.close()

    app = create_service(settings, build_mcp(service), readiness={"kv": service.ready}, lifespan=lifespan)
    app.state.circular = service
    return app
