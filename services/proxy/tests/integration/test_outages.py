"""Outages of the proxy's own stores answer 503 with Retry-After and a stable code, never 500.

In process, on a real PostgreSQL database: Redis unreachable, PostgreSQL gone after start-up (behind a
TCP relay the test closes), and a pool whose only connection is held.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from certify_proxy.app import create_app
from certify_proxy.settings import ProxySettings
from certify_proxy.store.db import create_engine, retry_dropped
from certify_proxy.store.direct import DirectPool, PoolBusyError
from certify_proxy.store.migrate import upgrade
from certify_proxy.store.outages import outage_of
from certify_testkit.processes import free_port

pytestmark = pytest.mark.integration

KEY = "ck_test_outages_0123456789abcdef"


class TcpRelay:
    """Forwards a local port to PostgreSQL until closed (then the port refuses and open links are cut)."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.server: asyncio.Server | None = None
        self.writers: list[asyncio.StreamWriter] = []

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._link, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while chunk := await reader.read(65536):
                writer.write(chunk)
                await writer.drain()
        writer.close()

    async def _link(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        self.writers += [writer, upstream_writer]
        await asyncio.gather(self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer))

    async def close(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.transport.abort()
        await self.server.wait_closed()


def _settings(database_url: str, **overrides: Any) -> ProxySettings:
    dead = {f"mcp_{name}_url": f"http://127.0.0.1:{free_port()}/mcp" for name in ("x402", "circular", "quote", "qr")}
    values: dict[str, Any] = {
        "database_url": database_url,
        "dev_api_key": KEY,
        "certify_env": "test",
        "redis_url": None,
        "job_workers": 0,
        "balance_check_interval_s": 0,
        "settlement_monitor_interval_s": 0,
        **dead,
        **overrides,
    }
    return ProxySettings(**values)


@contextlib.asynccontextmanager
async def _client(settings: ProxySettings) -> AsyncIterator[tuple[httpx.AsyncClient, Any]]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8080") as http:
            yield http, app


@pytest.fixture(scope="module")
def migrated(pg_url: str) -> str:
    upgrade(pg_url)
    return pg_url


def _assert_outage(answer: httpx.Response, code: str) -> None:
    assert answer.status_code == 503, answer.text
    assert (answer.json()["code"], answer.json()["retryable"]) == (code, True)
    assert int(answer.headers["Retry-After"]) >= 1


async def test_redis_unreachable_is_a_503_cache_unavailable_with_retry_after(migrated: str) -> None:
    settings = _settings(migrated, redis_url=f"redis://127.0.0.1:{free_port()}/0", redis_prefix="outage-test")
    async with _client(settings) as (http, _app):
        answer = await http.get("/v1/status/nothing-here", headers={"X-API-Key": KEY})
    _assert_outage(answer, "cache_unavailable")


async def test_postgresql_gone_after_start_up_is_a_503_database_unavailable_with_retry_after(migrated: str) -> None:
    url = make_url(migrated)
    relay = TcpRelay(url.host or "127.0.0.1", url.port or 5432)
    relayed = url.set(host="127.0.0.1", port=await relay.start()).render_as_string(hide_password=False)
    async with _client(_settings(relayed)) as (http, _app):
        assert (await http.get("/v1/status/nothing-here", headers={"X-API-Key": KEY})).status_code == 404
        await relay.close()
        answer = await http.get("/v1/status/nothing-here", headers={"X-API-Key": KEY})
    _assert_outage(answer, "database_unavailable")


async def test_an_exhausted_connection_pool_is_a_503_database_busy_with_retry_after(migrated: str) -> None:
    settings = _settings(migrated, database_pool_size=1, database_max_overflow=0, database_pool_timeout_s=0.2)
    async with _client(settings) as (http, app):
        async with app.state.runtime.engine.connect():  # the pool's only connection, held
            answer = await http.get("/v1/status/nothing-here", headers={"X-API-Key": KEY})
        assert (await http.get("/v1/status/nothing-here", headers={"X-API-Key": KEY})).status_code == 404
    _assert_outage(answer, "database_busy")


async def _terminate(database_url: str, pid: int) -> None:
    """The server closes one backend, as a restart or an idle timeout would (from an admin connection)."""
    admin = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"), timeout=10)
    try:
        await admin.execute("SELECT pg_terminate_backend($1, 5000)", pid)  # returns once it is gone
    finally:
        await admin.close()


async def test_a_connection_the_server_dropped_is_replaced_on_the_retry_without_an_error(migrated: str) -> None:
    """No pre-ping: the dead pooled connection fails once, is invalidated, and the retry connects afresh."""
    engine = create_engine(_settings(migrated, database_pool_size=1, database_max_overflow=0))
    attempts = 0

    async def backend_pid() -> int:
        nonlocal attempts
        attempts += 1
        async with engine.connect() as connection:
            return int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())

    try:
        first = await backend_pid()
        await _terminate(migrated, first)
        with pytest.raises(DBAPIError) as dropped:
            await backend_pid()  # what a caller without the retry sees
        assert dropped.value.connection_invalidated
        second = await backend_pid()
        assert second != first
        await _terminate(migrated, second)
        attempts = 0
        third = await retry_dropped(backend_pid)
        assert (third != second, attempts) == (True, 2)
    finally:
        await engine.dispose()


# The 402's direct connections (store/direct.py) answer outages as the SQLAlchemy pool does.
async def test_a_direct_connection_the_server_dropped_is_replaced_on_the_retry_without_an_error(migrated: str) -> None:
    direct = DirectPool(_settings(migrated, database_pool_size=4))
    try:
        first = await direct.fetchval("SELECT", "SELECT pg_backend_pid()")
        await _terminate(migrated, first)
        second = await direct.fetchval("SELECT", "SELECT pg_backend_pid()")
        assert isinstance(second, int)
        assert second != first
    finally:
        await direct.close()


async def test_exhausted_direct_connections_are_a_database_busy_outage(migrated: str) -> None:
    direct = DirectPool(_settings(migrated, database_pool_size=4, database_pool_timeout_s=0.2))
    assert direct.size == 2
    try:
        pool = await direct._made()
        held = [await pool.acquire() for _ in range(direct.size)]  # every direct connection in use
        with pytest.raises(PoolBusyError) as busy:
            await direct.fetchval("SELECT", "SELECT 1")
        for connection in held:
            await pool.release(connection)
        assert await direct.fetchval("SELECT", "SELECT 1") == 1
    finally:
        await direct.close()
    outage = outage_of(busy.value)
    assert outage is not None
    assert outage.code == "database_busy"


async def test_postgresql_gone_is_a_database_unavailable_outage_of_the_direct_connections(migrated: str) -> None:
    url = make_url(migrated)
    relay = TcpRelay(url.host or "127.0.0.1", url.port or 5432)
    relayed = url.set(host="127.0.0.1", port=await relay.start()).render_as_string(hide_password=False)
    direct = DirectPool(_settings(relayed, database_pool_size=4))
    try:
        assert await direct.fetchval("SELECT", "SELECT 1") == 1
        await relay.close()
        with pytest.raises((OSError, asyncpg.exceptions.PostgresError, asyncpg.exceptions.InterfaceError)) as gone:
            await direct.fetchval("SELECT", "SELECT 1")
    finally:
        await direct.close()
    outage = outage_of(gone.value)
    assert outage is not None, repr(gone.value)
    assert outage.code == "database_unavailable"
