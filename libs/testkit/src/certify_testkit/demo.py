"""The main job, run by `make run` and `make demo` against the local stack.

What it does grows with the stack: it certifies a sample document as far as the services that exist
allow, prints each step, and returns 0 only when every step it attempted succeeded.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from typing import TYPE_CHECKING, Any

from mcp import Client

if TYPE_CHECKING:
    from certify_testkit.stack import Stack

SAMPLE_DOCUMENT = b"certify sample document\nThe quick brown fox jumps over the lazy dog.\n"


class DemoError(RuntimeError):
    """A step of the demo failed; the message says which and why."""


async def _tool(client: Client, name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(name, arguments)
    structured = result.structured_content
    if result.is_error or not isinstance(structured, dict):
        raise DemoError(f"{name} failed: {json.dumps(structured) if structured else result.content}")
    return structured


async def quote_step(quote_url: str, qr_url: str) -> dict[str, Any]:
    """Size, price and quote the sample document over MCP, and draw its hash as a QR code."""
    data = base64.b64encode(SAMPLE_DOCUMENT).decode()
    async with Client(quote_url) as quote:
        size = await _tool(quote, "check_data_size", {"data": data, "encoding": "base64"})
        if size["sha256"] != hashlib.sha256(SAMPLE_DOCUMENT).hexdigest():
            raise DemoError("check_data_size returned a wrong SHA-256")
        print(f"  document: {size['size_human']}, sha256 {size['sha256']}")
        price = await _tool(quote, "get_cirx_price", {})
        print(f"  CIRX price: {price['cirx_price_usd']} USD ({price['source']}, stale={price['stale']})")
        quoted = await _tool(quote, "calculate_quote", {"data_size_bytes": size["size_bytes"]})
        print(
            f"  quote: {quoted['usdc_amount']} USDC for {quoted['cirx_fee']} CIRX, valid until {quoted['valid_until']}"
        )
    async with Client(qr_url) as qr:
        drawn = await _tool(qr, "generate_qr_ascii", {"data": size["sha256"]})
        print(drawn["text"])
    return quoted


def run_demo(stack: Stack) -> int:
    """Run the demo against a started stack; 0 on success, 1 with a message on failure."""
    print("\ncertifying a sample document end to end", flush=True)
    try:
        asyncio.run(quote_step(stack.url("quote", "/mcp"), stack.url("qr", "/mcp")))
    except (DemoError, OSError) as exc:
        print(f"demo failed: {exc}", flush=True)
        return 1
    print("demo: all steps succeeded", flush=True)
    return 0
