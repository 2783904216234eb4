"""ASGI middleware of the proxy: the request-body size limit, and no large body before the caller is known.

Bodies are buffered here (the API parses whole JSON bodies anyway) and replayed to the app. Beyond
the first ``preauth_bytes`` (64 KiB: any request but a document upload fits), the rest is read only
once the caller is known: a valid ``X-API-Key``, or, for the payment page's callback, the request's
token. Without them the answer comes before the bulk of the body is received, so unauthenticated
clients cannot make the proxy hold megabytes each. Keyless uploads in ``AUTH_MODE=open`` have no
credential to check and are bounded by the size limit alone.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from certify_common.errors import Failure, failure
from certify_proxy.api.errors import error_response
from certify_proxy.certification.ownership import match_token
from certify_proxy.runtime import Runtime
from certify_proxy.store import repositories as repo

PREAUTH_BYTES = 64 * 1024
_PAY_CALLBACK = re.compile(r"^/v1/pay/([^/]+)$")


class BodyLimitMiddleware:
    """Refuse bodies over ``max_bytes`` (413 ``body_too_large``) and read past ``preauth_bytes`` only once admitted."""

    def __init__(self, app: ASGIApp, max_bytes: int, preauth_bytes: int = PREAUTH_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.preauth_bytes = preauth_bytes

    async def _refuse(self, fail: Failure, scope: Scope, receive: Receive, send: Send) -> None:
        await error_response(fail)(scope, receive, send)

    def _too_large(self) -> Failure:
        return failure(
            "body_too_large", f"request bodies are limited to {self.max_bytes} bytes", max_bytes=self.max_bytes
        )

    async def _admission(self, scope: Scope) -> Failure | None:
        """None when the caller may send a large body; else the refusal (as a dependency would answer)."""
        runtime: Runtime = scope["app"].state.runtime
        headers = dict(scope.get("headers") or [])
        key = headers.get(b"x-api-key", b"").decode("latin-1")
        if key:
            principal = await runtime.keys.principal(runtime.reads, key)
            return None if principal is not None else failure("invalid_api_key", "unknown or revoked API key")
        callback = _PAY_CALLBACK.match(str(scope.get("path", "")))
        if callback is not None:
            token = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("token", [""])[0]
            async with runtime.reads() as session:
                rows = await repo.requests_with_id(session, callback.group(1), keyless_only=False)
            return None if match_token(rows, token) is not None else failure("not_found", "no such link")
        if runtime.settings.auth_mode == "open":
            return None
        return failure("missing_api_key", "send your key in the X-API-Key header")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        declared_bytes = int(declared) if declared is not None and declared.isdigit() else None
        if declared_bytes is not None and declared_bytes > self.max_bytes:
            await self._refuse(self._too_large(), scope, receive, send)
            return
        admitted = declared_bytes is not None and declared_bytes <= self.preauth_bytes
        chunks: list[bytes] = []
        received = 0
        while True:
            if not admitted and (received > self.preauth_bytes or (declared_bytes or 0) > self.preauth_bytes):
                refusal = await self._admission(scope)
                if refusal is not None:
                    await self._refuse(refusal, scope, receive, send)
                    return
                admitted = True
            message = await receive()
            if message["type"] != "http.request":
                break  # the client went away; the app sees an empty body and the disconnect below
            chunk = message.get("body", b"")
            received += len(chunk)
            if received > self.max_bytes:
                await self._refuse(self._too_large(), scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
