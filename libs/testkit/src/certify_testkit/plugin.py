"""pytest plugin: collects every log line of the test run and fails the run if a forbidden value appears.

Service processes write to ``.test-logs/<module>-<port>.log``; in-process code writes through
``CERTIFY_LOG_FILE``. Tests register what must never be logged (document bytes, keys, payment
headers) with :func:`forbid_in_logs`; at the end the whole captured log is scanned.

Fixtures every package's tests share (a conftest.py fixture of the same name overrides one of these): the
service URLs ``redis_url`` and ``database_url`` (skip outside CI when unset, fail in CI), ``redis_prefix`` (one
test's Redis keys), and for a whole session ``sandbox_process`` (one sandbox process), ``pg_url`` (a fresh
PostgreSQL database) and ``redis_env`` (REDIS_URL and a session prefix for service processes).
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from certify_testkit.processes import ServiceProcess, log_dir

_FORBIDDEN: dict[str, str] = {}


def forbid_in_logs(label: str, *values: str | bytes) -> None:
    """Register values (text, or bytes checked as text, hex and base64) that no log line may contain."""
    import base64

    for value in values:
        if isinstance(value, bytes):
            variants = [value.hex()]
            if len(value) >= 12:
                variants.append(base64.b64encode(value).decode()[:16])
            with contextlib.suppress(UnicodeDecodeError):
                variants.append(value.decode())
        else:
            variants = [value]
        for variant in variants:
            if len(variant) >= 12:
                _FORBIDDEN[variant] = label


def scan_logs(directory: Path | None = None) -> list[str]:
    """Findings ``file: label`` for every forbidden value found in the captured logs."""
    findings = []
    for path in sorted((directory or log_dir()).glob("*.log")):
        text = path.read_text(errors="replace")
        for value, label in _FORBIDDEN.items():
            if value in text:
                findings.append(f"{path.name}: {label}")
    return findings


def pytest_configure(config: pytest.Config) -> None:
    # One folder per test session, made anew; xdist workers write into their controller's. A session started
    # inside another (a test that runs pytest) gets a folder below its parent's: were it to take the parent's
    # folder as its own and clear it, the parent's services would log into deleted files.
    if not hasattr(config, "workerinput"):
        os.environ["CERTIFY_TEST_LOG_DIR"] = str(log_dir() / f"session-{os.getpid()}")
        shutil.rmtree(log_dir(), ignore_errors=True)
    directory = log_dir()
    os.environ["CERTIFY_LOG_FILE"] = str(directory / f"pytest-{os.getpid()}.log")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    findings = scan_logs()
    if findings:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line("FORBIDDEN VALUES IN CAPTURED LOGS: " + "; ".join(sorted(set(findings))), red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _service_url(name: str) -> str:
    url = os.environ.get(name)
    if url:
        return url
    if os.environ.get("CI"):
        pytest.fail(f"{name} is not set in CI: integration tests need the real service")
    pytest.skip(f"{name} not set (integration tests skip only outside CI)")


@pytest.fixture
def redis_url() -> str:
    """``REDIS_URL``; skips outside CI when unset, fails in CI."""
    return _service_url("REDIS_URL")


@pytest.fixture
def database_url() -> str:
    """``DATABASE_URL`` (postgresql+asyncpg://…); skips outside CI when unset, fails in CI."""
    return _service_url("DATABASE_URL")


@pytest.fixture
def redis_prefix() -> str:
    """A Redis key prefix unique to this test, so tests sharing one server never see each other's keys."""
    import uuid

    return f"test-{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def sandbox_process() -> Iterator[ServiceProcess]:
    """One sandbox process (the outside world's stand-ins) for the whole session; tests reset what they use."""
    with ServiceProcess("certify_sandbox") as process:
        yield process


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database on ``DATABASE_URL``'s server for this session, dropped afterwards."""
    import asyncio
    import uuid

    url = _service_url("DATABASE_URL")
    name = f"test_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin_sql(url, f'CREATE DATABASE "{name}"'))
    yield url.rsplit("/", 1)[0] + "/" + name
    asyncio.run(_admin_sql(url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def databases(pg_url: str) -> Iterator[Any]:
    """Make PostgreSQL databases of their own (dropped at the end of the session): ``make()`` gives ``url`` and
    ``fetch(statement, *args)``. A proxy with queue workers needs one: on the session's ``pg_url`` its workers
    would take the jobs other modules queue and assert on."""
    import asyncio
    import types
    import uuid

    server = pg_url.rsplit("/", 1)[0]
    names: list[str] = []

    def make(prefix: str = "db") -> types.SimpleNamespace:
        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        asyncio.run(_admin_sql(pg_url, f'CREATE DATABASE "{name}"'))
        names.append(name)
        url = f"{server}/{name}"
        return types.SimpleNamespace(url=url, fetch=lambda statement, *args: asyncio.run(_fetch(url, statement, *args)))

    yield make
    for name in names:
        asyncio.run(_admin_sql(pg_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _fetch(url: str, statement: str, *args: Any) -> list[dict[str, Any]]:
    import asyncpg  # type: ignore[import-untyped]

    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"), timeout=10)
    try:
        return [dict(row) for row in await connection.fetch(statement, *args)]
    finally:
        await connection.close()


async def _admin_sql(url: str, statement: str) -> None:
    import asyncpg  # type: ignore[import-untyped]

    connection = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"), timeout=10)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def redis_env() -> dict[str, str]:
    """``REDIS_URL`` and a key prefix unique to this session, as the environment of service processes."""
    import uuid

    return {"REDIS_URL": _service_url("REDIS_URL"), "REDIS_PREFIX": f"test-session-{uuid.uuid4().hex[:10]}"}
