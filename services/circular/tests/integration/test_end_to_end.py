"""Our server as a process against the sandbox NAG process: certify, wait, prove; a foreign MCP client; metrics."""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

import httpx
import jsonschema
import pytest
from mcp import Client

from certify_circular.proof import verify_proof
from certify_common.contracts.circular import CertificationProof
from certify_testkit.inspector import inspector
from certify_testkit.mcp_calls import assert_matches_output_schema, list_tools

pytestmark = pytest.mark.e2e


def metric(text: str, name: str) -> float:
    """Sum of every sample of ``name`` (all label sets) in a Prometheus exposition."""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def certify_and_prove(url: str, count: int) -> list[dict[str, Any]]:
    tools = await list_tools(url)
    proofs = []
    async with Client(url) as client:
        for index in range(count):
            data_hash = "0x" + hashlib.sha256(f"document {index}".encode()).hexdigest()
            submitted = assert_matches_output_schema(
                tools["certify_data"], await client.call_tool("certify_data", {"data_hash": data_hash})
            )
            status: dict[str, Any] = {"final": False}
            for _ in range(10):  # each call waits up to 5 s
                status = assert_matches_output_schema(
                    tools["get_transaction_status"],
                    await client.call_tool("get_transaction_status", {"tx_id": submitted["tx_id"], "wait_seconds": 5}),
                )
                if status["final"]:
                    break
            assert status["status"] == "Executed"
            proof = assert_matches_output_schema(
                tools["get_certification_proof"],
                await client.call_tool("get_certification_proof", {"tx_id": submitted["tx_id"]}),
            )
            assert proof["data_hash"] == data_hash[2:]
            proofs.append(proof)
    return proofs


def test_our_server_certifies_end_to_end_and_metrics_match_the_sandbox(
    nag: Any, circular: Any, service_key: Any
) -> None:
    server = circular()

    proofs = asyncio.run(certify_and_prove(server.mcp_url, 3))

    for proof in proofs:
        assert verify_proof(CertificationProof.model_validate(proof)) == []
        assert proof["transaction"]["from_address"] == service_key[1]
    assert [row["nonce"] for row in nag.transactions(service_key[1])] == ["1", "2", "3"]
    exposition = httpx.get(f"{server.url}/metrics", timeout=5).text
    assert metric(exposition, "certify_circular_submission_to_executed_seconds_count") == 3
    assert metric(exposition, "certify_circular_transaction_polls_total") == nag.calls("Circular_GetTransactionbyID_")
    assert nag.calls("Circular_AddTransaction_") == 3


def test_the_mcp_inspector_lists_and_calls_the_tools(stand: Any) -> None:
    url = stand.server.mcp_url

    listed = {tool["name"]: tool for tool in inspector(url, "tools/list")["tools"]}
    assert set(listed) == {
        "get_wallet_nonce",
        "certify_data",
        "get_transaction_status",
        "get_certification_proof",
        "get_wallet_balance",
    }
    for tool in listed.values():
        assert tool["description"]
        assert set(tool["outputSchema"]["required"]) == set(tool["outputSchema"]["properties"])

    nonce = inspector(url, "tools/call", "get_wallet_nonce")["structuredContent"]
    jsonschema.validate(nonce, listed["get_wallet_nonce"]["outputSchema"])
    assert nonce["address"] == stand.address
    assert nonce["next_nonce"] == nonce["nonce"] + 1

    data_hash = "0x" + hashlib.sha256(b"inspector").hexdigest()
    submitted = inspector(url, "tools/call", "certify_data", {"data_hash": data_hash})["structuredContent"]
    jsonschema.validate(submitted, listed["certify_data"]["outputSchema"])
    assert submitted["nonce"] == nonce["next_nonce"]

    balance = inspector(url, "tools/call", "get_wallet_balance", {"asset": "CIRX"})["structuredContent"]
    jsonschema.validate(balance, listed["get_wallet_balance"]["outputSchema"])

    refused = inspector(url, "tools/call", "get_transaction_status", {"tx_id": "nope"})
    assert refused["isError"] is True
    # Failures travel as JSON text (certify_common.mcp_service.failed), which a foreign client reads too.
    assert json.loads(refused["content"][0]["text"])["code"] == "invalid_input"
