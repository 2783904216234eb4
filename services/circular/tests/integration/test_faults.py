"""NAG faults seen through the server process: structured failures, right statuses, never a duplicate.

One registered key and one server for the module; call counts are compared as deltas.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from typing import Any

import pytest
from mcp import Client
from mcp.types import CallToolResult

from certify_testkit.mcp_calls import failure_of
from certify_testkit.processes import ServiceProcess, free_port, wait_until

pytestmark = pytest.mark.e2e


def new_hash() -> str:
    return "0x" + hashlib.sha256(secrets.token_bytes(16)).hexdigest()


def call(url: str, tool: str, arguments: dict[str, Any]) -> CallToolResult:
    async def go() -> CallToolResult:
        async with Client(url) as client:
            return await client.call_tool(tool, arguments)

    return asyncio.run(go())


def test_a_nag_that_is_down_gives_a_retryable_api_unavailable_failure() -> None:
    env = {
        "CIRCULAR_NAG_URL": f"http://127.0.0.1:{free_port()}/nag/NAG.php?cep=",
        "CIRCULAR_CEP_TESTNET_PRIVATE_KEY": secrets.token_hex(32),
        "REDIS_URL": "",
    }
    with ServiceProcess("certify_circular", env=env) as server:
        result = call(server.mcp_url, "certify_data", {"data_hash": new_hash()})

    failure = failure_of(result)
    assert failure["code"] == "nag_unavailable"
    assert failure["retryable"] is True
    assert failure["details"]["type"] == "API_UNAVAILABLE"
    assert failure["details"]["http_status"] is None
    assert failure["details"]["retry_suggestion"]


def test_an_answer_lost_after_acceptance_is_recovered_by_id_without_resubmitting(stand: Any) -> None:
    adds, lookups = stand.nag.calls("Circular_AddTransaction_"), stand.nag.calls("Circular_GetTransactionbyID_")
    stand.nag.plan(drop_after_accept_next=1)
    arguments = {"data_hash": new_hash(), "idempotency_key": secrets.token_hex(8)}

    result = call(stand.server.mcp_url, "certify_data", arguments)

    assert not result.is_error, result.content
    assert stand.nag.calls("Circular_AddTransaction_") == adds + 1
    assert stand.nag.calls("Circular_GetTransactionbyID_") == lookups + 1
    again = call(stand.server.mcp_url, "certify_data", arguments)
    assert again.structured_content["tx_id"] == result.structured_content["tx_id"]
    assert stand.nag.calls("Circular_AddTransaction_") == adds + 1


def test_a_slow_nag_times_out_and_the_retry_finds_the_transaction_instead_of_resubmitting(stand: Any) -> None:
    before = len(stand.nag.transactions(stand.address))
    adds = stand.nag.calls("Circular_AddTransaction_")
    stand.nag.faults(latency_s=2.5, only_endpoint="Circular_AddTransaction_")  # the server waits 2 s
    arguments = {"data_hash": new_hash(), "idempotency_key": secrets.token_hex(8)}

    first = failure_of(call(stand.server.mcp_url, "certify_data", arguments))

    assert (first["code"], first["details"]["sent"]) == ("nag_unavailable", "maybe")
    wait_until(lambda: len(stand.nag.transactions(stand.address)) == before + 1, 15, what="the slow submission")
    stand.nag.clear_faults()
    retried = call(stand.server.mcp_url, "certify_data", arguments)
    assert not retried.is_error, retried.content
    assert retried.structured_content["tx_id"] == stand.nag.transactions(stand.address)[-1]["id"]
    assert stand.nag.calls("Circular_AddTransaction_") == adds + 1


def test_stuck_pending_and_a_long_verified_phase_are_reported_as_not_final(stand: Any) -> None:
    url = stand.server.mcp_url
    stand.nag.plan(stuck_pending=True)
    stuck = call(url, "certify_data", {"data_hash": new_hash()}).structured_content["tx_id"]
    status = call(url, "get_transaction_status", {"tx_id": stuck, "wait_seconds": 0.5}).structured_content
    assert (status["status"], status["final"], status["block_id"]) == ("Pending", False, None)
    assert failure_of(call(url, "get_certification_proof", {"tx_id": stuck}))["code"] == "not_yet_executed"

    stand.nag.plan(stuck_pending=False, pending_s=0, verified_s=3600)
    verified = call(url, "certify_data", {"data_hash": new_hash()}).structured_content["tx_id"]
    status = call(url, "get_transaction_status", {"tx_id": verified}).structured_content
    assert (status["status"], status["final"]) == ("Verified", False)
    assert status["block_id"] is not None


def test_an_erroring_nag_fails_structured_and_the_retry_submits_exactly_once(stand: Any) -> None:
    before = {row["id"] for row in stand.nag.transactions(stand.address)}
    stand.nag.faults(fail_next=1, fail_status=502, only_endpoint="Circular_AddTransaction_")
    arguments = {"data_hash": new_hash(), "idempotency_key": secrets.token_hex(8)}

    failed = failure_of(call(stand.server.mcp_url, "certify_data", arguments))

    assert (failed["code"], failed["details"]["http_status"]) == ("nag_unavailable", 502)
    retried = call(stand.server.mcp_url, "certify_data", arguments)
    assert not retried.is_error
    added = {row["id"] for row in stand.nag.transactions(stand.address)} - before
    assert added == {retried.structured_content["tx_id"]}
