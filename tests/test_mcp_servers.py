"""The four MCP servers share one skeleton: ``build_server(settings, runtime)`` and behaviour hints on every tool."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from mcp import Client
from mcp.server import MCPServer

from certify_circular.settings import CircularSettings
from certify_circular.tools import build_server as circular_server
from certify_common.mcp_runtime import NotStartedError, Runtime
from certify_qr.settings import QrSettings
from certify_qr.tools import build_server as qr_server
from certify_quote.settings import QuoteSettings
from certify_quote.tools import build_server as quote_server
from certify_x402.settings import X402Settings
from certify_x402.tools import build_server as x402_server

BUILDERS: dict[str, tuple[Any, Any]] = {
    "x402": (x402_server, X402Settings),
    "circular": (circular_server, CircularSettings),
    "quote": (quote_server, QuoteSettings),
    "qr": (qr_server, QrSettings),
}


def _server(name: str) -> MCPServer:
    build, settings = BUILDERS[name]
    server: MCPServer = build(settings(), Runtime(name))
    return server


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_every_server_is_built_from_its_settings_and_a_runtime(name: str) -> None:
    assert list(inspect.signature(BUILDERS[name][0]).parameters) == ["settings", "runtime"]


@pytest.mark.parametrize("name", sorted(BUILDERS))
async def test_every_tool_states_whether_it_reads_repeats_safely_or_destroys(name: str) -> None:
    async with Client(_server(name)) as client:
        tools = (await client.list_tools()).tools
    assert tools
    unstated = [
        tool.name
        for tool in tools
        if tool.annotations is None
        or None
        in (tool.annotations.read_only_hint, tool.annotations.idempotent_hint, tool.annotations.destructive_hint)
    ]
    assert unstated == []
    assert all(tool.description and not tool.description.startswith(" ") for tool in tools)


async def test_a_dependency_read_outside_the_lifespan_is_a_wiring_error() -> None:
    runtime: Runtime[str] = Runtime("example")
    with pytest.raises(NotStartedError):
        runtime.get()
    async with runtime.provide("deps"):
        assert (runtime.started, runtime.get()) == (True, "deps")
    assert not runtime.started
