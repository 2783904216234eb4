"""Schemathesis drives every operation of the proxy's /openapi.json in process, on PostgreSQL and Redis,
with the real MCP servers as processes: no input gets a server error, and every answer (status code,
content type, body) is one the document declares. Bounded and deterministic (derandomized examples)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from certify_proxy.api_keys import create_key
from certify_proxy.app import create_app
from certify_proxy.settings import ProxySettings
from certify_proxy.store.db import create_engine, session_factory, transaction
from certify_proxy.store.migrate import upgrade_async
from certify_testkit.processes import ServiceProcess

pytestmark = pytest.mark.integration

#: Examples per operation: enough to reach every validation branch, small enough for ~1 min in all.
EXAMPLES_PER_OPERATION = 25
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
ADMIN_KEY = "ck_fuzz_" + secrets.token_urlsafe(24)


@pytest.fixture(scope="session")
def fuzzed_app(
    stack: dict[str, ServiceProcess], pg_url: str, redis_env: dict[str, str], funded_wallet: None
) -> Iterator[Any]:
    """The proxy app wired to the stack (its circular wallet registered, so the admin balance check reads a
    balance); schemathesis runs its lifespan and shuts it down after the module."""
    asyncio.run(upgrade_async(pg_url))
    app = create_app(
        ProxySettings(
            database_url=pg_url,
            redis_url=redis_env["REDIS_URL"],
            redis_prefix=redis_env["REDIS_PREFIX"] + "-fuzz",
            mcp_x402_url=stack["x402"].mcp_url,
            mcp_quote_url=stack["quote"].mcp_url,
            mcp_qr_url=stack["qr"].mcp_url,
            mcp_circular_url=stack["circular"].mcp_url,
            public_base_url="http://127.0.0.1:8080",
            rate_limit_writes_per_min=100_000,
            rate_limit_reads_per_min=100_000,
            max_wait_s=0,
            job_workers=0,
            balance_check_interval_s=0,
            certify_env="test",
        )
    )
    yield app
    schemathesis.python.asgi.shutdown_lifespans()


@pytest.fixture(scope="session")
def proxy_schema(fuzzed_app: Any, pg_url: str) -> Any:
    """The app's own OpenAPI document, loaded in process (this also starts the app's lifespan)."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", fuzzed_app)

    async def admin_key() -> None:
        engine = create_engine(ProxySettings(database_url=pg_url, certify_env="test"))
        try:
            async with transaction(session_factory(engine)) as session:
                await create_key(session, "fuzz-admin", is_admin=True, key=ADMIN_KEY)
        finally:
            await engine.dispose()

    asyncio.run(admin_key())
    return schema


# A bound for loaded machines (about a minute alone); pytest's default 300 s also covers fixtures.
@pytest.mark.timeout(900)
def test_every_operation_answers_only_what_the_document_declares(proxy_schema: Any) -> None:
    # One hypothesis run per operation; every failing operation is reported, not just the first.
    failures: dict[str, str] = {}
    operations = [result.ok() for result in proxy_schema.get_all_operations()]
    assert len(operations) >= 15

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def exercise(case: schemathesis.Case) -> None:
            # An admin key reaches every route; generated keys (401) are covered by the hostile-input tests.
            case.call_and_validate(headers={"X-API-Key": ADMIN_KEY}, checks=CHECKS)

        try:
            exercise()
        except Exception as exc:  # reported below, per operation
            failures[operation.label] = str(exc)[:3000]
    assert failures == {}
