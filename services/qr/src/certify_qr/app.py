"""The QR service: its MCP server mounted at /mcp beside the health and metrics routes."""

from __future__ import annotations

from fastapi import FastAPI

from certify_common.mcp_runtime import Runtime
from certify_common.mcp_service import create_service
from certify_qr.settings import QrSettings
from certify_qr.tools import build_server


def create_app(settings: QrSettings | None = None) -> FastAPI:
    """Build a fresh app (one per test; the MCP session manager runs once per app object)."""
    settings = settings or QrSettings()
    return create_service(settings, build_server(settings, Runtime("qr", None)))
