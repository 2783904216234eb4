"""MCP client spans (OpenTelemetry MCP semantic conventions) and trace context on the MCP HTTP hop.

The mcp SDK already does part of it, and is reused: its client injects the W3C context into each
request's ``params._meta`` (SEP-414) and its servers open a SERVER span ``tools/call <tool>`` from
it. What is added here: the caller's CLIENT span ``tools/call <tool>`` with ``mcp.method.name``,
``gen_ai.tool.name``, ``gen_ai.operation.name``, the server address, and ``error.type`` (``tool_error``
for an ``isError`` result, the JSON-RPC code, ``timeout``, or the exception type); and the same
context in the HTTP headers of the streamable-HTTP POSTs, so the server's HTTP span joins the trace
too. Tool arguments and results are never recorded (documents, payment payloads).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any
from urllib.parse import urlsplit

import httpx2
from mcp import Client
from mcp.client import Transport
from mcp.client._transport import TransportStreams
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.exceptions import MCPError
from mcp.types import CallToolResult
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, StatusCode


def _server_attributes(server: object) -> dict[str, str | int]:
    if not isinstance(server, str):
        return {}
    parts = urlsplit(server)
    attributes: dict[str, str | int] = {"network.transport": "tcp", "network.protocol.name": "http"}
    if parts.hostname:
        attributes["server.address"] = parts.hostname
        attributes["server.port"] = parts.port or (443 if parts.scheme == "https" else 80)
    return attributes


@contextmanager
def tool_call_span(tool: str, server: object = None) -> Iterator[trace.Span]:
    """The MCP CLIENT span of one ``tools/call`` (``server``: the server's URL, when it has one)."""
    tracer = trace.get_tracer("certify.mcp.client")
    attributes: dict[str, str | int] = {
        "mcp.method.name": "tools/call",
        "gen_ai.tool.name": tool,
        "gen_ai.operation.name": "execute_tool",
        **_server_attributes(server),
    }
    with tracer.start_as_current_span(
        f"tools/call {tool}",
        kind=SpanKind.CLIENT,
        attributes=attributes,
        record_exception=False,
        set_status_on_exception=False,
    ) as span:
        yield span


def _failed(span: trace.Span, error_type: str, message: str | None = None) -> None:
    span.set_attribute("error.type", error_type)
    span.set_status(StatusCode.ERROR, message)


async def call_tool(
    client: Client, tool: str, arguments: dict[str, Any], *, timeout_s: float, server: object = None
) -> CallToolResult:
    """``client.call_tool`` bounded by ``timeout_s`` (then ``TimeoutError``), inside its MCP client span."""
    with tool_call_span(tool, server) as span:
        try:
            async with asyncio.timeout(timeout_s):
                result = await client.call_tool(tool, arguments, read_timeout_seconds=timeout_s)
        except TimeoutError:
            _failed(span, "timeout")
            raise
        except MCPError as exc:
            code = str(exc.error.code)
            span.set_attribute("rpc.response.status_code", code)
            _failed(span, code, exc.error.message)
            raise
        except Exception as exc:
            _failed(span, type(exc).__qualname__)
            raise
        if result.is_error:
            _failed(span, "tool_error")
        return result


def _meta_carrier(body: bytes) -> dict[str, str]:
    """``traceparent``/``tracestate`` from a JSON-RPC message's ``params._meta`` (where the SDK puts the call's
    context), or nothing."""
    try:
        message = json.loads(body) if body else None
    except ValueError:
        return {}
    params = message.get("params") if isinstance(message, dict) else None
    meta = params.get("_meta") if isinstance(params, dict) else None
    if not isinstance(meta, dict):
        return {}
    return {name: value for name in ("traceparent", "tracestate") if isinstance(value := meta.get(name), str)}


async def _inject_headers(request: httpx2.Request) -> None:
    # A pooled session's POSTs are sent by a task started with the session, whose context is not the call's:
    # the message's own _meta carries the call's context, so the HTTP hop joins the same trace.
    carrier = _meta_carrier(request.content) if request.method == "POST" else {}
    if carrier:
        request.headers.update(carrier)
    else:
        propagate.inject(request.headers)


@asynccontextmanager
async def _traced_streams(url: str) -> AsyncIterator[TransportStreams]:
    async with create_mcp_http_client() as http:
        http.event_hooks = {"request": [_inject_headers], "response": []}
        async with streamable_http_client(url, http_client=http) as streams:
            yield streams


def traced_transport(url: str) -> Transport:
    """The SDK's streamable-HTTP transport to ``url`` whose HTTP requests also carry ``traceparent``.

    Pass it to ``mcp.Client`` instead of the URL (a new one per connection).
    """
    return _traced_streams(url)
