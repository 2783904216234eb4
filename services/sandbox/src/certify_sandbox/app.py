"""The sandbox app: every stand-in's router on one port, plus fault and call-count control.

Each stand-in module exposes ``build_router(faults: Faults) -> APIRouter``; add new ones to
``STAND_INS``. State is in memory and per process (a sandbox is one process).
"""

from __future__ import annotations

import importlib

from fastapi import FastAPI

from certify_common.health import health_router
from certify_common.http_logging import RequestLoggingMiddleware
from certify_common.logs import configure_logging
from certify_common.tracing import configure_tracing, instrument_app
from certify_sandbox.faults import Faults, control_router
from certify_sandbox.settings import SandboxSettings

#: Modules of the stand-ins served by the sandbox, each with ``build_router(faults)``.
STAND_INS = (
    "certify_sandbox.coingecko",
    "certify_sandbox.nag",
    "certify_sandbox.facilitator",
    "certify_sandbox.evm_rpc",
)


def create_app(settings: SandboxSettings | None = None) -> FastAPI:
    """Build a fresh sandbox (fresh state) — tests build one per test when they need isolation."""
    settings = settings or SandboxSettings()
    configure_logging(settings.log_level, settings.service_name)
    configure_tracing(settings.service_name)
    faults = Faults()
    app = FastAPI(title="certify sandbox (test double of the outside world)", docs_url=None, redoc_url=None)
    app.state.faults = faults
    app.add_middleware(RequestLoggingMiddleware)
    app.include_router(health_router("sandbox", {}))
    app.include_router(control_router(faults))
    for module_name in STAND_INS:
        module = importlib.import_module(module_name)
        app.include_router(module.build_router(faults))
    instrument_app(app)
    return app
