"""The shipped migrations build the same schema as the models, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from certify_proxy.store.migrate import upgrade
from certify_proxy.store.models import metadata

pytestmark = pytest.mark.integration


async def _diff_and_tables(url: str) -> tuple[list[Any], set[str]]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as connection:

            def compare(sync_connection: Any) -> tuple[list[Any], set[str]]:
                context = MigrationContext.configure(sync_connection, opts={"compare_type": True})
                return compare_metadata(context, metadata), set(inspect(sync_connection).get_table_names())

            return await connection.run_sync(compare)
    finally:
        await engine.dispose()


def _check(url: str) -> None:
    upgrade(url)
    upgrade(url)  # idempotent: a second start changes nothing
    diff, tables = asyncio.run(_diff_and_tables(url))
    assert diff == []
    assert set(metadata.tables) | {"alembic_version"} == tables


def test_sqlite_upgrade_matches_the_models(tmp_path: Path) -> None:
    _check(f"sqlite+aiosqlite:///{tmp_path / 'proxy.db'}")


def test_postgresql_upgrade_matches_the_models(pg_url: str) -> None:
    # The session database was migrated by the proxy process if one ran; upgrade is idempotent either way.
    _check(pg_url)
