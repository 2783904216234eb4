"""A settlement whose answer was lost is resolved from the chain (authorizationState, the authorization's
events and the transfer's receipt), never from the local clock and never in the payer's disfavour."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import pytest
from eth_account import Account

from certify_common import eip3009
from certify_common.evm import NETWORKS
from certify_sandbox.usdc_ledger import TransferAuthorization
from certify_testkit.mcp_calls import call, failure_of
from certify_x402.records import record_key

RPC = {"x402_rpc_urls": {"base-sepolia": "http://sandbox.test/rpc/base-sepolia"}}
NETWORK = NETWORKS["base-sepolia"]
PAY_TO = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"


async def _offer(stack: Any) -> dict[str, Any]:
    arguments = {"network": "base-sepolia", "amount_usdc": "0.03", "resource": "https://certify.test/v1/certify/r"}
    return (await call(stack.server, "create_payment_requirement", arguments)).structured_content  # type: ignore[no-any-return]


def _sign(key: str, *, to: str, value: int, valid_before: int, nonce: str) -> tuple[dict[str, str], str]:
    account = Account.from_key(key)
    message = {
        "from": account.address,
        "to": to,
        "value": str(value),
        "validAfter": str(int(time.time()) - 60),
        "validBefore": str(valid_before),
        "nonce": nonce,
    }
    typed = eip3009.typed_data(
        name=NETWORK.eip712_name,
        version=NETWORK.eip712_version,
        chain_id=NETWORK.chain_id,
        verifying_contract=NETWORK.usdc_address,
        from_address=account.address,
        to=to,
        value=value,
        valid_after=int(message["validAfter"]),
        valid_before=valid_before,
        nonce=nonce,
    )
    signature = Account.sign_typed_data(key, full_message=typed).signature.hex()
    return message, "0x" + signature.removeprefix("0x")


async def _payment(stack: Any, *, valid_before: int) -> tuple[str, dict[str, Any], str, dict[str, str]]:
    """A funded payer's v2 header with a chosen validBefore: (header, requirements, key, authorization)."""
    offer = await _offer(stack)
    key = Account.create().key.hex()
    await stack.fund("base-sepolia", Account.from_key(key).address, 10**9)
    nonce = "0x" + Account.create().key.hex().removeprefix("0x")
    auth, signature = _sign(key, to=PAY_TO, value=30000, valid_before=valid_before, nonce=nonce)
    payload = {
        "x402Version": 2,
        "accepted": offer["requirements_v2"],
        "payload": {"authorization": auth, "signature": signature},
    }
    return base64.b64encode(json.dumps(payload).encode()).decode(), offer["requirements_v2"], key, auth


async def _facilitator_fails_next_settle(stack: Any) -> None:
    """The next /settle fails before acting (503): x402 cannot tell that nothing moved."""
    plan = {"fail_next": 1, "fail_status": 503, "only_endpoint": "settle"}
    assert (await stack.sandbox.put("/_control/faults/facilitator", json=plan)).status_code == 200


async def _settle(stack: Any, header: str, requirements: dict[str, Any]) -> Any:
    return await call(stack.server, "settle_payment", {"payment_header": header, "payment_requirements": requirements})


@pytest.mark.x402_settings(**RPC)
async def test_an_unknown_settlement_of_an_authorization_that_expired_unused_on_chain_is_definitely_failed(
    stack: Any,
) -> None:
    valid_before = int(time.time()) + 120
    header, requirements, _key, auth = await _payment(stack, valid_before=valid_before)
    await _facilitator_fails_next_settle(stack)
    assert failure_of(await _settle(stack, header, requirements))["code"] == "facilitator_unavailable"
    ledger = stack.ledgers.by_network["base-sepolia"]

    # Not expired on chain yet (whatever the local clock says): still unknown, so the facilitator is asked again.
    await _facilitator_fails_next_settle(stack)
    assert failure_of(await _settle(stack, header, requirements))["code"] == "facilitator_unavailable"

    ledger.clock = lambda: valid_before  # a block at validBefore is finalized: no later block can use it
    expired = failure_of(await _settle(stack, header, requirements))
    assert (expired["code"], expired["retryable"]) == ("expired", False)
    assert expired["details"]["charged"] is False
    again = failure_of(await _settle(stack, header, requirements))
    assert (again["code"], again["details"]["replayed"]) == ("expired", True)
    assert len(stack.transport.posted("/facilitator/settle")) == 2
    assert stack.ledgers.authorization_transfers() == 0
    assert ledger.authorization_state(auth["from"], auth["nonce"]) is False


@pytest.mark.x402_settings(**RPC)
async def test_a_block_just_before_valid_before_leaves_the_settlement_unknown(stack: Any) -> None:
    valid_before = int(time.time()) + 120
    header, requirements, _key, _auth = await _payment(stack, valid_before=valid_before)
    await _facilitator_fails_next_settle(stack)
    assert failure_of(await _settle(stack, header, requirements))["code"] == "facilitator_unavailable"
    stack.ledgers.by_network["base-sepolia"].clock = lambda: valid_before - 1
    await _facilitator_fails_next_settle(stack)
    unknown = failure_of(await _settle(stack, header, requirements))
    assert (unknown["code"], unknown["retryable"]) == ("facilitator_unavailable", True)
    settled = (await _settle(stack, header, requirements)).structured_content
    assert settled["success"] is True
    assert stack.ledgers.authorization_transfers() == 1


@pytest.mark.x402_settings(**RPC)
async def test_a_nonce_spent_by_another_authorization_of_the_payer_is_never_taken_for_our_payment(
    stack: Any,
) -> None:
    valid_before = int(time.time()) + 240
    header, requirements, key, auth = await _payment(stack, valid_before=valid_before)
    await _facilitator_fails_next_settle(stack)
    assert failure_of(await _settle(stack, header, requirements))["code"] == "facilitator_unavailable"
    # Meanwhile the payer spends the same nonce on a transfer to someone else.
    elsewhere, signature = _sign(
        key, to=Account.create().address, value=1, valid_before=valid_before, nonce=auth["nonce"]
    )
    ledger = stack.ledgers.by_network["base-sepolia"]
    ledger.transfer_with_authorization(
        TransferAuthorization(
            elsewhere["from"], elsewhere["to"], 1, int(elsewhere["validAfter"]), valid_before, elsewhere["nonce"]
        ),
        signature,
        int(time.time()),
    )
    refused = failure_of(await _settle(stack, header, requirements))
    assert (refused["code"], refused["retryable"], refused["details"]["charged"]) == (
        "nonce_already_used",
        False,
        False,
    )
    assert ledger.balance_of(PAY_TO) == 0


@pytest.mark.x402_settings(**RPC)
async def test_with_the_rpc_down_an_unknown_settlement_stays_retryable_and_resolves_once_it_answers(
    stack: Any,
) -> None:
    header, requirements, _key, _auth = await _payment(stack, valid_before=int(time.time()) + 240)
    stack.transport.lost_answers_left = 1  # the money moves, the answer is lost
    assert failure_of(await _settle(stack, header, requirements))["code"] == "facilitator_timeout"
    plan = {"fail_next": 100, "fail_status": 503}
    assert (await stack.sandbox.put("/_control/faults/evm_rpc", json=plan)).status_code == 200
    unknown = failure_of(await _settle(stack, header, requirements))
    assert (unknown["code"], unknown["retryable"]) == ("rpc_unavailable", True)
    assert (await stack.sandbox.delete("/_control/faults/evm_rpc")).status_code == 200
    settled = (await _settle(stack, header, requirements)).structured_content
    [tx] = [tx for tx in stack.ledgers.by_network["base-sepolia"].transactions.values() if tx.kind == "authorization"]
    assert (settled["success"], settled["transaction"]) == (True, tx.tx_hash)
    assert stack.ledgers.authorization_transfers() == 1


async def test_the_signed_payload_kept_for_reconciliation_is_dropped_once_the_settlement_concludes(stack: Any) -> None:
    header, requirements, _key, auth = await _payment(stack, valid_before=int(time.time()) + 240)
    await _facilitator_fails_next_settle(stack)
    assert failure_of(await _settle(stack, header, requirements))["code"] == "facilitator_unavailable"
    signature = json.loads(base64.b64decode(header))["payload"]["signature"]
    key = record_key(NETWORK, auth["from"], auth["nonce"])
    assert signature in (await stack.kv.get(key) or ""), "kept while the outcome is unknown"
    assert (await _settle(stack, header, requirements)).structured_content["success"] is True
    kept = await stack.kv.get(key)
    assert kept is not None
    assert signature not in kept
    assert "paymentPayload" not in json.loads(kept)["body"]
    assert (await _settle(stack, header, requirements)).structured_content["replayed"] is True


@pytest.mark.x402_settings(**RPC)
async def test_a_paid_authorization_whose_record_was_lost_is_found_on_chain_even_after_it_expired(
    stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    valid_before = int(time.time()) + 120
    header, requirements, _key, auth = await _payment(stack, valid_before=valid_before)
    stack.transport.lost_answers_left = 1  # the money moves, the answer is lost
    assert failure_of(await _settle(stack, header, requirements))["code"] == "facilitator_timeout"
    await stack.kv.delete(record_key(NETWORK, auth["from"], auth["nonce"]))  # and so is this service's record
    later = float(valid_before + 30)
    monkeypatch.setattr(time, "time", lambda: later)
    settled = (await _settle(stack, header, requirements)).structured_content
    [tx] = [tx for tx in stack.ledgers.by_network["base-sepolia"].transactions.values() if tx.kind == "authorization"]
    assert (settled["success"], settled["transaction"]) == (True, tx.tx_hash)
    assert len(stack.transport.posted("/facilitator/settle")) == 1


@pytest.mark.x402_settings(**RPC)
async def test_an_expired_authorization_never_used_and_unknown_here_is_refused_only_once_the_chain_is_past_it(
    stack: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    valid_before = int(time.time()) + 120
    header, requirements, _key, _auth = await _payment(stack, valid_before=valid_before)
    monkeypatch.setattr(time, "time", lambda: float(valid_before + 30))  # this service's clock
    assert failure_of(await _settle(stack, header, requirements))["code"] == "settlement_unconfirmed"
    stack.ledgers.by_network["base-sepolia"].clock = lambda: valid_before  # the chain's
    refused = failure_of(await _settle(stack, header, requirements))
    assert (refused["code"], refused["retryable"], refused["details"]["charged"]) == ("expired", False, False)
    assert stack.transport.posted("/facilitator/settle") == []


@pytest.mark.x402_settings(**RPC)
async def test_an_authorization_the_payer_cancelled_on_chain_is_definitely_not_paid(stack: Any) -> None:
    header, requirements, _key, auth = await _payment(stack, valid_before=int(time.time()) + 240)
    await _facilitator_fails_next_settle(stack)
    assert failure_of(await _settle(stack, header, requirements))["code"] == "facilitator_unavailable"
    stack.ledgers.by_network["base-sepolia"].cancel_authorization(auth["from"], auth["nonce"])
    refused = failure_of(await _settle(stack, header, requirements))
    assert (refused["code"], refused["retryable"], refused["details"]["charged"]) == (
        "authorization_canceled",
        False,
        False,
    )
    assert stack.ledgers.authorization_transfers() == 0
