"""The proxy's FastAPI application: ``create_app(settings)`` (one per test, one per worker)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from certify_common.errors import FailureError, failure
from certify_common.health import ReadinessCheck, health_router
from certify_common.http_logging import RequestLoggingMiddleware
from certify_common.logs import configure_logging, register_secret
from certify_common.metrics import render_latest
from certify_common.tracing import configure_tracing, instrument_app
from certify_proxy.api.errors import ApiError, error_response
from certify_proxy.api.json_response import FastJSONResponse
from certify_proxy.api.middleware import BodyLimitMiddleware
from certify_proxy.api.routes import account, admin, certificates, certify, pay, qr, quote, status
from certify_proxy.api_keys import ensure_key
from certify_proxy.metrics import register_series
from certify_proxy.runtime import Runtime
from certify_proxy.settings import ProxySettings
from certify_proxy.store.db import instrument_engine, ping, transaction
from certify_proxy.store.outages import OUTAGE_CANDIDATES, outage_of
from certify_proxy.store.schema import SchemaGate
from certify_proxy.tasks.background import Background

logger = logging.getLogger("certify.proxy")

#: How often a proxy whose database is not at head checks again.
SCHEMA_CHECK_INTERVAL_S = 2.0
#: Room for base64 overhead and the JSON around a maximal document.
BODY_OVERHEAD_BYTES = 64 * 1024


def _readiness(app: FastAPI, settings: ProxySettings) -> dict[str, ReadinessCheck]:
    def runtime() -> Runtime:
        value: Runtime = app.state.runtime
        return value

    async def database() -> bool:
        return await ping(runtime().engine)

    async def schema_at_head() -> bool:
        gate: SchemaGate = app.state.schema
        return gate.ready

    async def redis() -> bool:
        return await runtime().kv.ping()

    checks: dict[str, ReadinessCheck] = {"database": database, "schema_at_head": schema_at_head}
    if settings.redis_url:
        checks["redis"] = redis
    for name in settings.mcp_urls:

        async def server_ready(name: str = name) -> bool:
            return await runtime().pool.ready(name)

        checks[f"mcp_{name}"] = server_ready
    return checks


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(FailureError)
    async def refused(_request: Request, exc: FailureError) -> JSONResponse:
        # Lifecycle code refuses with a FailureError (no HTTP there); routes add headers with ApiError.
        return error_response(exc.failure, exc.headers if isinstance(exc, ApiError) else None)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # Only locations and messages: the offending input may be the document itself.
        errors = [{"loc": [str(part) for part in error["loc"]], "msg": error["msg"]} for error in exc.errors()]
        return error_response(failure("invalid_request", "the request is not valid", errors=errors))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        response = error_response(failure(code, str(exc.detail)))
        response.status_code = exc.status_code
        return response

    def internal_error(exc: Exception) -> JSONResponse:
        # The traceback is kept (the redaction filter masks secrets and blobs in it); the client gets no detail.
        logger.error("unhandled error", exc_info=exc)
        return FastJSONResponse(
            {"code": "internal_error", "message": "internal error", "retryable": True, "details": {}}, status_code=500
        )

    async def outage(_request: Request, exc: Exception) -> JSONResponse:
        fail = outage_of(exc)
        if fail is None:
            return internal_error(exc)
        logger.warning("store outage", extra={"code": fail.code, "error": type(exc).__name__})
        return error_response(fail)

    for candidate in OUTAGE_CANDIDATES:
        app.add_exception_handler(candidate, outage)

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        return internal_error(exc)


def create_app(settings: ProxySettings | None = None) -> FastAPI:
    """Build the proxy. It is ready once ``certify-admin db upgrade`` brought the database to its head."""
    settings = settings or ProxySettings()
    configure_logging(settings.log_level, settings.service_name)
    register_secret(settings.dev_api_key)
    register_secret(settings.webhook_secret)
    register_series()
    tracing = configure_tracing(settings.service_name)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = Runtime.build(settings)
        app.state.runtime = runtime
        if tracing:
            instrument_engine(runtime.engine)
            runtime.direct.traced = True

        async def schema_ready() -> None:
            if settings.dev_api_key:
                async with transaction(runtime.sessions) as session:
                    await ensure_key(session, "development", settings.dev_api_key)

        schema = app.state.schema = SchemaGate(
            runtime.engine, interval_s=SCHEMA_CHECK_INTERVAL_S, on_ready=schema_ready
        )
        await runtime.pool.start()
        await schema.start()
        background = Background(runtime, schema)
        background.start()
        try:
            yield
        finally:
            await background.stop()
            await schema.stop()
            await runtime.close()

    app = FastAPI(
        title="certify",
        version="0.1.0",
        summary="Certify documents on the Circular Protocol blockchain, paid per use with x402 (USDC).",
        lifespan=lifespan,
        default_response_class=FastJSONResponse,
        # No 307 to the slash-toggled path: such a redirect counted its raw path (request ids included) as
        # a metric label; an unknown path is a 404 counted once, as "unmatched".
        redirect_slashes=False,
        # Traces come from opentelemetry-instrumentation-fastapi (``instrument_app``) when configured; FastAPI's
        # own telemetry would otherwise look up three global providers on every request to find it is off.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    _install_error_handlers(app)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST"],
        allow_headers=["X-API-Key", "Content-Type", "X-PAYMENT", "PAYMENT-SIGNATURE", "Prefer", "X-Request-ID"],
        expose_headers=["PAYMENT-REQUIRED", "PAYMENT-RESPONSE", "X-PAYMENT-RESPONSE", "Retry-After", "X-Request-ID"],
    )
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_data_bytes * 4 // 3 + BODY_OVERHEAD_BYTES)
    app.add_middleware(RequestLoggingMiddleware)
    if settings.forwarded_allow_ips:
        # Outermost: the client address is settled before logs, limits and routes see it. The server itself
        # trusts no forwarding header (``__main__``, the Dockerfile), so the peer address here is real.
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.forwarded_allow_ips)
    for module in (quote, certify, status, qr, pay, certificates, admin, account):
        app.include_router(module.router)
    app.include_router(health_router(settings.service_name, _readiness(app, settings)))

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        body, content_type = render_latest()
        return Response(body, media_type=content_type)

    # HTTP metrics come from RequestLoggingMiddleware (certify_http_request_duration_seconds by method, route
    # template and status, as in every service; dashboards and alerts query it). prometheus-fastapi-instrumentator
    # was dropped: it measured the same requests again, at 0.25 ms of a 402's 1.15 ms of CPU (bench/, issue 14).
    instrument_app(app)
    return app
