"""In-process wiring for unit tests: the x402 MCP server talks HTTP to the sandbox app through an ASGI
transport (no sockets), with shared state in memory."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from mcp.server import MCPServer

from certify_common.kv import MemoryKeyValue
from certify_common.mcp_runtime import Runtime
from certify_sandbox.app import create_app as create_sandbox
from certify_sandbox.settings import SandboxSettings
from certify_sandbox.usdc_ledger import Ledgers, ledgers_for
from certify_x402.app import build_payments
from certify_x402.settings import X402Settings
from certify_x402.tools import X402Deps, build_server

SANDBOX = "http://sandbox.test"


class RecordingTransport(httpx.AsyncBaseTransport):
    """The sandbox over ASGI, recording every request body; can make the next calls time out before
    reaching the sandbox, or after it acted (the answer is lost)."""

    def __init__(self, app: Any) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.bodies: list[tuple[str, dict[str, Any]]] = []
        self.timeouts_left = 0
        self.lost_answers_left = 0
        #: Answers that replace the sandbox's to the next /settle calls, once it acted: a facilitator that
        #: answers a re-sent body otherwise (no pending store: it re-checks, or re-broadcasts a duplicate).
        self.settle_answers: list[dict[str, Any]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else {}
        self.bodies.append((request.url.path, body))
        if self.timeouts_left > 0:
            self.timeouts_left -= 1
            raise httpx.ReadTimeout("simulated facilitator timeout", request=request)
        response = await self.inner.handle_async_request(request)
        if self.lost_answers_left > 0:
            self.lost_answers_left -= 1
            raise httpx.ReadTimeout("the facilitator acted but its answer was lost", request=request)
        if self.settle_answers and request.url.path.endswith("/facilitator/settle"):
            return httpx.Response(200, json=self.settle_answers.pop(0))
        return response

    def posted(self, path: str) -> list[dict[str, Any]]:
        return [body for seen, body in self.bodies if seen == path]


class Stack:
    """The pieces a test drives: the MCP server, the sandbox ledgers and the transport."""

    def __init__(
        self,
        server: MCPServer,
        ledgers: Ledgers,
        transport: RecordingTransport,
        sandbox: httpx.AsyncClient,
        kv: MemoryKeyValue,
    ) -> None:
        self.kv = kv
        self.server = server
        self.ledgers = ledgers
        self.transport = transport
        self.sandbox = sandbox

    async def fund(self, network: str, address: str, amount_atomic: int) -> None:
        response = await self.sandbox.post(
            "/faucet/usdc", json={"network": network, "address": address, "amount_atomic": amount_atomic}
        )
        assert response.status_code == 200, response.text


def make_settings(**overrides: Any) -> X402Settings:
    values: dict[str, Any] = {
        "x402_facilitator_url": f"{SANDBOX}/facilitator",
        "x402_pay_to": "0x209693Bc6afc0C5328bA36FaF03C514EF312287C",
        "redis_url": None,
        **overrides,
    }
    return X402Settings(**values)


@pytest.fixture
async def stack(request: pytest.FixtureRequest) -> AsyncIterator[Stack]:
    marker = request.node.get_closest_marker("x402_settings")
    settings = make_settings(**(marker.kwargs if marker else {}))
    sandbox_app = create_sandbox(SandboxSettings())
    transport = RecordingTransport(sandbox_app)
    async with (
        httpx.AsyncClient(transport=transport, base_url=SANDBOX) as http,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=sandbox_app), base_url=SANDBOX) as direct,
    ):
        kv = MemoryKeyValue("unit")
        runtime = Runtime("x402", X402Deps(build_payments(settings, kv, http), kv))
        yield Stack(build_server(settings, runtime), ledgers_for(sandbox_app.state.faults), transport, direct, kv)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "x402_settings(**values): X402Settings overrides for the stack fixture")
