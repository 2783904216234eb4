"""Reading MCP tool results: structured content on success, the server's ``Failure`` on ``isError``."""

from __future__ import annotations

import json
from typing import Any

from mcp.types import CallToolResult
from pydantic import ValidationError

from certify_common.errors import Failure, failure
from certify_proxy.metrics import MCP_CLIENT_CALLS


def _failure_payload(result: CallToolResult) -> dict[str, Any] | None:
    """The failure object of an ``isError`` result: structured content, else the JSON text block.

    mcp 2.x drops ``structuredContent`` from error results on some paths (in-process, 2026 protocol), while
    certify's servers always repeat the failure as JSON text, so both are read.
    """
    if isinstance(result.structured_content, dict):
        return result.structured_content
    for block in result.content:
        text = getattr(block, "text", None)
        if isinstance(text, str):
            try:
                parsed = json.loads(text)
            except ValueError:
                continue
            if isinstance(parsed, dict):
                return parsed
    return None


def interpret(server_name: str, tool: str, result: CallToolResult) -> dict[str, Any] | Failure:
    """A tool result as the proxy uses it: structured content, the server's Failure, or ``upstream_error``."""
    if result.is_error:
        MCP_CLIENT_CALLS.labels(server_name, tool, "failure").inc()
        payload = _failure_payload(result)
        if payload is not None and {"code", "message"} <= set(payload):
            try:
                return Failure.model_validate(payload)
            except ValidationError:
                pass
        return failure("upstream_error", f"{server_name}.{tool} failed", retryable=True, server=server_name)
    MCP_CLIENT_CALLS.labels(server_name, tool, "ok").inc()
    structured = result.structured_content
    if not isinstance(structured, dict):
        # An unexpected shape says nothing about what happened upstream (a settle may have moved money):
        # retryable, so settlement is reconciled rather than abandoned.
        return failure(
            "upstream_error", f"{server_name}.{tool} returned no structured result", retryable=True, server=server_name
        )
    return structured
