"""MCP client spans follow the OpenTelemetry MCP conventions and carry the trace across the hop."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import pytest
import uvicorn
from mcp import Client
from mcp.types import CallToolResult
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from pydantic import BaseModel
from starlette.types import ASGIApp, Receive, Scope, Send

from certify_common.errors import failure
from certify_common.mcp_service import create_service, new_mcp_server, result_of
from certify_common.mcp_tracing import call_tool, traced_transport
from certify_common.settings import ServiceSettings
from certify_testkit.processes import eventually, free_port

SECRET_ARGUMENT = "document-bytes-that-must-not-be-recorded"


class Echo(BaseModel):
    length: int


def _server():  # type: ignore[no-untyped-def]
    mcp = new_mcp_server("demo", "A demo server.")

    @mcp.tool()
    async def echo(text: str) -> Annotated[CallToolResult, Echo]:
        """Echo the text's length."""
        return result_of(Echo(length=len(text)))

    @mcp.tool()
    async def refuse(text: str) -> Annotated[CallToolResult, Echo]:
        """Always refuse."""
        return result_of(failure("refused", f"no {len(text)}"))

    @mcp.tool()
    async def slow(text: str) -> Annotated[CallToolResult, Echo]:
        """Take longer than any caller waits."""
        await asyncio.sleep(30)
        return result_of(Echo(length=len(text)))

    return mcp


def _named(spans: InMemorySpanExporter, name: str, kind: SpanKind) -> ReadableSpan:
    (found,) = [span for span in spans.get_finished_spans() if span.name == name and span.kind == kind]
    return found


def _values(span: ReadableSpan) -> list[Any]:
    return [*dict(span.attributes or {}).values(), *(dict(e.attributes or {}) for e in span.events)]


async def test_a_tool_call_is_a_client_span_parenting_the_servers_span_without_its_arguments(
    spans: InMemorySpanExporter,
) -> None:
    async with Client(_server()) as client:
        with trace.get_tracer("test").start_as_current_span("POST /v1/certify"):
            result = await call_tool(
                client, "echo", {"text": SECRET_ARGUMENT}, timeout_s=5, server="http://x402:8402/mcp"
            )
    assert not result.is_error
    ours = _named(spans, "tools/call echo", SpanKind.CLIENT)
    assert dict(ours.attributes or {}) == {
        "mcp.method.name": "tools/call",
        "gen_ai.tool.name": "echo",
        "gen_ai.operation.name": "execute_tool",
        "network.transport": "tcp",
        "network.protocol.name": "http",
        "server.address": "x402",
        "server.port": 8402,
    }
    assert ours.status.status_code == StatusCode.UNSET
    server = _named(spans, "tools/call echo", SpanKind.SERVER)
    by_id = {span.context.span_id: span for span in spans.get_finished_spans() if span.context}
    ancestors = []
    parent = server.parent
    while parent is not None:
        ancestors.append(parent.span_id)
        parent = by_id[parent.span_id].parent if parent.span_id in by_id else None
    assert ours.context is not None
    assert ours.context.span_id in ancestors
    assert server.attributes is not None
    assert server.attributes["gen_ai.tool.name"] == "echo"
    for span in spans.get_finished_spans():
        assert SECRET_ARGUMENT not in repr(_values(span))


async def test_an_is_error_result_marks_the_client_span_as_a_tool_error(spans: InMemorySpanExporter) -> None:
    async with Client(_server()) as client:
        result = await call_tool(client, "refuse", {"text": "x"}, timeout_s=5)
    assert result.is_error
    ours = _named(spans, "tools/call refuse", SpanKind.CLIENT)
    assert ours.attributes is not None
    assert ours.attributes["error.type"] == "tool_error"
    assert ours.status.status_code == StatusCode.ERROR


async def test_a_call_that_outlives_its_timeout_raises_and_records_a_timeout(spans: InMemorySpanExporter) -> None:
    async with Client(_server()) as client:
        with pytest.raises(TimeoutError):
            await call_tool(client, "slow", {"text": "x"}, timeout_s=0.2)
    ours = _named(spans, "tools/call slow", SpanKind.CLIENT)
    assert ours.attributes is not None
    assert ours.attributes["error.type"] == "timeout"
    assert ours.status.status_code == StatusCode.ERROR


class _HeaderRecorder:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.traceparents: list[str] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == "/mcp":
            headers = dict(scope["headers"])
            self.traceparents.append(headers.get(b"traceparent", b"").decode())
        await self.app(scope, receive, send)


class DemoSettings(ServiceSettings):
    service_name = "demo"


async def test_the_http_requests_of_a_traced_call_carry_the_callers_trace(spans: InMemorySpanExporter) -> None:
    port = free_port()
    recorder = _HeaderRecorder(create_service(DemoSettings(port=port), _server()))
    server = uvicorn.Server(uvicorn.Config(recorder, host="127.0.0.1", port=port, log_config=None, lifespan="on"))
    serving = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: server.started or serving.done(), 30, "the server to start", 0.02)
        assert not serving.done(), "the server did not start"
        url = f"http://127.0.0.1:{port}/mcp"
        async with Client(traced_transport(url)) as client:
            recorder.traceparents.clear()
            with trace.get_tracer("test").start_as_current_span("request") as request:
                await call_tool(client, "echo", {"text": "abc"}, timeout_s=5, server=url)
    finally:
        server.should_exit = True
        await serving
    trace_id = format(request.get_span_context().trace_id, "032x")
    assert recorder.traceparents
    assert all(header.split("-")[1] == trace_id for header in recorder.traceparents)
