"""The stack as processes (sandbox, x402, quote, qr, proxy) on PostgreSQL and Redis, and a payer.

The test session gets its own PostgreSQL database (others share the server); processes share the
Redis server under a prefix unique to the session.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import secrets
import subprocess
import sys
import time
import types
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import asyncpg
import httpx
import pytest
from eth_account import Account

from certify_common.evm import NETWORKS
from certify_testkit.processes import ServiceProcess, free_port
from certify_testkit.servers import mcp_servers, x402_env

DEV_KEY = "ck_test_" + secrets.token_urlsafe(24)
#: A deadline, not a wait: on a machine shared by many test runs, importing a service can take minutes.
START_TIMEOUT_S = 240
PAYER_KEY = "0x" + "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"


def _asyncpg_dsn(url: str, database: str | None = None) -> str:
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    if database is not None:
        dsn = dsn.rsplit("/", 1)[0] + "/" + database
    return dsn


@pytest.fixture(scope="session")
def stack(redis_env: dict[str, str]) -> Iterator[dict[str, ServiceProcess]]:
    """sandbox (facilitator, CoinGecko, NAG), x402, quote, qr and circular as processes."""
    with mcp_servers(redis_env, timeout_s=START_TIMEOUT_S) as servers:
        yield servers


def proxy_env(
    stack: dict[str, ServiceProcess], database_url: str, redis_env: dict[str, str], port: int
) -> dict[str, str]:
    """Environment of a proxy process wired to the stack."""
    return {
        **redis_env,
        "DATABASE_URL": database_url,
        "DEV_API_KEY": DEV_KEY,
        "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "MCP_X402_URL": stack["x402"].mcp_url,
        "MCP_QUOTE_URL": stack["quote"].mcp_url,
        "MCP_QR_URL": stack["qr"].mcp_url,
        "MCP_CIRCULAR_URL": stack["circular"].mcp_url,
        "EVM_RPC_URLS": ",".join(
            f"{name}={stack['sandbox'].url}/rpc/{name}" for name in ("base-sepolia", "arbitrum-sepolia")
        ),
        "MCP_RECONNECT_MAX_BACKOFF_S": "1",
        "RATE_LIMIT_WRITES_PER_MIN": "10000",
        "RATE_LIMIT_PAID_RETRIES_PER_MIN": "10000",
        # These tests pin the request/payment side (issue 5): no worker takes the queued jobs, no balance task.
        "JOB_WORKERS": "0",
        "BALANCE_CHECK_INTERVAL_S": "0",
        "CERTIFY_ENV": "test",
    }


def migrate(env: dict[str, str]) -> None:
    """``certify-admin db upgrade`` on the database of ``env``, as a deployment runs it before its proxies."""
    subprocess.run(
        [sys.executable, "-m", "certify_proxy.cli", "db", "upgrade"],
        env={**os.environ, **env},
        check=True,
        capture_output=True,
        timeout=120,
    )


def start_proxy(env: dict[str, str], port: int) -> ServiceProcess:
    """Migrate, then a proxy process, started once /readyz says schema, database, Redis and every MCP server answer."""
    migrate(env)
    return ServiceProcess("certify_proxy", env=env, port=port).start(ready_path="/readyz", timeout_s=START_TIMEOUT_S)


def start_worker_proxy(
    stack: dict[str, ServiceProcess], database_url: str, redis_env: dict[str, str], prefix: str
) -> ServiceProcess:
    """A proxy with one certification worker on ``database_url`` (a database of its own, so its worker takes only
    its own tests' jobs), its Redis keys under ``prefix``; the circular server's wallet registered and funded at
    the sandbox NAG first."""
    circular, sandbox = stack["circular"], stack["sandbox"]
    registered = subprocess.run(
        [sys.executable, "-m", "certify_circular.devwallet", "--fund", "1000", "--sandbox-url", sandbox.url],
        env={**os.environ, **{k: v for k, v in circular.env.items() if k.startswith("CIRCULAR_")}},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert registered.returncode == 0, registered.stderr
    port = free_port()
    env = proxy_env(stack, database_url, redis_env, port)
    env.update(
        {"JOB_WORKERS": "1", "CERTIFY_POLL_INTERVAL_S": "0.5", "REDIS_PREFIX": f"{prefix}-{uuid.uuid4().hex[:8]}"}
    )
    return start_proxy(env, port)


@pytest.fixture(scope="session")
def proxy(stack: dict[str, ServiceProcess], pg_url: str, redis_env: dict[str, str]) -> Iterator[ServiceProcess]:
    """One proxy process on the module's database."""
    port = free_port()
    process = start_proxy(proxy_env(stack, pg_url, redis_env, port), port)
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="session")
def proxy_b(stack: dict[str, ServiceProcess], pg_url: str, redis_env: dict[str, str]) -> Iterator[ServiceProcess]:
    """A second proxy process on the same database and Redis (shared locks and windows), writes 10/min, paid
    retries 120/min (the defaults)."""
    port = free_port()
    env = proxy_env(stack, pg_url, redis_env, port)
    env.pop("RATE_LIMIT_WRITES_PER_MIN")
    env.pop("RATE_LIMIT_PAID_RETRIES_PER_MIN")
    process = start_proxy(env, port)
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="session")
def worker_proxy(
    stack: dict[str, ServiceProcess], redis_env: dict[str, str], kit: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    """A proxy of its own with certification workers on (the session's proxy runs none), on a SQLite file so
    its workers never take jobs queued by other tests, sharing the session's MCP servers and sandbox."""
    database = tmp_path_factory.mktemp("proofs") / "proxy.db"
    process = start_worker_proxy(stack, f"sqlite+aiosqlite:///{database}", redis_env, "proofs")
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def api() -> Callable[..., dict[str, str]]:
    """Headers with the development key."""

    def headers(**extra: str) -> dict[str, str]:
        return {"X-API-Key": DEV_KEY, **extra}

    return headers


def fund(sandbox: ServiceProcess, network: str, address: str, amount_atomic: int = 10_000_000) -> None:
    """Give a payer USDC on the sandbox ledger."""
    answer = httpx.post(
        f"{sandbox.url}/faucet/usdc",
        json={"network": network, "address": address, "amount_atomic": amount_atomic},
        timeout=10,
    )
    answer.raise_for_status()


def sign_payment(
    offer: dict[str, Any],
    *,
    key: str = PAYER_KEY,
    version: int = 1,
    valid_before: int | None = None,
    value: str | None = None,
    nonce: str | None = None,
) -> str:
    """A hand-made EIP-3009 authorization (eth-account) for a 402 body's offer, as a payment header value."""
    payment = offer["payment"]
    requirements = payment["requirements_v1"] if version == 1 else payment["requirements"]
    network = NETWORKS[payment["network"]]
    account = Account.from_key(key)
    now = int(time.time())
    message = {
        "from": account.address,
        "to": payment["pay_to"],
        "value": int(value or payment["amount_atomic"]),
        "validAfter": now - 60,
        "validBefore": valid_before if valid_before is not None else now + 240,
        "nonce": bytes.fromhex((nonce or "0x" + secrets.token_hex(32))[2:]),
    }
    typed = offer["instructions"]["manual"]["typed_data"]
    signed = Account.sign_typed_data(
        key,
        domain_data={**typed["domain"], "chainId": network.chain_id},
        message_types={"TransferWithAuthorization": typed["types"]["TransferWithAuthorization"]},
        message_data=message,
    )
    authorization = {
        "from": account.address,
        "to": payment["pay_to"],
        "value": str(message["value"]),
        "validAfter": str(message["validAfter"]),
        "validBefore": str(message["validBefore"]),
        "nonce": "0x" + message["nonce"].hex(),
    }
    body: dict[str, Any] = {
        "payload": {"signature": "0x" + signed.signature.hex().removeprefix("0x"), "authorization": authorization}
    }
    if version == 1:
        body = {"x402Version": 1, "scheme": "exact", "network": requirements["network"], **body}
    else:
        body = {"x402Version": 2, "accepted": requirements, **body}
    return base64.b64encode(json.dumps(body).encode()).decode()


@pytest.fixture(scope="session")
def kit() -> types.SimpleNamespace:
    """Helpers for tests (conftest functions are not importable under --import-mode=importlib)."""
    return types.SimpleNamespace(
        sign=sign_payment,
        fund=fund,
        dev_key=DEV_KEY,
        payer=Account.from_key(PAYER_KEY).address,
        proxy_env=proxy_env,
        start_proxy=start_proxy,
        start_worker_proxy=start_worker_proxy,
        migrate=migrate,
        x402_env=x402_env,
    )


TABLES = (
    "certification_requests",
    "payments",
    "certifications",
    "state_transitions",
    "jobs",
    "dead_letters",
    "webhook_deliveries",
    "api_keys",
    "wallet_balances",
)


async def _counts(url: str) -> dict[str, int]:
    connection = await asyncpg.connect(_asyncpg_dsn(url), timeout=10)
    try:
        return {table: int(await connection.fetchval(f"SELECT count(*) FROM {table}")) for table in TABLES}  # noqa: S608
    finally:
        await connection.close()


async def _execute(url: str, statement: str, *args: Any) -> None:
    connection = await asyncpg.connect(_asyncpg_dsn(url), timeout=10)
    try:
        await connection.execute(statement, *args)
    finally:
        await connection.close()


async def _fetch(url: str, query: str, *args: Any) -> list[dict[str, Any]]:
    connection = await asyncpg.connect(_asyncpg_dsn(url), timeout=10)
    try:
        return [dict(row) for row in await connection.fetch(query, *args)]
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def db(pg_url: str) -> types.SimpleNamespace:
    """Read the session database directly: row counts per table and ad-hoc queries."""
    return types.SimpleNamespace(
        counts=lambda: asyncio.run(_counts(pg_url)),
        fetch=lambda query, *args: asyncio.run(_fetch(pg_url, query, *args)),
        execute=lambda statement, *args: asyncio.run(_execute(pg_url, statement, *args)),
        url=pg_url,
    )


@pytest.fixture(scope="session")
def funded_wallet(stack: dict[str, ServiceProcess], kit: types.SimpleNamespace) -> None:
    """The circular server's wallet registered on the sandbox NAG with CIRX, and the payer with USDC."""
    subprocess.run(
        [sys.executable, "-m", "certify_circular.devwallet", "--fund", "100000"],
        env=stack["circular"].env,
        check=True,
        capture_output=True,
        timeout=60,
    )
    kit.fund(stack["sandbox"], "base-sepolia", kit.payer, 1_000_000_000)
