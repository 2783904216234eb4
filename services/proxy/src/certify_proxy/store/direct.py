"""asyncpg connections of their own for the hot path's single statement: a new request's 402.

A 402 stores its request with one autocommit statement (``store/offered.py``). Through SQLAlchemy that statement
costs about 0.44 ms of CPU (pool checkout on a greenlet, execution context, reset on return); sent on an asyncpg
connection of a small pool of its own it costs 0.11 ms (``make bench`` measures the 402 end to end). The
connections are carved out of ``DATABASE_POOL_SIZE`` (:func:`split`), so a process opens no more connections
than before. The pool is made on first use (no connection before a 402 needs one) and releases a connection
without asyncpg's reset query: the statement leaves no session state behind (no transaction, setting, listener
or lock).

Failures read as the SQLAlchemy path's do: a connection the server dropped is retried once, a pool that stays
exhausted for ``DATABASE_POOL_TIMEOUT_S`` raises :class:`PoolBusyError` (503 ``database_busy``), and asyncpg's
connection errors are outages (``store/outages.py``).
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from opentelemetry import trace
from sqlalchemy.engine import make_url

from certify_proxy.settings import ProxySettings

#: Connections for the direct statements when the pool is large enough to spare them.
DIRECT_CONNECTIONS = 2
#: The smallest DATABASE_POOL_SIZE that spares them (smaller pools keep every statement on SQLAlchemy).
SPARE_FROM = 4
#: Errors of a connection the server closed (restart, failover, idle timeout): retried once on a fresh one.
_DROPPED = (asyncpg.exceptions.ConnectionDoesNotExistError, asyncpg.exceptions.InterfaceError, ConnectionError)

_tracer = trace.get_tracer("certify.proxy.store")


class PoolBusyError(Exception):
    """Every direct connection stayed in use for ``DATABASE_POOL_TIMEOUT_S`` (503 ``database_busy``)."""


def split(settings: ProxySettings) -> tuple[int, int]:
    """(SQLAlchemy's pool size, direct connections) out of ``DATABASE_POOL_SIZE`` on PostgreSQL."""
    size = settings.database_pool_size
    if settings.is_sqlite or size < SPARE_FROM:
        return size, 0
    return size - DIRECT_CONNECTIONS, DIRECT_CONNECTIONS


def numbered(statement: str) -> tuple[str, tuple[str, ...]]:
    """A statement with ``:name`` parameters as asyncpg's ``$n``, and the names in their order."""
    names: list[str] = []

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    return re.sub(r"(?<![:\w]):([a-z_][a-z0-9_]*)", number, statement), tuple(names)


async def _keep(_connection: asyncpg.Connection) -> None:
    """No reset query on release: the direct statements leave no session state (asyncpg still rolls back an
    open transaction first, which they never leave)."""


class DirectPool:
    """The direct connections of one process (none on SQLite or a small pool: ``enabled`` is False)."""

    def __init__(self, settings: ProxySettings) -> None:
        self.size = split(settings)[1]
        self.timeout_s = settings.database_pool_timeout_s
        self.traced = False
        self._dsn = make_url(settings.database_url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._args: dict[str, Any] = {"timeout": 10, "command_timeout": 30}
        if settings.database_pgbouncer:
            self._args["statement_cache_size"] = 0  # unnamed statements: any server connection can run them
        self._pool: asyncpg.Pool | None = None
        self._making = asyncio.Lock()

    @property
    def enabled(self) -> bool:
        return self.size > 0

    async def _made(self) -> asyncpg.Pool:
        if self._pool is None:
            async with self._making:
                if self._pool is None:
                    self._pool = await asyncpg.create_pool(
                        self._dsn, min_size=0, max_size=self.size, reset=_keep, **self._args
                    )
        return self._pool

    async def fetchval(self, operation: str, statement: str, *args: Any) -> Any:
        """The first column of the first row (None without rows), retried once on a dropped connection.

        ``operation`` names the span when traces are on (``INSERT certification_requests``)."""
        try:
            return await self._fetchval(operation, statement, args)
        except _DROPPED:
            return await self._fetchval(operation, statement, args)

    async def _fetchval(self, operation: str, statement: str, args: tuple[Any, ...]) -> Any:
        pool = await self._made()
        try:
            connection = await pool.acquire(timeout=self.timeout_s)
        except TimeoutError as exc:
            raise PoolBusyError("every direct database connection is in use") from exc
        try:
            if not self.traced:
                return await connection.fetchval(statement, *args)
            attributes = {"db.system": "postgresql", "db.statement": statement}
            with _tracer.start_as_current_span(operation, kind=trace.SpanKind.CLIENT, attributes=attributes):
                return await connection.fetchval(statement, *args)
        finally:
            await pool.release(connection)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
