"""Long-lived MCP clients: a few supervised sessions per server, checked at start, reconnected with backoff.

Each session is owned by its own supervisor task (the ``mcp.Client`` context is entered and left in
that task), so callers from any request share it. A server gets ``sessions_per_server`` of them and
a call takes the connected one with the fewest calls in flight, so one slow or hung call never holds
up the others. A call that times out or gets a JSON-RPC error leaves its session in service (other
calls on it are unharmed); only a transport failure (connection closed or refused) drops that one
session, which its supervisor reconnects with capped exponential backoff. At most
``max_concurrency_per_server`` calls run against a server at once: a caller that cannot get a slot
within its call timeout gets the retryable ``upstream_busy`` failure (503). While a server is down
calls fail fast with ``upstream_unavailable`` and readiness reports it.

Which tools are retried after a timeout or a dropped connection follows the servers' own
``idempotentHint`` annotations, read from ``tools/list`` at connect (no annotation: not retried).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from mcp import Client
from mcp.server import MCPServer
from mcp.shared.exceptions import MCPError
from mcp.types import CONNECTION_CLOSED, REQUEST_TIMEOUT, CallToolResult
from pydantic import BaseModel, ValidationError

from certify_common.errors import Failure, failure
from certify_common.mcp_tracing import call_tool
from certify_proxy.metrics import MCP_CLIENT_CALLS, MCP_CLIENT_DURATION
from certify_proxy.upstream.results import interpret
from certify_proxy.upstream.sessions import ServerConnection, Session

logger = logging.getLogger("certify.proxy.mcp")

M = TypeVar("M", bound=BaseModel)

#: The tools the proxy relies on, per server; a server missing one is not ready.
EXPECTED_TOOLS: dict[str, frozenset[str]] = {
    "x402": frozenset({"create_payment_requirement", "verify_payment", "settle_payment", "generate_browser_link"}),
    "circular": frozenset({"certify_data", "get_transaction_status", "get_certification_proof"}),
    "quote": frozenset({"check_data_size", "get_cirx_price", "calculate_quote"}),
    "qr": frozenset({"generate_qr_ascii", "generate_qr_image"}),
}


def _unavailable(server: str, message: str, retry_after_s: float) -> Failure:
    return failure(
        "upstream_unavailable", message, retryable=True, server=server, retry_after=max(1, round(retry_after_s))
    )


class _TransportLost(Exception):
    """The session's connection is gone (the call may or may not have reached the server)."""


class McpPool:
    """The proxy's MCP clients. ``call`` returns the structured result or a :class:`Failure`."""

    def __init__(
        self,
        urls: Mapping[str, str | MCPServer],
        *,
        call_timeout_s: float,
        connect_timeout_s: float = 5.0,
        max_backoff_s: float = 10.0,
        retry_attempts: int = 2,
        sessions_per_server: int = 4,
        max_concurrency_per_server: int = 32,
    ) -> None:
        self.call_timeout_s = call_timeout_s
        self.retry_attempts = retry_attempts
        self.servers = {
            name: ServerConnection(
                name,
                url,
                connect_timeout_s=connect_timeout_s,
                max_backoff_s=max_backoff_s,
                expected=EXPECTED_TOOLS.get(name, frozenset()),
                sessions=sessions_per_server,
                max_concurrency=max_concurrency_per_server,
            )
            for name, url in urls.items()
        }

    async def start(self, wait_s: float = 0.0) -> None:
        """Start every supervisor; optionally wait up to ``wait_s`` for all to connect."""
        for server in self.servers.values():
            server.start()
        if wait_s > 0:
            await asyncio.gather(*(server.wait_connected(wait_s) for server in self.servers.values()))

    async def stop(self) -> None:
        """Close every session."""
        await asyncio.gather(*(server.stop() for server in self.servers.values()))

    async def ready(self, name: str) -> bool:
        """Readiness of one server: a held session that lists its tools now (MCP 2026 has no ping)."""
        session = self.servers[name].pick()
        client = None if session is None else session.client
        if session is None or client is None:
            return False
        try:
            async with asyncio.timeout(1.5):
                await client.list_tools()
        except TimeoutError:
            return False  # slow (a loaded server): not ready now, but the session itself is fine
        except MCPError as exc:
            if exc.code != CONNECTION_CLOSED:
                return False  # slow or refused, but the session itself is fine
            session.mark_broken()
            return False
        except Exception:  # noqa: BLE001 - a failed ping of any other kind means the session is gone
            session.mark_broken()
            return False
        return True

    def idempotent(self, server_name: str, tool: str) -> bool:
        """Whether the server declared ``tool`` idempotent (``idempotentHint``), so a retry is safe."""
        return tool in self.servers[server_name].idempotent

    async def call(
        self, server_name: str, tool: str, arguments: dict[str, Any], *, timeout_s: float | None = None
    ) -> dict[str, Any] | Failure:
        """Call a tool: structured content on success, the server's failure, ``upstream_unavailable`` (server
        down, timed out) or ``upstream_busy`` (no call slot within the timeout). Retries only idempotent tools."""
        server = self.servers[server_name]
        timeout = timeout_s or self.call_timeout_s
        try:
            async with asyncio.timeout(timeout):
                await server.slots.acquire()
        except TimeoutError:
            MCP_CLIENT_CALLS.labels(server_name, tool, "busy").inc()
            return failure(
                "upstream_busy",
                f"{server_name} has too many calls in flight",
                retryable=True,
                server=server_name,
                retry_after=1,
            )
        try:
            attempts = self.retry_attempts if self.idempotent(server_name, tool) else 1
            outcome: dict[str, Any] | Failure = _unavailable(server_name, f"{server_name} is unavailable", 1)
            for attempt in range(attempts):
                session = server.pick()
                if session is None and attempt > 0 and await server.wait_connected(min(timeout, 1.0)):
                    session = server.pick()
                if session is None or session.client is None:
                    MCP_CLIENT_CALLS.labels(server_name, tool, "unavailable").inc()
                    return _unavailable(server_name, f"{server_name} is unavailable", server.retry_after_s())
                try:
                    result = await self._call_once(session, session.client, tool, arguments, timeout)
                except TimeoutError:
                    MCP_CLIENT_CALLS.labels(server_name, tool, "timeout").inc()
                    outcome = failure(
                        "upstream_unavailable",
                        f"{server_name}.{tool} timed out",
                        retryable=True,
                        server=server_name,
                        retry_after=1,
                    )
                    continue
                except _TransportLost:
                    MCP_CLIENT_CALLS.labels(server_name, tool, "error").inc()
                    outcome = _unavailable(server_name, f"{server_name} is unavailable", server.retry_after_s())
                    continue
                return result
            return outcome
        finally:
            server.slots.release()

    async def _call_once(
        self, session: Session, client: Client, tool: str, arguments: dict[str, Any], limit_s: float
    ) -> dict[str, Any] | Failure:
        """One ``tools/call`` on one session. A timeout raises ``TimeoutError`` and leaves the session in
        service; a lost transport drops this session only and raises :class:`_TransportLost`."""
        server_name = session.server.name
        session.in_flight += 1
        start = time.perf_counter()
        try:
            result: CallToolResult = await call_tool(
                client, tool, arguments, timeout_s=limit_s, server=session.server.url
            )
        except MCPError as exc:
            if exc.code == REQUEST_TIMEOUT:
                raise TimeoutError from exc
            if exc.code == CONNECTION_CLOSED:
                session.mark_broken()
                raise _TransportLost from exc
            # A JSON-RPC error (unknown tool, invalid params): the session is fine.
            MCP_CLIENT_CALLS.labels(server_name, tool, "failure").inc()
            return failure("upstream_error", f"{server_name}.{tool} failed", retryable=True, server=server_name)
        except TimeoutError:
            raise
        except Exception as exc:
            logger.warning("mcp call failed", extra={"server": server_name, "tool": tool, "error": type(exc).__name__})
            session.mark_broken()
            raise _TransportLost from exc
        finally:
            session.in_flight -= 1
            MCP_CLIENT_DURATION.labels(server_name, tool).observe(time.perf_counter() - start)
        return interpret(server_name, tool, result)


class UpstreamClient:
    """Base of the typed clients (one per MCP server): a tool's answer validated as its contract model.

    A result that does not match the contract is a retryable ``upstream_error``: it says nothing about what
    happened upstream (a settle may have moved money), so the caller reconciles rather than gives up.
    """

    server: ClassVar[str]

    def __init__(self, pool: McpPool) -> None:
        self._pool = pool

    async def _call(self, tool: str, arguments: dict[str, Any], result: type[M]) -> M | Failure:
        answer = await self._pool.call(self.server, tool, arguments)
        if isinstance(answer, Failure):
            return answer
        try:
            return result.model_validate(answer)
        except ValidationError as exc:
            logger.warning(
                "mcp result off contract", extra={"server": self.server, "tool": tool, "errors": exc.error_count()}
            )
            return failure(
                "upstream_error", f"{self.server}.{tool} answered off its contract", retryable=True, server=self.server
            )
