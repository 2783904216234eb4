"""The block number of a settlement, from ``eth_getTransactionReceipt`` where an RPC is configured."""

from __future__ import annotations

import logging

import httpx

from certify_common.metrics import upstream_call

logger = logging.getLogger("certify.proxy.receipts")


async def block_number(client: httpx.AsyncClient, rpc_url: str | None, tx_hash: str | None) -> int | None:
    """The receipt's block number, or None (no RPC, no receipt yet, or the RPC failed: never fatal)."""
    if not rpc_url or not tx_hash:
        return None
    body = {"jsonrpc": "2.0", "id": 1, "method": "eth_getTransactionReceipt", "params": [tx_hash]}
    with upstream_call("proxy", "evm_rpc") as outcome:
        try:
            answer = await client.post(rpc_url, json=body)
            answer.raise_for_status()
            reply = answer.json()
        except (httpx.HTTPError, ValueError, RecursionError) as exc:
            logger.warning("receipt lookup failed", extra={"error": type(exc).__name__})
            return None
        outcome["outcome"] = "ok"
    receipt = reply.get("result") if isinstance(reply, dict) else None  # a node may answer any JSON
    if not isinstance(receipt, dict) or not isinstance(receipt.get("blockNumber"), str):
        return None
    try:
        return int(receipt["blockNumber"], 16)
    except ValueError:
        return None
