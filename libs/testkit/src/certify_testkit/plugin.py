"""pytest plugin: collects every log line of the test run and fails the run if a forbidden value appears.

Service processes write to ``.test-logs/<module>-<port>.log``; in-process code writes through
``CERTIFY_LOG_FILE``. Tests register what must never be logged (document bytes, keys, payment
headers) with :func:`forbid_in_logs`; at the end the whole captured log is scanned.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from pathlib import Path

import pytest

from certify_testkit.processes import log_dir

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
    # One folder per test session: concurrent runs in one checkout must not wipe each other's logs.
    if "CERTIFY_TEST_LOG_DIR" not in os.environ:
        os.environ["CERTIFY_TEST_LOG_DIR"] = str(log_dir() / f"session-{os.getpid()}")
    directory = log_dir()
    if not hasattr(config, "workerinput"):
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True, exist_ok=True)
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
