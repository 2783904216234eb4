"""The shipped migrations build the same schema as the models, on SQLite and on PostgreSQL; concurrent
``certify-admin db upgrade`` runs migrate once; a proxy waits (not ready) for the schema instead of migrating."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from certify_proxy.store.migrate import head_revisions, upgrade
from certify_proxy.store.models import metadata
from certify_testkit.processes import ServiceProcess, free_port, wait_until

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


@pytest.fixture
def empty_pg(pg_url: str) -> Iterator[str]:
    """A new, empty PostgreSQL database (dropped afterwards)."""
    server = pg_url.rsplit("/", 1)[0]
    name = f"migrate_{uuid.uuid4().hex[:12]}"
    asyncio.run(_sql(server + "/postgres", f'CREATE DATABASE "{name}"'))
    try:
        yield f"{server}/{name}"
    finally:
        asyncio.run(_sql(server + "/postgres", f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _sql(url: str, statement: str) -> list[Any]:
    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"), timeout=10)
    try:
        return list(await connection.fetch(statement))
    finally:
        await connection.close()


def _admin_upgrade(database_url: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "certify_proxy.cli", "db", "upgrade"],
        env={**os.environ, "DATABASE_URL": database_url},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_upgrades_started_together_on_an_empty_database_migrate_it_once(empty_pg: str) -> None:
    runs = [_admin_upgrade(empty_pg) for _ in range(2)]
    outputs = [run.communicate(timeout=180) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err[-2000:] for _out, err in outputs]
    answers = sorted((json.loads(out.strip().splitlines()[-1]) for out, _err in outputs), key=lambda a: a["from"])
    head = sorted(head_revisions())
    assert answers == [
        {"upgraded": True, "from": [], "revision": head},
        {"upgraded": False, "from": head, "revision": head},
    ]
    versions = asyncio.run(_sql(empty_pg, "SELECT version_num FROM alembic_version"))
    assert [row["version_num"] for row in versions] == head
    diff, tables = asyncio.run(_diff_and_tables(empty_pg))
    assert diff == []
    assert set(metadata.tables) | {"alembic_version"} == tables


def test_an_upgrade_of_a_database_already_at_head_changes_nothing_and_exits_0(empty_pg: str) -> None:
    for _ in range(2):
        run = _admin_upgrade(empty_pg)
        out, err = run.communicate(timeout=180)
        assert run.returncode == 0, err[-2000:]
    assert json.loads(out.strip().splitlines()[-1])["upgraded"] is False


def _readiness(url: str) -> tuple[int, dict[str, Any]]:
    try:
        response = httpx.get(url + "/readyz", timeout=3)
    except httpx.HTTPError:
        return 0, {}
    return response.status_code, response.json()


WAITING = "waiting for certify-admin db upgrade"


def test_a_proxy_on_an_empty_database_is_not_ready_until_the_upgrade_runs(
    empty_pg: str, stack: dict[str, ServiceProcess], redis_env: dict[str, str], kit: Any
) -> None:
    port = free_port()
    env = {**kit.proxy_env(stack, empty_pg, redis_env, port), "JOB_WORKERS": "2", "JOB_POLL_INTERVAL_S": "0.1"}
    proxy = ServiceProcess("certify_proxy", env=env, port=port).start(ready_path="/healthz", timeout_s=90)
    try:
        # Everything else answers; the schema alone keeps the proxy out of rotation.
        wait_until(
            lambda: _readiness(proxy.url)[1].get("checks", {}).get("mcp_qr") is True,
            60,
            what="the proxy's MCP sessions",
        )
        status, body = _readiness(proxy.url)
        assert status == 503
        assert body["checks"]["schema_at_head"] is False
        assert {name for name, ok in body["checks"].items() if not ok} == {"schema_at_head"}
        # It says why it waits (its schema watch looks every 2 s: the MCP sessions may be up before that).
        wait_until(lambda: WAITING in proxy.log_path.read_text(), 30, what="the proxy's log of its wait")
        kit.migrate(env)
        wait_until(lambda: _readiness(proxy.url)[0] == 200, 60, what="the proxy ready after the upgrade")
    finally:
        proxy.stop()
    log = proxy.log_path.read_text()
    assert "job claim failed" not in log  # the workers did not touch the queue before its tables existed
