"""The schema's migrations: run them under a lock (``certify-admin db upgrade``), or ask whether they ran.

Proxies never migrate the database themselves: a deployment runs ``certify-admin db upgrade`` once
(a Kubernetes hook Job; the local launcher and the tests before they start a proxy), and a proxy
is not ready until the database is at the head revision shipped with its code. On PostgreSQL the
upgrade holds a session-level advisory lock on the connection Alembic uses, so upgrades started
together run one after the other: the first migrates, the others find the schema at head and change
nothing. SQLite needs no lock (one file, one writer at a time, a local stack migrates once).
"""

from __future__ import annotations

import asyncio

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

SCRIPT_LOCATION = "certify_proxy.store:migrations"
#: The advisory-lock key every ``db upgrade`` takes (a fixed 64-bit number: "certify" in ASCII).
MIGRATION_LOCK_KEY = 0x63657274696679


def alembic_config(database_url: str) -> Config:
    """An Alembic config pointing at the packaged migrations and the given async URL."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    config.attributes["database_url"] = database_url
    return config


def head_revisions() -> frozenset[str]:
    """The head revision(s) of the migrations shipped with this code."""
    return frozenset(ScriptDirectory.from_config(alembic_config("")).get_heads())


def _current(connection: Connection) -> frozenset[str]:
    return frozenset(MigrationContext.configure(connection).get_current_heads())


async def current_revisions(engine: AsyncEngine) -> frozenset[str]:
    """The revision(s) the database is at (empty when it was never migrated)."""
    async with engine.connect() as connection:
        return await connection.run_sync(_current)


async def _upgrade_locked(connection: AsyncConnection, database_url: str, revision: str) -> tuple[str, ...]:
    def run(sync_connection: Connection) -> tuple[str, ...]:
        before = tuple(sorted(_current(sync_connection)))
        config = alembic_config(database_url)
        config.attributes["connection"] = sync_connection
        command.upgrade(config, revision)
        return before

    before = await connection.run_sync(run)
    await connection.commit()
    return before


async def upgrade_async(database_url: str, revision: str = "head") -> tuple[str, ...]:
    """Bring the database to ``revision`` (PostgreSQL: under the migration lock); the revisions it was at."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            if connection.dialect.name != "postgresql":
                return await _upgrade_locked(connection, database_url, revision)
            # Session-level: held across the migration's own transactions until unlocked (or disconnect).
            await connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
            await connection.commit()
            try:
                return await _upgrade_locked(connection, database_url, revision)
            finally:
                await connection.rollback()
                await connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
                await connection.commit()
    finally:
        await engine.dispose()


def upgrade(database_url: str, revision: str = "head") -> tuple[str, ...]:
    """:func:`upgrade_async` for synchronous callers (not from inside a running event loop)."""
    return asyncio.run(upgrade_async(database_url, revision))
