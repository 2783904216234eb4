"""verify_payment and settle_payment through the MCP tools, against the sandbox facilitator in process."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
from eth_account import Account
from x402.schemas import PaymentPayload, PaymentRequirements, SettleResponse
from x402.schemas.v1 import PaymentPayloadV1, PaymentRequirementsV1

from certify_common.evm import NETWORKS
from certify_testkit.mcp_calls import assert_matches_output_schema as validated
from certify_testkit.mcp_calls import call, failure_of, list_tools
from certify_testkit.plugin import forbid_in_logs
from certify_x402.records import record_key
from certify_x402.wire import Payment, decode_header

PAY_TO = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"


async def offer(stack: Any, network: str = "base-sepolia", amount_usdc: str = "0.03") -> dict[str, Any]:
    tools = await list_tools(stack.server)
    result = await call(
        stack.server,
        "create_payment_requirement",
        {"network": network, "amount_usdc": amount_usdc, "resource": "https://certify.test/v1/certify/r1"},
    )
    return validated(tools["create_payment_requirement"], result)


async def paid(stack: Any, pay: Callable[..., str], version: int = 2, fund: int = 10**9) -> tuple[str, dict[str, Any]]:
    made = await offer(stack)
    key = Account.create().key.hex()
    payer = Account.from_key(key).address
    if fund:
        await stack.fund("base-sepolia", payer, fund)
    required = made["payment_required_v1"] if version == 1 else made["payment_required_v2"]
    requirements = made["requirements_v1"] if version == 1 else made["requirements_v2"]
    return pay(required, key), requirements


async def settle(stack: Any, header: str, requirements: dict[str, Any]) -> Any:
    return await call(stack.server, "settle_payment", {"payment_header": header, "payment_requirements": requirements})


async def verify(stack: Any, header: str, requirements: dict[str, Any]) -> Any:
    return await call(stack.server, "verify_payment", {"payment_header": header, "payment_requirements": requirements})


@pytest.mark.parametrize("version", [1, 2])
async def test_a_good_payment_verifies_settles_once_and_replays_the_first_answer(
    stack: Any, pay: Callable[..., str], version: int
) -> None:
    tools = await list_tools(stack.server)
    header, requirements = await paid(stack, pay, version)
    forbid_in_logs("payment header", header)

    verdict = validated(tools["verify_payment"], await verify(stack, header, requirements))
    assert verdict["is_valid"] is True
    assert verdict["reason"] is None
    assert verdict["x402_version"] == version
    assert verdict["authorization"]["to"] == PAY_TO
    assert verdict["authorization"]["value"] == "30000"

    first = validated(tools["settle_payment"], await settle(stack, header, requirements))
    second = validated(tools["settle_payment"], await settle(stack, header, requirements))
    assert first["success"] is True
    assert first["transaction"].startswith("0x")
    assert first["replayed"] is False
    assert {**second, "replayed": False} == first
    assert second["replayed"] is True
    assert json.loads(base64.b64decode(first["payment_response_header"])) == first["settle_response"]
    SettleResponse.model_validate(first["settle_response"])
    assert len(stack.transport.posted("/facilitator/settle")) == 1
    assert stack.ledgers.authorization_transfers() == 1

    replay = validated(tools["verify_payment"], await verify(stack, header, requirements))
    assert (replay["is_valid"], replay["reason"]) == (False, "nonce_already_used")


@pytest.mark.parametrize("version", [1, 2])
async def test_the_settle_body_is_the_spec_body_and_validates_against_the_sdk_models(
    stack: Any, pay: Callable[..., str], version: int
) -> None:
    header, requirements = await paid(stack, pay, version)
    assert not (await settle(stack, header, requirements)).is_error
    [body] = stack.transport.posted("/facilitator/settle")
    assert set(body) == {"x402Version", "paymentPayload", "paymentRequirements"}
    assert body["x402Version"] == version
    assert body["paymentPayload"] == json.loads(base64.b64decode(header))
    assert body["paymentRequirements"] == requirements
    payload_model, requirements_model = (
        (PaymentPayloadV1, PaymentRequirementsV1) if version == 1 else (PaymentPayload, PaymentRequirements)
    )
    payload_model.model_validate(body["paymentPayload"])
    requirements_model.model_validate(body["paymentRequirements"])


async def test_an_invalid_payment_is_refused_before_the_facilitator_is_called(
    stack: Any, pay: Callable[..., str]
) -> None:
    header, requirements = await paid(stack, pay)
    requirements = {**requirements, "amount": "30001"}
    verdict = (await verify(stack, header, requirements)).structured_content
    assert (verdict["is_valid"], verdict["reason"]) == (False, "amount_mismatch")
    failure = failure_of(await settle(stack, header, requirements))
    assert (failure["code"], failure["retryable"]) == ("amount_mismatch", False)
    assert stack.transport.posted("/facilitator/settle") == []


async def test_a_malformed_header_is_a_verdict_and_a_settle_failure(stack: Any) -> None:
    made = await offer(stack)
    verdict = (await verify(stack, "not base64 at all!", made["requirements_v2"])).structured_content
    assert (verdict["is_valid"], verdict["reason"], verdict["payer"]) == (False, "invalid_payload", None)
    assert failure_of(await settle(stack, "e30=", made["requirements_v2"]))["code"] == "invalid_x402_version"
    assert failure_of(await settle(stack, "W10=", made["requirements_v2"]))["code"] == "invalid_payload"


async def test_an_unfunded_payer_gets_the_facilitators_reason_and_the_answer_is_kept(
    stack: Any, pay: Callable[..., str]
) -> None:
    header, requirements = await paid(stack, pay, fund=0)
    failure = failure_of(await settle(stack, header, requirements))
    assert (failure["code"], failure["details"]["error_reason"]) == (
        "insufficient_funds",
        "invalid_exact_evm_insufficient_balance",
    )
    again = failure_of(await settle(stack, header, requirements))
    assert again["code"] == "insufficient_funds"
    assert again["details"]["replayed"] is True
    assert len(stack.transport.posted("/facilitator/settle")) == 1


async def test_settlement_pending_is_reconciled_by_re_asking_and_never_pays_twice(
    stack: Any, pay: Callable[..., str]
) -> None:
    header, requirements = await paid(stack, pay)
    stack.ledgers.settlement_pending = True
    pending = failure_of(await settle(stack, header, requirements))
    assert (pending["code"], pending["retryable"]) == ("settlement_pending", True)
    assert pending["details"]["retry_after"] > 0
    assert pending["details"]["transaction"].startswith("0x")
    replay = (await verify(stack, header, requirements)).structured_content
    assert replay["reason"] == "nonce_already_used"

    stack.ledgers.settlement_pending = False
    settled = (await settle(stack, header, requirements)).structured_content
    assert settled["success"] is True
    assert settled["transaction"] == pending["details"]["transaction"]
    first_body, second_body = stack.transport.posted("/facilitator/settle")
    assert second_body == first_body, "the same payment is re-asked, never a new one"
    assert stack.ledgers.authorization_transfers() == 1
    assert stack.ledgers.reconciled == 1


@pytest.mark.x402_settings(x402_rpc_urls={"base-sepolia": "http://sandbox.test/rpc/base-sepolia"})
async def test_with_an_rpc_a_pending_settlement_is_reconciled_from_the_receipt(
    stack: Any, pay: Callable[..., str]
) -> None:
    header, requirements = await paid(stack, pay)
    stack.ledgers.settlement_pending = True
    pending = failure_of(await settle(stack, header, requirements))
    settled = (await settle(stack, header, requirements)).structured_content
    assert settled["success"] is True
    assert settled["transaction"] == pending["details"]["transaction"]
    assert len(stack.transport.posted("/facilitator/settle")) == 1
    assert stack.ledgers.authorization_transfers() == 1


async def test_a_facilitator_timeout_is_retryable_and_the_retry_resends_the_same_payment(
    stack: Any, pay: Callable[..., str]
) -> None:
    header, requirements = await paid(stack, pay)
    stack.transport.timeouts_left = 1
    timeout = failure_of(await settle(stack, header, requirements))
    assert (timeout["code"], timeout["retryable"]) == ("facilitator_timeout", True)
    assert timeout["details"]["retry_after"] == 5
    settled = (await settle(stack, header, requirements)).structured_content
    assert settled["success"] is True
    first_body, second_body = stack.transport.posted("/facilitator/settle")
    assert first_body == second_body
    assert stack.ledgers.authorization_transfers() == 1


async def test_another_authorization_reusing_a_settled_nonce_is_refused(stack: Any, pay: Callable[..., str]) -> None:
    header, requirements = await paid(stack, pay)
    assert not (await settle(stack, header, requirements)).is_error
    obj = json.loads(base64.b64decode(header))
    obj["accepted"]["amount"] = obj["payload"]["authorization"]["value"] = "30001"
    forged = base64.b64encode(json.dumps(obj).encode()).decode()
    assert failure_of(await settle(stack, forged, {**requirements, "amount": "30001"}))["code"] == "nonce_already_used"


@pytest.mark.x402_settings(x402_rpc_urls={"base-sepolia": "http://sandbox.test/rpc/base-sepolia"})
async def test_with_an_rpc_the_payers_balance_is_checked_on_chain(stack: Any, pay: Callable[..., str]) -> None:
    header, requirements = await paid(stack, pay, fund=29_999)
    before = len(stack.transport.posted("/rpc/base-sepolia"))
    verdict = (await verify(stack, header, requirements)).structured_content
    assert (verdict["is_valid"], verdict["reason"]) == (False, "insufficient_funds")
    assert len(stack.transport.posted("/rpc/base-sepolia")) - before == 1  # spent nonce and balance: one batch


@pytest.mark.x402_settings(x402_verify_with_facilitator=True)
async def test_verification_can_be_delegated_to_the_facilitator(stack: Any, pay: Callable[..., str]) -> None:
    header, requirements = await paid(stack, pay, fund=0)
    verdict = (await verify(stack, header, requirements)).structured_content
    assert (verdict["is_valid"], verdict["reason"]) == (False, "insufficient_funds")
    assert len(stack.transport.posted("/facilitator/verify")) == 1


async def test_a_facilitator_outage_is_retryable_and_the_next_call_settles(stack: Any, pay: Callable[..., str]) -> None:
    header, requirements = await paid(stack, pay)
    plan = {"fail_next": 1, "fail_status": 503, "only_endpoint": "settle"}
    assert (await stack.sandbox.put("/_control/faults/facilitator", json=plan)).status_code == 200
    outage = failure_of(await settle(stack, header, requirements))
    assert (outage["code"], outage["retryable"], outage["details"]["status"]) == ("facilitator_unavailable", True, 503)
    assert outage["details"]["retry_after"] == 5
    settled = (await settle(stack, header, requirements)).structured_content
    assert settled["success"] is True
    assert stack.ledgers.authorization_transfers() == 1


async def test_a_v1_payment_against_v2_requirements_is_a_version_mismatch(stack: Any, pay: Callable[..., str]) -> None:
    made = await offer(stack)
    header = pay(made["payment_required_v1"], Account.create().key.hex())
    verdict = (await verify(stack, header, made["requirements_v2"])).structured_content
    assert (verdict["is_valid"], verdict["reason"], verdict["x402_version"]) == (False, "version_mismatch", 1)


async def test_a_lost_settle_answer_without_an_rpc_stays_retryable_and_never_pays_twice(
    stack: Any, pay: Callable[..., str]
) -> None:
    header, requirements = await paid(stack, pay)
    stack.transport.lost_answers_left = 1
    assert failure_of(await settle(stack, header, requirements))["code"] == "facilitator_timeout"
    unconfirmed = failure_of(await settle(stack, header, requirements))
    assert (unconfirmed["code"], unconfirmed["retryable"]) == ("settlement_unconfirmed", True)
    assert stack.ledgers.authorization_transfers() == 1


def _tripped_on_the_first_transfer(payer: str) -> dict[str, Any]:
    """What a facilitator without a pending store may answer a re-sent body whose first transfer went through: it
    re-checks the balance that transfer drained (or re-broadcasts a duplicate that reverts)."""
    reverted = "0x" + "ee" * 32
    return {
        "success": False,
        "errorReason": "invalid_exact_evm_insufficient_balance",
        "payer": payer,
        "transaction": reverted,
        "network": "eip155:84532",
    }


async def test_a_lost_settle_answer_is_never_turned_into_a_refusal_by_the_re_sent_payments_answer(
    stack: Any, pay: Callable[..., str]
) -> None:
    header, requirements = await paid(stack, pay)
    stack.transport.lost_answers_left = 1
    assert failure_of(await settle(stack, header, requirements))["code"] == "facilitator_timeout"
    payer = json.loads(base64.b64decode(header))["payload"]["authorization"]["from"]
    stack.transport.settle_answers = [_tripped_on_the_first_transfer(payer)] * 2

    for _ in range(2):  # not once, and not when asked again: the refusal is never recorded as the outcome
        unconfirmed = failure_of(await settle(stack, header, requirements))
        assert (unconfirmed["code"], unconfirmed["retryable"]) == ("settlement_unconfirmed", True)
        assert "refused the re-sent payment (invalid_exact_evm_insufficient_balance)" in unconfirmed["message"]
    assert stack.ledgers.authorization_transfers() == 1


@pytest.mark.x402_settings(x402_rpc_urls={"base-sepolia": "http://sandbox.test/rpc/base-sepolia"})
async def test_a_refused_re_sent_payment_is_decided_by_the_chain(stack: Any, pay: Callable[..., str]) -> None:
    """With an RPC the chain is asked before re-sending; here it shows nothing yet (the transfer happens between that
    look and the re-sent body, as a lagging node would show it), so the refusal sends x402 to the chain again."""
    header, requirements = await paid(stack, pay)
    stack.transport.timeouts_left = 1  # the first body never reached the facilitator: nothing moved yet
    assert failure_of(await settle(stack, header, requirements))["code"] == "facilitator_timeout"
    payer = json.loads(base64.b64decode(header))["payload"]["authorization"]["from"]
    stack.transport.settle_answers = [_tripped_on_the_first_transfer(payer)]  # the sandbox transfers, answers this

    settled = (await settle(stack, header, requirements)).structured_content

    [tx] = [tx for tx in stack.ledgers.by_network["base-sepolia"].transactions.values() if tx.kind == "authorization"]
    assert settled["success"] is True
    assert settled["transaction"] == tx.tx_hash


@pytest.mark.x402_settings(x402_rpc_urls={"base-sepolia": "http://sandbox.test/rpc/base-sepolia"})
async def test_a_lost_settle_answer_is_found_on_chain_by_its_authorization_event_without_asking_again(
    stack: Any, pay: Callable[..., str]
) -> None:
    header, requirements = await paid(stack, pay)
    stack.transport.lost_answers_left = 1
    assert failure_of(await settle(stack, header, requirements))["code"] == "facilitator_timeout"
    settled = (await settle(stack, header, requirements)).structured_content
    [tx] = [tx for tx in stack.ledgers.by_network["base-sepolia"].transactions.values() if tx.kind == "authorization"]
    assert settled["success"] is True
    assert settled["transaction"] == tx.tx_hash
    again = (await settle(stack, header, requirements)).structured_content
    assert again["replayed"] is True
    assert len(stack.transport.posted("/facilitator/settle")) == 1, "the chain decided: nothing re-posted"


@pytest.mark.parametrize(
    ("change", "code"),
    [({"payTo": "nobody"}, "invalid_requirements"), ({"network": "eip155:1"}, "unknown_network")],
)
async def test_requirements_that_cannot_be_checked_are_failures(
    stack: Any, pay: Callable[..., str], change: dict[str, str], code: str
) -> None:
    header, requirements = await paid(stack, pay, fund=0)
    for tool in ("verify_payment", "settle_payment"):
        arguments = {"payment_header": header, "payment_requirements": {**requirements, **change}}
        failure = failure_of(await call(stack.server, tool, arguments))
        assert (failure["code"], failure["retryable"]) == (code, False)


@pytest.mark.x402_settings(x402_settle_wait_s=0.2)
async def test_a_settlement_held_by_another_caller_answers_settlement_in_progress(
    stack: Any, pay: Callable[..., str]
) -> None:
    header, requirements = await paid(stack, pay)
    payment = decode_header(header)
    assert isinstance(payment, Payment)
    key = record_key(NETWORKS["base-sepolia"], payment.authorization.from_address, payment.authorization.nonce)
    async with stack.kv.lock(key, ttl_s=30, wait_s=1):
        busy = failure_of(await settle(stack, header, requirements))
    assert (busy["code"], busy["retryable"], busy["details"]["retry_after"]) == ("settlement_in_progress", True, 5)
    assert stack.transport.posted("/facilitator/settle") == []
    assert (await settle(stack, header, requirements)).structured_content["success"] is True


async def _smart_wallet_payment(stack: Any, pay: Callable[..., str]) -> tuple[str, dict[str, Any], str]:
    made = await offer(stack)
    owner = Account.create()
    created = await stack.sandbox.post(
        "/_control/usdc/contract-wallet", json={"network": "base-sepolia", "owner": owner.address}
    )
    wallet = created.json()["address"]
    await stack.fund("base-sepolia", wallet, 100_000)
    return pay(made["payment_required_v2"], owner.key.hex(), smart_wallet=wallet), made["requirements_v2"], wallet


async def test_without_an_rpc_a_smart_wallet_signature_cannot_be_checked(stack: Any, pay: Callable[..., str]) -> None:
    header, requirements, _ = await _smart_wallet_payment(stack, pay)
    verdict = (await verify(stack, header, requirements)).structured_content
    assert (verdict["is_valid"], verdict["reason"]) == (False, "invalid_signature")


@pytest.mark.x402_settings(x402_rpc_urls={"base-sepolia": "http://sandbox.test/rpc/base-sepolia"})
async def test_with_an_rpc_an_eip1271_smart_wallet_payment_verifies_and_settles(
    stack: Any, pay: Callable[..., str]
) -> None:
    header, requirements, wallet = await _smart_wallet_payment(stack, pay)
    verdict = (await verify(stack, header, requirements)).structured_content
    assert (verdict["is_valid"], verdict["payer"]) == (True, wallet)
    settled = (await settle(stack, header, requirements)).structured_content
    assert (settled["success"], settled["payer"]) == (True, wallet)
    assert stack.ledgers.by_network["base-sepolia"].balance_of(wallet) == 70_000

    obj = json.loads(base64.b64decode(header))
    obj["payload"]["authorization"]["nonce"] = "0x" + "77" * 32
    forged = base64.b64encode(json.dumps(obj).encode()).decode()
    refused = (await verify(stack, forged, requirements)).structured_content
    assert (refused["is_valid"], refused["reason"]) == (False, "invalid_signature")


def _altered(header: str, change: Callable[[dict[str, Any]], None]) -> str:
    obj = json.loads(base64.b64decode(header))
    change(obj)
    return base64.b64encode(json.dumps(obj).encode()).decode()


@pytest.mark.parametrize(
    ("name", "change"),
    [
        ("amount", lambda obj: obj["accepted"].update(amount="1")),
        ("maxTimeoutSeconds", lambda obj: obj["accepted"].update(maxTimeoutSeconds=1)),
        ("payTo", lambda obj: obj["accepted"].update(payTo="0x" + "12" * 20)),
        ("extra", lambda obj: obj["accepted"].update(extra={"name": "USDC", "version": "1"})),
    ],
)
async def test_a_v2_payment_whose_accepted_block_is_not_the_offer_is_refused_before_settling(
    stack: Any, pay: Callable[..., str], name: str, change: Callable[[dict[str, Any]], None]
) -> None:
    header, requirements = await paid(stack, pay, version=2)
    altered = _altered(header, change)
    verdict = (await verify(stack, altered, requirements)).structured_content
    assert (verdict["is_valid"], verdict["reason"]) == (False, "accepted_mismatch")
    refused = failure_of(await settle(stack, altered, requirements))
    assert (refused["code"], refused["retryable"]) == ("accepted_mismatch", False)
    assert stack.transport.posted("/facilitator/settle") == []


@pytest.mark.parametrize("field", ["nonce", "from", "value"])
async def test_an_authorization_field_with_a_trailing_newline_is_an_invalid_payload_not_an_error(
    stack: Any, pay: Callable[..., str], field: str
) -> None:
    header, requirements = await paid(stack, pay, version=2)
    altered = _altered(
        header,
        lambda obj: obj["payload"]["authorization"].update({field: obj["payload"]["authorization"][field] + "\n"}),
    )
    verdict = (await verify(stack, altered, requirements)).structured_content
    assert (verdict["is_valid"], verdict["reason"]) == (False, "invalid_payload")
    refused = failure_of(await settle(stack, altered, requirements))
    assert (refused["code"], refused["retryable"]) == ("invalid_payload", False)
