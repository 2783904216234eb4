"""ASGI middleware: a correlation id per request, one JSON access line, and the HTTP histogram."""

from __future__ import annotations

import logging
import re
import time
import uuid
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from certify_common.logs import bound
from certify_common.metrics import HTTP_DURATION

logger = logging.getLogger("certify.http")

REQUEST_ID_HEADER = b"x-request-id"
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_QUIET_PATHS = frozenset({"/healthz", "/readyz", "/health", "/metrics"})


def _route_label(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    if isinstance(path, str) and path:
        return path
    raw = str(scope.get("path", ""))
    # The MCP app is mounted, so its endpoint has no route template: a fixed label keeps cardinality bounded.
    return "/mcp" if raw.startswith("/mcp") else "unmatched"


class RequestLoggingMiddleware:
    """Binds ``request_id`` (from ``X-Request-ID`` when well-formed, else new) and logs each request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        incoming = headers.get(REQUEST_ID_HEADER, b"").decode("latin-1")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        status = 500
        start = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (REQUEST_ID_HEADER, request_id.encode())]
            await send(message)

        with bound(request_id=request_id):
            try:
                await self.app(scope, receive, send_wrapper)
            finally:
                elapsed = time.perf_counter() - start
                path_label = _route_label(scope)
                method = str(scope.get("method", "GET"))
                method = method if method in _METHODS else "OTHER"  # a label: bounded set only
                HTTP_DURATION.labels(method, path_label, str(status)).observe(elapsed)
                if scope.get("path") not in _QUIET_PATHS:
                    extra: dict[str, Any] = {
                        "method": method,
                        "path": path_label,
                        "status": status,
                        "duration_ms": round(elapsed * 1000, 2),
                    }
                    logger.info("request", extra=extra)
