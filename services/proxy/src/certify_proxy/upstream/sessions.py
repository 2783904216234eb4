"""The supervised MCP sessions behind the pool: a few per server, each reconnected on its own.

Each session is owned by its own supervisor task (the ``mcp.Client`` context is entered and left in
that task), so callers from any request share it. When its transport dies only that session is
dropped; its supervisor reconnects with capped exponential backoff. At connect a session lists the
server's tools and records which ones the server declares idempotent (``idempotentHint``).
"""

from __future__ import annotations

import asyncio
import logging
import random
import time

from mcp import Client
from mcp.server import MCPServer

from certify_common.mcp_tracing import traced_transport
from certify_proxy.metrics import MCP_SERVER_UP

logger = logging.getLogger("certify.proxy.mcp")


class Session:
    """One supervised session to an MCP server."""

    def __init__(self, server: ServerConnection, index: int) -> None:
        self.server = server
        self.index = index
        self.in_flight = 0
        self._client: Client | None = None
        self._broken = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.next_attempt_at = 0.0

    @property
    def client(self) -> Client | None:
        """The live client, or None while disconnected."""
        return self._client

    def start(self) -> None:
        """Start the supervisor task (in the caller's event loop)."""
        self._task = asyncio.create_task(self._supervise(), name=f"mcp-{self.server.name}-{self.index}")

    async def stop(self) -> None:
        """Stop the supervisor and close the session."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        self._client = None

    def mark_broken(self) -> None:
        """Drop this session; its supervisor reconnects."""
        if self._client is not None:
            logger.warning("mcp session lost", extra={"server": self.server.name, "session": self.index})
        self._client = None
        self._broken.set()
        self.server.changed()

    async def _session(self) -> None:
        server = self.server
        # A URL in production; an in-process MCPServer in unit tests (same code path above the transport).
        transport = traced_transport(server.url) if isinstance(server.url, str) else server.url
        client = Client(transport, read_timeout_seconds=server.connect_timeout_s, cache=None)
        async with asyncio.timeout(server.connect_timeout_s):
            await client.__aenter__()
        try:
            async with asyncio.timeout(server.connect_timeout_s):
                listed = await client.list_tools()
            names = frozenset(tool.name for tool in listed.tools)
            missing = server.expected - names
            if missing:
                logger.error("mcp server lacks tools", extra={"server": server.name, "missing": sorted(missing)})
                raise ConnectionError(f"{server.name} lacks tools {sorted(missing)}")
            server.tools = names
            server.idempotent = frozenset(
                tool.name for tool in listed.tools if tool.annotations is not None and tool.annotations.idempotent_hint
            )
            self._broken.clear()
            self._client = client
            server.changed()
            if self.index == 0:
                logger.info("mcp server connected", extra={"server": server.name, "tools": len(names)})
            await self._broken.wait()
        finally:
            self._client = None
            server.changed()
            await asyncio.shield(_close_quietly(client))

    async def _supervise(self) -> None:
        # The session lives in its own task: when the transport dies, the client's task group
        # cancels the task hosting it, and that must not end the supervisor.
        failures = 0
        while True:
            session = asyncio.create_task(self._session(), name=f"mcp-session-{self.server.name}-{self.index}")
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
                    logger.warning(
                        "mcp connect failed",
                        extra={"server": self.server.name, "session": self.index, "error": type(error).__name__},
                    )
            else:
                failures = 0
            delay = min(self.server.max_backoff_s, 0.1 * 2 ** min(failures, 10)) * random.uniform(0.5, 1.0)  # nosec B311
            self.next_attempt_at = time.monotonic() + delay
            await asyncio.sleep(delay)


class ServerConnection:
    """The supervised sessions to one MCP server and the bound on concurrent calls to it."""

    def __init__(
        self,
        name: str,
        url: str | MCPServer,
        *,
        connect_timeout_s: float,
        max_backoff_s: float,
        expected: frozenset[str],
        sessions: int = 1,
        max_concurrency: int = 16,
    ) -> None:
        self.name = name
        self.url = url
        self.expected = expected
        self.connect_timeout_s = connect_timeout_s
        self.max_backoff_s = max_backoff_s
        self.tools: frozenset[str] = frozenset()
        #: Tools the server declares idempotent (``idempotentHint``); only these are retried.
        self.idempotent: frozenset[str] = frozenset()
        self.slots = asyncio.Semaphore(max_concurrency)
        self.sessions = [Session(self, index) for index in range(max(1, sessions))]
        self._connected = asyncio.Event()

    @property
    def connected(self) -> bool:
        """True while at least one checked session is held."""
        return any(session.client is not None for session in self.sessions)

    def changed(self) -> None:
        """A session connected or dropped: update the up gauge and the connected event."""
        if self.connected:
            self._connected.set()
            MCP_SERVER_UP.labels(self.name).set(1)
        else:
            self._connected.clear()
            MCP_SERVER_UP.labels(self.name).set(0)

    def start(self) -> None:
        """Start every session's supervisor (in the caller's event loop)."""
        for session in self.sessions:
            session.start()

    async def stop(self) -> None:
        """Stop every supervisor and close the sessions."""
        await asyncio.gather(*(session.stop() for session in self.sessions))
        self.changed()

    async def wait_connected(self, timeout_s: float) -> bool:
        """Wait until a session is held or the timeout passes."""
        try:
            await asyncio.wait_for(self._connected.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    def pick(self) -> Session | None:
        """The connected session with the fewest calls in flight, or None while none is connected."""
        live = [session for session in self.sessions if session.client is not None]
        return min(live, key=lambda session: session.in_flight) if live else None

    def retry_after_s(self) -> float:
        """Seconds until the next connection attempt of any session."""
        soonest = min(session.next_attempt_at for session in self.sessions)
        return max(soonest - time.monotonic(), 1.0)


async def _close_quietly(client: Client) -> None:
    try:
        await client.__aexit__(None, None, None)
    except Exception:  # noqa: BLE001 - closing a broken transport may fail in many ways; the session is gone anyway
        logger.debug("mcp client close failed")
