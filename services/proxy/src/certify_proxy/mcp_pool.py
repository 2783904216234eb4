"""One long-lived MCP client per server, supervised: checked at start, reconnected with backoff.

Each connection is owned by its own supervisor task (the ``mcp.Client`` context is entered and
left in that task), so callers from any request share the session. While a server is down calls
fail fast with a retryable ``upstream_unavailable`` failure and readiness reports it; the
supervisor keeps trying with capped exponential backoff and the pool recovers on its own.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Mapping
from typing import Any

from mcp import Client
from mcp.server import MCPServer

from certify_common.errors import Failure, failure
from certify_common.mcp_tracing import call_tool, traced_transport
from certify_proxy.mcp_results import interpret
from certify_proxy.metrics import MCP_CLIENT_CALLS, MCP_CLIENT_DURATION, MCP_SERVER_UP

logger = logging.getLogger("certify.proxy.mcp")

#: The tools the proxy relies on, per server; a server missing one is not ready.
EXPECTED_TOOLS: dict[str, frozenset[str]] = {
    "x402": frozenset({"create_payment_requirement", "verify_payment", "settle_payment", "generate_browser_link"}),
    "circular": frozenset({"certify_data", "get_transaction_status", "get_certification_proof"}),
    "quote": frozenset({"check_data_size", "get_cirx_price", "calculate_quote"}),
    "qr": frozenset({"generate_qr_ascii", "generate_qr_image"}),
}
#: Tools safe to call again after a timeout or a lost answer (reads, or pure functions of their input).
IDEMPOTENT_TOOLS = frozenset(
    {
        "check_data_size",
        "get_cirx_price",
        "calculate_quote",
        "generate_qr_ascii",
        "generate_qr_image",
        "encode_x402_to_qr",
        "create_payment_requirement",
        "generate_browser_link",
        "encode_payment_for_qr",
        "get_wallet_nonce",
        "get_transaction_status",
        "get_certification_proof",
        "get_wallet_balance",
    }
)


def _unavailable(server: str, message: str, retry_after_s: float) -> Failure:
    return failure(
        "upstream_unavailable", message, retryable=True, server=server, retry_after=max(1, round(retry_after_s))
    )


class ServerConnection:
    """The supervised session to one MCP server."""

    def __init__(
        self,
        name: str,
        url: str | MCPServer,
        *,
        connect_timeout_s: float,
        max_backoff_s: float,
        expected: frozenset[str],
    ) -> None:
        self.name = name
        self.url = url
        self.expected = expected
        self.connect_timeout_s = connect_timeout_s
        self.max_backoff_s = max_backoff_s
        self.tools: frozenset[str] = frozenset()
        self._client: Client | None = None
        self._broken = asyncio.Event()
        self._connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._next_attempt_at = 0.0

    @property
    def connected(self) -> bool:
        """True while a checked session is held."""
        return self._client is not None

    def start(self) -> None:
        """Start the supervisor task (in the caller's event loop)."""
        self._task = asyncio.create_task(self._supervise(), name=f"mcp-{self.name}")

    async def stop(self) -> None:
        """Stop the supervisor and close the session."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._client = None
        MCP_SERVER_UP.labels(self.name).set(0)

    async def wait_connected(self, timeout_s: float) -> bool:
        """Wait until a session is held or the timeout passes."""
        try:
            await asyncio.wait_for(self._connected.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    def mark_broken(self) -> None:
        """Drop the session; the supervisor reconnects."""
        if self._client is not None:
            logger.warning("mcp server unreachable", extra={"server": self.name})
        self._client = None
        self._connected.clear()
        MCP_SERVER_UP.labels(self.name).set(0)
        self._broken.set()

    def retry_after_s(self) -> float:
        """Seconds until the supervisor's next connection attempt."""
        return max(self._next_attempt_at - time.monotonic(), 1.0)

    @property
    def client(self) -> Client | None:
        """The live client, or None while disconnected."""
        return self._client

    async def _session(self) -> None:
        # A URL in production; an in-process MCPServer in unit tests (same code path above the transport).
        server = traced_transport(self.url) if isinstance(self.url, str) else self.url
        client = Client(server, read_timeout_seconds=self.connect_timeout_s, cache=None)
        async with asyncio.timeout(self.connect_timeout_s):
            await client.__aenter__()
        try:
            async with asyncio.timeout(self.connect_timeout_s):
                listed = await client.list_tools()
            names = frozenset(tool.name for tool in listed.tools)
            missing = self.expected - names
            if missing:
                logger.error("mcp server lacks tools", extra={"server": self.name, "missing": sorted(missing)})
                raise ConnectionError(f"{self.name} lacks tools {sorted(missing)}")
            self.tools = names
            self._broken.clear()
            self._client = client
            self._connected.set()
            MCP_SERVER_UP.labels(self.name).set(1)
            logger.info("mcp server connected", extra={"server": self.name, "tools": len(names)})
            await self._broken.wait()
        finally:
            self._client = None
            self._connected.clear()
            await asyncio.shield(_close_quietly(client))

    async def _supervise(self) -> None:
        # The session lives in its own task: when the transport dies, the client's task group
        # cancels the task hosting it, and that must not end the supervisor.
        failures = 0
        while True:
            session = asyncio.create_task(self._session(), name=f"mcp-session-{self.name}")
            try:
                await asyncio.wait({session})
            except asyncio.CancelledError:
                session.cancel()
                await asyncio.gather(session, return_exceptions=True)
                raise
            error = None if session.cancelled() else session.exception()
            if session.cancelled() or error is not None:
                failures += 1
                if failures == 1:
                    logger.warning("mcp connect failed", extra={"server": self.name, "error": type(error).__name__})
            else:
                failures = 0
            delay = min(self.max_backoff_s, 0.1 * 2 ** min(failures, 10)) * random.uniform(0.5, 1.0)  # nosec B311  # reconnect jitter, not a secret
            self._next_attempt_at = time.monotonic() + delay
            await asyncio.sleep(delay)


async def _close_quietly(client: Client) -> None:
    try:
        await client.__aexit__(None, None, None)
    except Exception:  # noqa: BLE001 - closing a broken transport may fail in many ways; the session is gone anyway
        logger.debug("mcp client close failed")


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
        server = self.servers[name]
        client = server.client
        if client is None:
            return False
        try:
            async with asyncio.timeout(1.5):
                await client.list_tools()
        except Exception:  # noqa: BLE001 - a failed ping of any kind means the session is gone
            server.mark_broken()
            return False
        return True

    async def call(
        self, server_name: str, tool: str, arguments: dict[str, Any], *, timeout_s: float | None = None
    ) -> dict[str, Any] | Failure:
        """Call a tool: structured content on success, the server's failure, or ``upstream_unavailable``."""
        server = self.servers[server_name]
        attempts = self.retry_attempts if tool in IDEMPOTENT_TOOLS else 1
        timeout = timeout_s or self.call_timeout_s
        outcome: dict[str, Any] | Failure = _unavailable(server_name, f"{server_name} is unavailable", 1)
        for attempt in range(attempts):
            client = server.client
            if client is None:
                if attempt > 0 and await server.wait_connected(min(timeout, 1.0)):
                    client = server.client
                if client is None:
                    outcome = _unavailable(server_name, f"{server_name} is unavailable", server.retry_after_s())
                    MCP_CLIENT_CALLS.labels(server_name, tool, "unavailable").inc()
                    return outcome
            start = time.perf_counter()
            try:
                result = await call_tool(client, tool, arguments, timeout_s=timeout, server=server.url)
            except TimeoutError:
                MCP_CLIENT_CALLS.labels(server_name, tool, "timeout").inc()
                outcome = failure(
                    "upstream_unavailable",
                    f"{server_name}.{tool} timed out",
                    retryable=True,
                    server=server_name,
                    retry_after=1,
                )
                server.mark_broken()
                continue
            except Exception as exc:  # noqa: BLE001 - transport failures of every kind end the session
                MCP_CLIENT_CALLS.labels(server_name, tool, "error").inc()
                logger.warning(
                    "mcp call failed", extra={"server": server_name, "tool": tool, "error": type(exc).__name__}
                )
                server.mark_broken()
                outcome = _unavailable(server_name, f"{server_name} is unavailable", server.retry_after_s())
                continue
            finally:
                MCP_CLIENT_DURATION.labels(server_name, tool).observe(time.perf_counter() - start)
            return interpret(server_name, tool, result)
        return outcome
