"""One factory for every MCP service: an mcp 2.x ``MCPServer`` mounted in FastAPI at ``/mcp``.

Streamable HTTP, stateless, JSON responses, DNS-rebinding protection with the configured allowed
hosts, next to ``/healthz``, ``/readyz``, ``/health`` and ``/metrics``, with request logging and
per-tool metrics. Tools return :func:`ok` / :func:`failed` results so a caller reads both the data
and the structured failure.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from fastapi import FastAPI, Response
from mcp.server import MCPServer
from mcp.server.context import ServerMiddleware, ServerRequestContext
from mcp.server.transport_security import TransportSecuritySettings
from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel

from certify_common.errors import Failure
from certify_common.health import ReadinessCheck, health_router
from certify_common.http_logging import RequestLoggingMiddleware
from certify_common.logs import bound, configure_logging
from certify_common.metrics import MCP_TOOL_CALLS, MCP_TOOL_DURATION, render_latest
from certify_common.settings import ServiceSettings
from certify_common.tracing import configure_tracing, instrument_app

logger = logging.getLogger("certify.mcp")

DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024


def ok(result: BaseModel) -> CallToolResult:
    """A successful tool result: the model as structured content and as JSON text."""
    payload = result.model_dump(mode="json", by_alias=True)
    return CallToolResult(
        content=[TextContent(type="text", text=json.dumps(payload, separators=(",", ":")))],
        structured_content=payload,
    )


def failed(failure: Failure) -> CallToolResult:
    """An ``isError`` tool result whose text is the failure ``{code, message, retryable, details}`` as JSON.

    The failure travels as JSON text, not as structured content: structured content must match the
    tool's output schema, and clients such as the TypeScript SDK reject an error result whose
    structured content does not (typescript-sdk#1943). :func:`failure_from_result` reads it back.
    """
    payload = failure.model_dump(mode="json")
    return CallToolResult(
        content=[TextContent(type="text", text=json.dumps(payload, separators=(",", ":")))],
        is_error=True,
    )


def failure_from_result(result: CallToolResult) -> Failure | None:
    """The :class:`Failure` carried by an ``isError`` result of a certify tool, or None if there is none.

    Errors raised outside our model (argument validation, unexpected exceptions) come as plain text;
    they map to ``tool_error`` with the text as message.
    """
    if not result.is_error:
        return None
    text = "".join(block.text for block in result.content if isinstance(block, TextContent))
    try:
        payload = json.loads(text)
        return Failure.model_validate(payload)
    except ValueError:
        return Failure(code="tool_error", message=text[:500] or "the tool failed without a message")


def result_of(value: BaseModel | Failure) -> CallToolResult:
    """Map a domain outcome to a tool result."""
    return failed(value) if isinstance(value, Failure) else ok(value)


def _outcome(result: Any) -> str:
    if isinstance(result, dict):
        result = CallToolResult.model_validate(result)
    if not isinstance(result, CallToolResult) or not result.is_error:
        return "ok"
    found = failure_from_result(result)
    return "error" if found is None or found.code == "tool_error" else "failure"


ToolResult = BaseModel | dict[str, Any] | None


def _tool_middleware(server_name: str, known_tools: Callable[[], Awaitable[set[str]]]) -> ServerMiddleware[Any]:
    async def middleware(
        ctx: ServerRequestContext[Any, Any],
        call_next: Callable[[ServerRequestContext[Any, Any]], Awaitable[ToolResult]],
    ) -> ToolResult:
        if ctx.method != "tools/call":
            return await call_next(ctx)
        params: Mapping[str, Any] = ctx.params or {}
        requested = str(params.get("name", ""))
        # The name comes from the client: only registered tools become metric labels (bounded cardinality).
        tool = requested if requested in await known_tools() else "unknown"
        start = time.perf_counter()
        outcome = "error"
        with bound(tool=tool):
            try:
                result = await call_next(ctx)
                outcome = _outcome(result)
                return result
            finally:
                elapsed = time.perf_counter() - start
                MCP_TOOL_DURATION.labels(server_name, tool).observe(elapsed)
                MCP_TOOL_CALLS.labels(server_name, tool, outcome).inc()
                logger.info(
                    "tool call",
                    extra={"tool": tool, "outcome": outcome, "duration_ms": round(elapsed * 1000, 2)},
                )

    return middleware


def new_mcp_server(name: str, instructions: str, version: str = "0.1.0") -> MCPServer:
    """An ``MCPServer`` with per-tool metrics and logs; register tools on it, then call :func:`create_service`."""
    names: set[str] = set()

    async def known_tools() -> set[str]:
        if not names:  # tools are registered before the first request; read them once
            names.update(tool.name for tool in await server.list_tools())
        return names

    server: MCPServer = MCPServer(
        name=name, instructions=instructions, version=version, middleware=[_tool_middleware(name, known_tools)]
    )
    return server


Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


def create_service(
    settings: ServiceSettings,
    mcp: MCPServer,
    *,
    readiness: Mapping[str, ReadinessCheck] | None = None,
    lifespan: Lifespan | None = None,
    max_request_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> FastAPI:
    """Build the FastAPI app of one MCP service. Call once per app object (tests build many)."""
    configure_logging(settings.log_level, settings.service_name)
    configure_tracing(settings.service_name)

    @asynccontextmanager
    async def app_lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with mcp.session_manager.run():
            if lifespan is None:
                yield
            else:
                async with lifespan(app):
                    yield

    app = FastAPI(title=f"certify {settings.service_name}", lifespan=app_lifespan, docs_url=None, redoc_url=None)
    app.add_middleware(RequestLoggingMiddleware)
    app.include_router(health_router(settings.service_name, readiness or {}))

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        body, content_type = render_latest()
        return Response(body, media_type=content_type)

    mcp_app = mcp.streamable_http_app(
        streamable_http_path="/mcp",
        json_response=True,
        stateless_http=True,
        max_request_body_size=max_request_body_bytes,
        transport_security=TransportSecuritySettings(
            enable_dns_rebinding_protection=True,
            allowed_hosts=list(settings.allowed_hosts),
            allowed_origins=[f"http://{host}" for host in settings.allowed_hosts]
            + [f"https://{host}" for host in settings.allowed_hosts],
        ),
        host=settings.host,
    )
    # Mounted last: FastAPI's own routes must match before the catch-all mount.
    app.mount("/", mcp_app)
    instrument_app(app)
    return app


def serve(app: FastAPI, settings: ServiceSettings, *, proxy_headers: bool = True) -> None:
    """Run one process with uvicorn (``python -m certify_<name>``); containers use gunicorn instead.

    ``proxy_headers=False`` makes uvicorn ignore ``X-Forwarded-For`` (by default it believes any
    loopback peer), for an app that derives the client address itself.
    """
    import uvicorn

    configure_logging(settings.log_level, settings.service_name)
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        timeout_graceful_shutdown=5,
        proxy_headers=proxy_headers,
    )
