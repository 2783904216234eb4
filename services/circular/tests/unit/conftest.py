"""In-process fixtures: the sandbox NAG app behind an httpx ASGI transport, the server's parts, an MCP client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from mcp import Client
from mcp.server import MCPServer
from mcp.types import CallToolResult

from certify_circular.keys import Wallet
from certify_circular.service import CircularService
from certify_circular.settings import CircularSettings
from certify_circular.tools import build_server
from certify_circular.transaction import build_wallet_registration, format_timestamp
from certify_common.kv import MemoryKeyValue
from certify_common.mcp_runtime import Runtime
from certify_sandbox.app import create_app as create_sandbox

SERVICE_KEY = "7f" * 32
NAG_BASE = "http://sandbox.test/nag/NAG.php?cep="


@dataclass
class Stand:
    """A started service wired to an in-process sandbox."""

    service: CircularService
    sandbox: httpx.AsyncClient
    mcp: MCPServer

    async def call(self, tool: str, arguments: dict[str, Any] | None = None) -> CallToolResult:
        """One tool call through an in-memory MCP client (a client per call: anyio scopes stay in one task)."""
        async with Client(self.mcp) as client:
            return await client.call_tool(tool, arguments or {})

    async def calls(self) -> dict[str, int]:
        return dict((await self.sandbox.get("/_control/calls")).json())

    async def plan(self, **values: object) -> None:
        current = (await self.sandbox.get("/_control/nag/plan")).json()
        response = await self.sandbox.put("/_control/nag/plan", json={**current, **values})
        response.raise_for_status()


async def register_and_fund(sandbox: httpx.AsyncClient, wallet: Wallet, amount: str = "1000") -> None:
    registration = build_wallet_registration(
        wallet, "8a20baa40c45dc5055aeb26197c203e576ef389d9acb171bd62da11dc5ad72b2", format_timestamp(datetime.now(UTC))
    )
    answer = (await sandbox.post("/nag/NAG.php?cep=Circular_AddTransaction_", json=registration.to_body())).json()
    assert answer["Result"] == 200, answer
    (await sandbox.post("/_control/nag/fund", json={"address": wallet.address, "amount": amount})).raise_for_status()


def settings_for(**overrides: object) -> CircularSettings:
    values: dict[str, object] = {
        "circular_nag_url": NAG_BASE,
        "circular_cep_testnet_private_key": SERVICE_KEY,
        "circular_poll_interval_s": 0.05,
        "certify_env": "test",
    }
    values.update(overrides)
    return CircularSettings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def stand() -> AsyncIterator[Stand]:
    sandbox_app = create_sandbox()
    transport = httpx.ASGITransport(app=sandbox_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sandbox.test") as http:
        await register_and_fund(http, Wallet.from_hex(SERVICE_KEY))
        await http.put("/_control/nag/plan", json={"pending_s": 0.05, "verified_s": 0.05})
        await http.post("/_control/reset", params={"target": "nag"})  # count only the test's own calls
        service = CircularService(settings_for(), http=http, kv=MemoryKeyValue("unit"))
        await service.start()
        yield Stand(service, http, build_server(service.settings, Runtime("circular", service)))
        await service.close()
