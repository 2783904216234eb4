"""A proxy runtime for the paid-submission and settlement-job tests: a real (SQLite) store with its
migrations, shared state in memory, and an x402 server scripted tool by tool that records every call."""

from __future__ import annotations

import base64
import json
import types
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from certify_common.errors import Failure
from certify_common.kv import MemoryKeyValue
from certify_proxy.queue import jobs
from certify_proxy.settings import ProxySettings
from certify_proxy.store.db import create_engine, read_factory, session_factory, transaction
from certify_proxy.store.migrate import upgrade_async
from certify_proxy.store.models import CertificationRequest, Job, Payment, utcnow
from certify_proxy.upstream.circular import Circular
from certify_proxy.upstream.x402 import X402
from services.proxy.tests.unit.stored_offers import stored_offer_json

PAYER = "0x" + "ab" * 20
PAY_TO = "0x" + "11" * 20
TX = "0x" + "cd" * 32
AMOUNT = 30000
REQUIREMENTS_V1 = {"scheme": "exact", "network": "base-sepolia", "maxAmountRequired": str(AMOUNT), "payTo": PAY_TO}
REQUIREMENTS_V2 = {"scheme": "exact", "network": "eip155:84532", "amount": str(AMOUNT), "payTo": PAY_TO}
#: x402's answers, as its contract (certify_common.contracts.x402) has them.
SETTLED = {
    "success": True,
    "transaction": TX,
    "network": "base-sepolia",
    "payer": PAYER,
    "amount": str(AMOUNT),
    "replayed": False,
    "settle_response": {"success": True, "transaction": TX, "network": "base-sepolia"},
    "payment_response_header": "cmVjZWlwdA==",
}


def verdict(reason: str | None = None, message: str | None = None) -> dict[str, Any]:
    """verify_payment's answer: valid without a reason, else invalid for ``reason``."""
    return {
        "is_valid": reason is None,
        "payer": PAYER,
        "reason": reason,
        "message": message,
        "network": "base-sepolia",
        "x402_version": 1,
        "authorization": None,
    }


def header(nonce: str | None = None, *, network: str = "base-sepolia", version: int = 1) -> str:
    """A payment header that decodes (x402 itself is scripted, so the signature is never checked here)."""
    nonce = nonce or "0x" + uuid.uuid4().hex * 2
    auth = {"from": PAYER, "to": PAY_TO, "value": str(AMOUNT), "validAfter": "0", "validBefore": "9", "nonce": nonce}
    payload = {"signature": "0x" + "ef" * 65, "authorization": auth}
    if version == 1:
        body: dict[str, Any] = {"x402Version": 1, "scheme": "exact", "network": network, "payload": payload}
    else:
        accepted = {**REQUIREMENTS_V2, "asset": "0x" + "22" * 20, "maxTimeoutSeconds": 300, "extra": {}}
        body = {"x402Version": 2, "accepted": accepted, "payload": payload}
    return base64.b64encode(json.dumps(body).encode()).decode()


class ScriptedX402:
    """Answers each tool from a list (the last answer repeats) and records every call."""

    def __init__(self, **answers: list[dict[str, Any] | Failure]) -> None:
        self.answers = answers
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def call(self, server: str, tool: str, arguments: dict[str, Any], **_: Any) -> dict[str, Any] | Failure:
        assert server == "x402"
        self.calls.append((tool, arguments))
        queue = self.answers[tool]
        return queue.pop(0) if len(queue) > 1 else queue[0]

    def tools(self) -> list[str]:
        return [tool for tool, _ in self.calls]


@dataclass
class Stand:
    """The runtime a test drives and helpers to arrange and read the store."""

    runtime: Any

    def script(self, **answers: list[dict[str, Any] | Failure]) -> ScriptedX402:
        """Script the x402 server (the typed clients call through the new pool)."""
        pool = ScriptedX402(**answers)
        self.runtime.pool, self.runtime.x402 = pool, X402(pool)  # type: ignore[arg-type]
        return pool

    def script_circular(self, pool: Any) -> None:
        """Script the circular server with ``pool`` (an object with the pool's ``call``)."""
        self.runtime.pool, self.runtime.circular = pool, Circular(pool)

    async def request(
        self,
        status: str = "payment_pending",
        *,
        valid_for_s: float = 300,
        v1: bool = True,
        callback_url: str | None = None,
    ) -> CertificationRequest:
        """A request of key 1 awaiting payment on base-sepolia, with its stored offer."""
        key = uuid.uuid4().hex
        now = utcnow()
        offer_json = stored_offer_json(
            "base-sepolia",
            REQUIREMENTS_V2,
            REQUIREMENTS_V1 if v1 else None,
            request_id=f"r-{key[:8]}",
            valid_until=now + timedelta(seconds=valid_for_s),
        )
        row = CertificationRequest(
            request_key=key,
            owner="key:1",
            request_id=f"r-{key[:8]}",
            status=status,
            fingerprint="f",
            data_hash="0x" + "ab" * 32,
            data_size_bytes=1,
            network="base-sepolia",
            client_type="agent",
            callback_url=callback_url,
            public_token=f"token-{key}",
            amount_atomic=AMOUNT,
            quote_valid_until=now + timedelta(seconds=valid_for_s),
            offer_json=offer_json,
            created_at=now,
            updated_at=now,
        )
        async with transaction(self.runtime.sessions) as session:
            session.add(row)
        return row

    async def get(self, request_key: str) -> CertificationRequest:
        async with self.runtime.sessions() as session:
            row = await session.get(CertificationRequest, request_key)
        assert row is not None
        return row

    async def payments(self, request_key: str) -> list[Payment]:
        async with self.runtime.sessions() as session:
            statement = sa.select(Payment).where(Payment.request_key == request_key)  # type: ignore[arg-type]
            return list((await session.execute(statement)).scalars())

    async def kinds_queued(self, request_key: str) -> list[str]:
        """The kinds of every job naming the request in its dedupe key, oldest first."""
        async with self.runtime.sessions() as session:
            statement = sa.select(Job.kind).where(Job.dedupe_key.contains(request_key)).order_by(Job.id)  # type: ignore[attr-defined]
            return list((await session.execute(statement)).scalars())

    async def job(self, kind: str, request_key: str) -> Job | None:
        async with self.runtime.sessions() as session:
            return await jobs.job_for_request(session, kind, request_key)


@pytest.fixture
async def stand(tmp_path: Path) -> AsyncIterator[Stand]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'proxy.db'}"
    await upgrade_async(url)
    settings = ProxySettings(database_url=url, payment_lock_s=0.2, mcp_call_timeout_s=1.0)
    engine = create_engine(settings)
    async with httpx.AsyncClient() as http:
        runtime = types.SimpleNamespace(
            settings=settings,
            engine=engine,
            sessions=session_factory(engine),
            reads=read_factory(engine, autocommit=True),
            kv=MemoryKeyValue(f"pay-{uuid.uuid4().hex[:6]}"),
            http=http,
        )
        made = Stand(runtime)
        made.script()
        yield made
    await engine.dispose()
