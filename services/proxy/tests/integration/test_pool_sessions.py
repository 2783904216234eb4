"""The pool against a real MCP server over streamable HTTP (uvicorn on loopback) with a tool that hangs:
a timed-out call leaves the other calls unharmed, only idempotent tools are retried, and a server with
every call slot taken answers the retryable ``upstream_busy`` instead of queueing without bound."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated

import pytest
import uvicorn
from mcp.server import MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import BaseModel

from certify_common.errors import Failure
from certify_common.mcp_service import create_service, new_mcp_server, result_of
from certify_common.settings import ServiceSettings
from certify_proxy.upstream.pool import McpPool
from certify_testkit.processes import eventually, free_port

pytestmark = pytest.mark.integration

_IDEMPOTENT = ToolAnnotations(read_only_hint=True, idempotent_hint=True)


class Echo(BaseModel):
    text: str


@dataclass
class Hanging:
    """Server-side state: how often each tool was entered, and the gates that hold tools open."""

    calls: Counter[str] = field(default_factory=Counter)
    gate: asyncio.Event = field(default_factory=asyncio.Event)  # releases wait_for_gate
    forever: asyncio.Event = field(default_factory=asyncio.Event)  # set only at teardown


def _server(state: Hanging) -> MCPServer:
    server = new_mcp_server("hanging", "test server")

    @server.tool()
    async def hang() -> Annotated[CallToolResult, Echo]:
        """Never answers (until teardown); not idempotent."""
        state.calls["hang"] += 1
        await state.forever.wait()
        return result_of(Echo(text="late"))

    @server.tool(annotations=_IDEMPOTENT)
    async def hang_idempotent() -> Annotated[CallToolResult, Echo]:
        """Never answers (until teardown); declared idempotent."""
        state.calls["hang_idempotent"] += 1
        await state.forever.wait()
        return result_of(Echo(text="late"))

    @server.tool(annotations=_IDEMPOTENT)
    async def wait_for_gate(text: str) -> Annotated[CallToolResult, Echo]:
        """Answers ``text`` once the test opens the gate."""
        state.calls["wait_for_gate"] += 1
        await state.gate.wait()
        return result_of(Echo(text=text))

    return server


@dataclass
class Served:
    url: str
    state: Hanging


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    state = Hanging()
    port = free_port()
    settings = ServiceSettings(port=port, certify_env="test")
    config = uvicorn.Config(create_service(settings, _server(state)), host="127.0.0.1", port=port, log_config=None)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    await eventually(lambda: server.started, 30, "the test MCP server to start", 0.02)
    try:
        yield Served(f"http://127.0.0.1:{port}/mcp", state)
    finally:
        state.gate.set()
        state.forever.set()
        server.should_exit = True
        await task


async def test_a_timed_out_call_leaves_concurrent_calls_on_the_same_session_unharmed(served: Served) -> None:
    pool = McpPool({"hanging": served.url}, call_timeout_s=30, sessions_per_server=1)
    await pool.start(wait_s=10)
    try:
        waiting = [
            asyncio.create_task(pool.call("hanging", "wait_for_gate", {"text": f"t{index}"})) for index in range(3)
        ]
        await eventually(lambda: served.state.calls["wait_for_gate"] == 3, 20, "three calls in flight", 0.01)
        timed_out = await pool.call("hanging", "hang", {}, timeout_s=0.5)
        assert isinstance(timed_out, Failure)
        assert (timed_out.code, timed_out.retryable) == ("upstream_unavailable", True)
        served.state.gate.set()
        answers = await asyncio.gather(*waiting)
        assert answers == [{"text": f"t{index}"} for index in range(3)]
        assert await pool.call("hanging", "wait_for_gate", {"text": "after"}) == {"text": "after"}
        assert served.state.calls["wait_for_gate"] == 4  # nothing was retried: every call answered first time
    finally:
        await pool.stop()


async def test_only_tools_the_server_declares_idempotent_are_retried(served: Served) -> None:
    pool = McpPool({"hanging": served.url}, call_timeout_s=30, retry_attempts=3)
    await pool.start(wait_s=10)
    try:
        assert pool.idempotent("hanging", "hang_idempotent")
        assert not pool.idempotent("hanging", "hang")
        plain = await pool.call("hanging", "hang", {}, timeout_s=0.3)
        retried = await pool.call("hanging", "hang_idempotent", {}, timeout_s=0.3)
        assert isinstance(plain, Failure)
        assert isinstance(retried, Failure)
        assert (served.state.calls["hang"], served.state.calls["hang_idempotent"]) == (1, 3)
    finally:
        await pool.stop()


async def test_a_server_with_every_call_slot_taken_answers_upstream_busy(served: Served) -> None:
    pool = McpPool({"hanging": served.url}, call_timeout_s=30, max_concurrency_per_server=2)
    await pool.start(wait_s=10)
    try:
        holding = [asyncio.create_task(pool.call("hanging", "wait_for_gate", {"text": "x"})) for _ in range(2)]
        await eventually(lambda: served.state.calls["wait_for_gate"] == 2, 20, "both slots in use", 0.01)
        busy = await pool.call("hanging", "wait_for_gate", {"text": "y"}, timeout_s=0.3)
        assert isinstance(busy, Failure)
        assert (busy.code, busy.retryable, busy.details["server"]) == ("upstream_busy", True, "hanging")
        assert served.state.calls["wait_for_gate"] == 2  # the busy call never reached the server
        served.state.gate.set()
        assert await asyncio.gather(*holding) == [{"text": "x"}, {"text": "x"}]
    finally:
        await pool.stop()
