"""The tools through an in-memory MCP client, against the sandbox NAG app in process."""

from __future__ import annotations

import hashlib
import re
from typing import Any

from mcp import Client

from certify_circular.proof import verify_proof
from certify_common.contracts.circular import CertificationProof
from certify_testkit.mcp_calls import assert_matches_output_schema, failure_of, schema_requires_documented_fields

TOOLS = {"get_wallet_nonce", "certify_data", "get_transaction_status", "get_certification_proof", "get_wallet_balance"}
HASH = "0x" + hashlib.sha256(b"a document").hexdigest()


async def tools_by_name(stand: Any) -> dict:
    async with Client(stand.mcp) as client:
        return {tool.name: tool for tool in (await client.list_tools()).tools}


async def test_every_tool_has_a_docstring_and_an_output_schema_with_all_fields_required(stand: Any) -> None:
    tools = await tools_by_name(stand)
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert tool.description
        schema_requires_documented_fields(tool)


async def test_certify_then_status_then_proof_gives_a_verifiable_certificate(stand: Any) -> None:
    tools = await tools_by_name(stand)
    submitted = assert_matches_output_schema(
        tools["certify_data"], await stand.call("certify_data", {"data_hash": HASH})
    )
    assert submitted["status"] == "submitted"
    assert submitted["data_hash"] == HASH[2:]
    assert submitted["nonce"] == 1
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", submitted["timestamp"])

    status = await stand.call("get_transaction_status", {"tx_id": submitted["tx_id"], "wait_seconds": 5})
    final = assert_matches_output_schema(tools["get_transaction_status"], status)
    assert final["status"] == "Executed"
    assert final["final"] is True
    assert final["block_id"]

    proof = assert_matches_output_schema(
        tools["get_certification_proof"], await stand.call("get_certification_proof", {"tx_id": submitted["tx_id"]})
    )
    assert proof["data_hash"] == HASH[2:]
    assert proof["block_id"] == final["block_id"]
    assert proof["fees"]["total"] == "4.0"
    assert proof["transaction"]["public_key"] == stand.service.wallet.public_key_hex
    assert verify_proof(CertificationProof.model_validate(proof)) == []


async def test_raw_data_is_certified_as_its_sha256(stand: Any) -> None:
    result = await stand.call("certify_data", {"data": "hello"})
    assert result.structured_content["data_hash"] == hashlib.sha256(b"hello").hexdigest()


async def test_data_over_one_megabyte_fails_before_any_nag_call(stand: Any) -> None:
    result = await stand.call("certify_data", {"data": "x" * (1024 * 1024 + 1)})
    assert failure_of(result)["code"] == "data_too_large"
    assert await stand.calls() == {}


async def test_malformed_inputs_give_structured_failures_without_nag_calls(stand: Any) -> None:
    cases = [
        ("certify_data", {"data_hash": "0x1234"}),
        ("certify_data", {}),
        ("certify_data", {"data_hash": HASH, "data": "both"}),
        ("get_transaction_status", {"tx_id": "not-hex"}),
        ("get_certification_proof", {"tx_id": "ab" * 31}),
        ("get_wallet_nonce", {"wallet_address": "0xzz"}),
    ]
    for tool, arguments in cases:
        assert failure_of(await stand.call(tool, arguments))["code"] == "invalid_input", (tool, arguments)
    assert await stand.calls() == {}


async def test_the_same_idempotency_key_returns_the_first_transaction_and_submits_once(stand: Any) -> None:
    first = await stand.call("certify_data", {"data_hash": HASH, "idempotency_key": "order-1"})
    again = await stand.call("certify_data", {"data_hash": HASH, "idempotency_key": "order-1"})
    assert again.structured_content == first.structured_content
    assert (await stand.calls())["nag.Circular_AddTransaction_"] == 1

    other = await stand.call("certify_data", {"data_hash": "0x" + "00" * 32, "idempotency_key": "order-1"})
    assert failure_of(other)["code"] == "idempotency_conflict"


async def test_consecutive_certifications_use_consecutive_nonces(stand: Any) -> None:
    nonces = []
    for index in range(3):
        result = await stand.call("certify_data", {"data_hash": "0x" + f"{index:064x}"})
        nonces.append(result.structured_content["nonce"])
    assert nonces == [1, 2, 3]
    wallet = await stand.call("get_wallet_nonce", {})
    assert wallet.structured_content == {"address": stand.service.wallet.address, "nonce": 3, "next_nonce": 4}


async def test_a_nonce_the_nag_refuses_is_refetched_and_the_transaction_rebuilt_once(stand: Any) -> None:
    parts = stand.service.parts
    await parts.nonces.allocate(parts.network.blockchain, stand.service.wallet.address, 40)  # a stale "last" far ahead

    result = await stand.call("certify_data", {"data_hash": HASH})

    assert result.structured_content["nonce"] == 1
    assert (await stand.calls())["nag.Circular_AddTransaction_"] == 2


async def test_status_of_a_pending_transaction_is_not_final(stand: Any) -> None:
    await stand.plan(stuck_pending=True)
    submitted = await stand.call("certify_data", {"data_hash": HASH})
    status = await stand.call(
        "get_transaction_status", {"tx_id": submitted.structured_content["tx_id"], "wait_seconds": 0.2}
    )
    assert status.structured_content == {
        "tx_id": submitted.structured_content["tx_id"],
        "status": "Pending",
        "block_id": None,
        "final": False,
    }
    proof = await stand.call("get_certification_proof", {"tx_id": submitted.structured_content["tx_id"]})
    assert failure_of(proof)["code"] == "not_yet_executed"


async def test_verified_is_reported_with_its_block_but_not_final(stand: Any) -> None:
    await stand.plan(pending_s=0, verified_s=3600)
    submitted = await stand.call("certify_data", {"data_hash": HASH})
    status = (
        await stand.call("get_transaction_status", {"tx_id": submitted.structured_content["tx_id"]})
    ).structured_content
    assert (status["status"], status["final"]) == ("Verified", False)
    assert status["block_id"] is not None


async def test_unknown_transaction_is_a_clear_failure(stand: Any) -> None:
    result = await stand.call("get_transaction_status", {"tx_id": "0x" + "ab" * 32})
    failure = failure_of(result)
    assert failure["code"] == "transaction_not_found"
    assert failure["details"]["type"] == "TRANSACTION_NOT_FOUND"


async def test_wallet_balance_reads_exact_cirx(stand: Any) -> None:
    await stand.call("certify_data", {"data_hash": HASH})
    balance = await stand.call("get_wallet_balance", {})
    assert balance.structured_content["balance"] == "996"
    assert balance.structured_content["asset"] == "CIRX"


async def test_a_failing_nag_gives_the_seed_fields_and_a_retry_never_duplicates(stand: Any) -> None:
    await stand.sandbox.put("/_control/faults/nag", json={"fail_next": 1, "only_endpoint": "Circular_AddTransaction_"})
    failed = failure_of(await stand.call("certify_data", {"data_hash": HASH, "idempotency_key": "k"}))
    assert failed["code"] == "nag_unavailable"
    assert failed["retryable"] is True
    assert failed["details"]["type"] == "API_UNAVAILABLE"
    assert failed["details"]["http_status"] == 500
    assert set(failed["details"]) >= {"type", "http_status", "nag_result_code", "retry_suggestion"}

    retried = await stand.call("certify_data", {"data_hash": HASH, "idempotency_key": "k"})
    assert not retried.is_error
    rows = (
        await stand.sandbox.get("/_control/nag/transactions", params={"address": stand.service.wallet.address})
    ).json()
    assert [row["nonce"] for row in rows if row["nonce"] != "0"] == ["1"]


async def test_tools_declare_which_calls_are_safe_to_repeat(stand: Any) -> None:
    # The proxy retries a tool after a timeout only when it declares idempotentHint: reads may repeat;
    # certify_data without an idempotency_key would certify twice, so it is not declared idempotent.
    tools = await tools_by_name(stand)
    hints = {name: (tool.annotations.read_only_hint, tool.annotations.idempotent_hint) for name, tool in tools.items()}
    assert hints == {
        "get_wallet_nonce": (True, True),
        "certify_data": (False, False),
        "get_transaction_status": (True, True),
        "get_certification_proof": (True, True),
        "get_wallet_balance": (True, True),
    }
