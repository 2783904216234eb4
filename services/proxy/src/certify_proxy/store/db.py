"""The async engine and sessions. One engine per process, created in the app's lifespan."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.orm import ORMExecuteState
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session
from sqlmodel.ext.asyncio.session import AsyncSession

from certify_proxy.settings import ProxySettings
from certify_proxy.store.direct import split


def create_engine(settings: ProxySettings) -> AsyncEngine:
    """An async engine for ``DATABASE_URL``; SQLite gets a busy timeout and WAL so processes can share the file."""
    if settings.is_sqlite:
        engine = create_async_engine(settings.database_url, connect_args={"timeout": 30})

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_connection: object, _record: object) -> None:
            cursor = dbapi_connection.cursor()  # type: ignore[attr-defined]
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_async_engine(
        settings.database_url,
        pool_size=split(settings)[0],  # the rest of DATABASE_POOL_SIZE are direct connections (store/direct.py)
        max_overflow=settings.database_max_overflow,
        # No ping before each checkout (a round trip per transaction): connections are recycled, a connection the
        # server dropped invalidates the pool on first use, and the hot path retries once (retry_dropped).
        pool_pre_ping=False,
        pool_timeout=settings.database_pool_timeout_s,
        pool_recycle=settings.database_pool_recycle_s,
        connect_args=connect_args(settings),
    )


T = TypeVar("T")


async def retry_dropped(operation: Callable[[], Awaitable[T]]) -> T:
    """Run ``operation``, and once more when it failed on a pooled connection the server had dropped.

    Without ``pool_pre_ping`` a connection closed by the server (restart, failover, idle timeout) is found
    dead on first use: SQLAlchemy invalidates it and every older pooled connection, so the second attempt
    connects afresh. When the database is really down the second attempt fails too, and the outage is
    answered as before (503 ``database_unavailable``). Only for operations that may run twice: reads, and
    writes that are idempotent (``ON CONFLICT DO NOTHING``).
    """
    try:
        return await operation()
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
    return await operation()


def connect_args(settings: ProxySettings) -> dict[str, Any]:
    """asyncpg's connection arguments: timeouts, and with ``DATABASE_PGBOUNCER`` no prepared-statement caches and
    a unique name per prepared statement (PgBouncer in transaction mode hands each transaction any server
    connection, where a cached or same-named statement may not exist; SQLAlchemy's asyncpg recipe)."""
    args: dict[str, Any] = {"timeout": 10, "command_timeout": 30}
    if settings.database_pgbouncer:
        args |= {
            "statement_cache_size": 0,
            "prepared_statement_cache_size": 0,
            "prepared_statement_name_func": _statement_name,
        }
    return args


def _statement_name() -> str:
    return f"__asyncpg_{uuid.uuid4()}__"


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions that keep loaded objects usable after commit."""
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


class ReadOnlySession(Session):
    """The sync side of a read session (``read_factory``): it refuses to write."""


class ReadSessionWriteError(RuntimeError):
    """A read session was asked to write: writes go through ``transaction``."""


@event.listens_for(ReadOnlySession, "before_flush")
def _refuse_flush(session: OrmSession, _context: object, _instances: object) -> None:
    raise ReadSessionWriteError("a read session was asked to flush changes: write in store.db.transaction")


@event.listens_for(ReadOnlySession, "do_orm_execute")
def _refuse_writes(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        raise ReadSessionWriteError("a read session was asked to write: write in store.db.transaction")


def read_factory(engine: AsyncEngine, *, autocommit: bool) -> async_sessionmaker[AsyncSession]:
    """Sessions that only read; they refuse every write. On PostgreSQL with ``autocommit`` (``Runtime.autocommit``)
    they send no ``BEGIN`` and no ``ROLLBACK``: two round trips fewer per read. At READ COMMITTED (the default,
    which the proxy keeps) each statement takes its own snapshot inside a transaction too, so reads see nothing
    different."""
    postgres = engine.dialect.name == "postgresql"
    bind = engine.execution_options(isolation_level="AUTOCOMMIT") if postgres and autocommit else engine
    return async_sessionmaker(bind, class_=AsyncSession, sync_session_class=ReadOnlySession, expire_on_commit=False)


@asynccontextmanager
async def transaction(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session inside one transaction: committed on success, rolled back on any exception."""
    async with factory() as session, session.begin():
        yield session


async def ping(engine: AsyncEngine) -> bool:
    """True when the database answers ``SELECT 1``."""
    async with engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
    return True


def instrument_engine(engine: AsyncEngine) -> None:
    """Database client spans for this engine (statements with placeholders, never parameters).

    OpenTelemetry's instrumentor is one per process: the first engine is traced (one per proxy process).
    """
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    instrumentor = SQLAlchemyInstrumentor()
    if not instrumentor.is_instrumented_by_opentelemetry:
        # Its declared range stops below SQLAlchemy 2.1, whose engine events it uses unchanged.
        instrumentor.instrument(engine=engine.sync_engine, skip_dep_check=True)
