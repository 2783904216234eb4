"""Call MCP tools the way a host does, and check structured results against the advertised schemas."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
from mcp import Client
from mcp.types import CallToolResult, TextContent, Tool


async def list_tools(target: Any) -> dict[str, Tool]:
    """Tools by name, from a URL or an in-process server."""
    async with Client(target) as client:
        result = await client.list_tools()
        return {tool.name: tool for tool in result.tools}


async def call(target: Any, tool: str, arguments: dict[str, Any] | None = None) -> CallToolResult:
    """One tool call on a fresh client."""
    async with Client(target) as client:
        return await client.call_tool(tool, arguments or {})


def assert_matches_output_schema(tool: Tool, result: CallToolResult) -> dict[str, Any]:
    """A successful result's structured content validates against the tool's output schema."""
    assert not result.is_error, result.structured_content or result.content
    assert tool.output_schema is not None, f"{tool.name} advertises no output schema"
    structured = result.structured_content
    assert isinstance(structured, dict)
    jsonschema.validate(structured, tool.output_schema)
    return structured


def failure_of(result: CallToolResult) -> dict[str, Any]:
    """The failure ``{code, message, retryable, details}`` of an ``isError`` result (carried as JSON text)."""
    assert result.is_error, result.structured_content
    assert result.structured_content is None, "failures travel as JSON text, not structured content"
    text = "".join(block.text for block in result.content if isinstance(block, TextContent))
    payload = json.loads(text)
    assert isinstance(payload, dict)
    assert set(payload) == {"code", "message", "retryable", "details"}
    return payload


def schema_requires_documented_fields(tool: Tool) -> None:
    """Every property of the output schema is required (no documented field may be silently absent)."""
    schema = tool.output_schema or {}
    properties = set(schema.get("properties", {}))
    assert properties, f"{tool.name}: empty output schema"
    assert set(schema.get("required", [])) == properties, f"{tool.name}: optional output fields"
