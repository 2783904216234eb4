"""The sandbox facilitator, driven by the official x402 SDK: its client signs, its facilitator client calls."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from eth_account import Account
from x402 import x402ClientSync
from x402.http import FacilitatorConfig, HTTPFacilitatorClient
from x402.mechanisms.evm.exact.register import register_exact_evm_client
from x402.mechanisms.evm.signers import EthAccountSigner
from x402.schemas import PaymentPayload, PaymentRequired, SupportedResponse

from certify_sandbox.app import create_app
from certify_sandbox.settings import SandboxSettings

BASE = "http://sandbox.test"
PAY_TO = "0x209693Bc6afc0C5328bA36FaF03C514EF312287C"
USDC_BASE_SEPOLIA = "0x036CbD53842c5426634e7929541eC2318f3dCF7e"


def payment_required(amount: str = "30000", name: str = "USDC") -> PaymentRequired:
    return PaymentRequired.model_validate(
        {
            "x402Version": 2,
            "resource": {"url": "https://certify.test/r/1"},
            "accepts": [
                {
                    "scheme": "exact",
                    "network": "eip155:84532",
                    "asset": USDC_BASE_SEPOLIA,
                    "amount": amount,
                    "payTo": PAY_TO,
                    "maxTimeoutSeconds": 300,
                    "extra": {"name": name, "version": "2"},
                }
            ],
        }
    )


def sign(required: PaymentRequired, account: Any) -> PaymentPayload:
    client = x402ClientSync()
    register_exact_evm_client(client, EthAccountSigner(account))
    return client.create_payment_payload(required)  # type: ignore[return-value]


class Sandbox:
    def __init__(self, http: httpx.AsyncClient, sdk: HTTPFacilitatorClient) -> None:
        self.http = http
        self.sdk = sdk

    async def fund(self, address: str, amount: int) -> dict[str, Any]:
        answer = await self.http.post(
            "/faucet/usdc", json={"network": "base-sepolia", "address": address, "amount_atomic": amount}
        )
        assert answer.status_code == 200, answer.text
        return answer.json()  # type: ignore[no-any-return]

    async def stats(self) -> dict[str, Any]:
        return (await self.http.get("/_control/usdc/stats")).json()  # type: ignore[no-any-return]


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    app = create_app(SandboxSettings())
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        sdk = HTTPFacilitatorClient(FacilitatorConfig(url=f"{BASE}/facilitator", http_client=http))
        yield Sandbox(http, sdk)


async def test_the_sdk_client_gets_valid_then_a_settlement_then_a_replay_reason(sandbox: Sandbox) -> None:
    account = Account.create()
    await sandbox.fund(account.address, 100_000)
    required = payment_required()
    payload = sign(required, account)

    verified = await sandbox.sdk.verify(payload, required.accepts[0])
    assert (verified.is_valid, verified.payer) == (True, account.address)

    settled = await sandbox.sdk.settle(payload, required.accepts[0])
    assert settled.success is True
    assert settled.network == "eip155:84532"
    assert settled.payer == account.address
    assert settled.transaction.startswith("0x")
    assert len(settled.transaction) == 66

    replay = await sandbox.sdk.settle(payload, required.accepts[0])
    assert (replay.success, replay.error_reason, replay.transaction) == (
        False,
        "invalid_exact_evm_nonce_already_used",
        "",
    )
    again = await sandbox.sdk.verify(payload, required.accepts[0])
    assert (again.is_valid, again.invalid_reason) == (False, "invalid_exact_evm_nonce_already_used")
    stats = await sandbox.stats()
    assert (stats["authorization_transfers"], stats["settle_calls"], stats["verify_calls"]) == (1, 2, 2)


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda req: req.update(amount="30001"), "invalid_exact_evm_payload_authorization_value_mismatch"),
        (lambda req: req.update(payTo="0x" + "11" * 20), "invalid_exact_evm_payload_recipient_mismatch"),
        (lambda req: req.update(network="eip155:8453"), "network_mismatch"),
        (lambda req: req.update(extra={}), "missing_eip712_domain"),
    ],
)
async def test_requirement_mismatches_get_the_sdk_reasons(sandbox: Sandbox, mutate: Any, reason: str) -> None:
    account = Account.create()
    await sandbox.fund(account.address, 100_000)
    required = payment_required()
    payload = sign(required, account)
    requirements = required.accepts[0].model_dump(by_alias=True, exclude_none=True)
    mutate(requirements)
    answer = await sandbox.http.post(
        "/facilitator/verify",
        json={
            "x402Version": 2,
            "paymentPayload": payload.model_dump(by_alias=True),
            "paymentRequirements": requirements,
        },
    )
    assert answer.json() == {"isValid": False, "invalidReason": reason, "payer": account.address}


async def test_a_signature_for_the_wrong_domain_and_an_unfunded_payer_are_refused(sandbox: Sandbox) -> None:
    account = Account.create()
    wrong_domain = payment_required(name="USD Coin")
    payload = sign(wrong_domain, account)
    correct = payment_required().accepts[0]
    assert (await sandbox.sdk.verify(payload, correct)).invalid_reason == "invalid_exact_evm_payload_signature"

    required = payment_required()
    unfunded = sign(required, account)
    settled = await sandbox.sdk.settle(unfunded, required.accepts[0])
    assert (settled.success, settled.error_reason) == (False, "invalid_exact_evm_insufficient_balance")
    assert (await sandbox.stats())["authorization_transfers"] == 0


async def test_settlement_pending_broadcasts_once_and_the_same_payload_reconciles(sandbox: Sandbox) -> None:
    account = Account.create()
    await sandbox.fund(account.address, 100_000)
    required = payment_required()
    payload = sign(required, account)
    await sandbox.http.put("/_control/usdc/settlement-pending", json={"enabled": True})

    pending = await sandbox.sdk.settle(payload, required.accepts[0])
    assert (pending.success, pending.error_reason) == (False, "settlement_pending")
    assert pending.transaction.startswith("0x")
    reconciled = await sandbox.sdk.settle(payload, required.accepts[0])
    assert (reconciled.success, reconciled.transaction) == (True, pending.transaction)
    stats = await sandbox.stats()
    assert (stats["authorization_transfers"], stats["reconciled"], stats["pending"]) == (1, 1, 0)


async def test_supported_lists_every_network_in_both_versions(sandbox: Sandbox) -> None:
    supported = SupportedResponse.model_validate((await sandbox.http.get("/facilitator/supported")).json())
    kinds = {(kind.x402_version, kind.network) for kind in supported.kinds}
    assert {(2, "eip155:8453"), (2, "eip155:84532"), (2, "eip155:42161"), (2, "eip155:421614")} <= kinds
    assert {(1, "base"), (1, "base-sepolia")} <= kinds
    assert supported.signers["eip155:*"]


async def test_injected_faults_answer_the_planned_status(sandbox: Sandbox) -> None:
    await sandbox.http.put("/_control/faults/facilitator", json={"fail_next": 1, "fail_status": 503})
    required = payment_required()
    payload = sign(required, Account.create())
    with pytest.raises(ValueError, match="503"):
        await sandbox.sdk.settle(payload, required.accepts[0])
    assert (await sandbox.stats())["settle_calls"] == 1


async def test_a_held_answer_is_lost_by_a_client_that_gives_up_but_the_transfer_happened(sandbox: Sandbox) -> None:
    account = Account.create()
    await sandbox.fund(account.address, 100_000)
    required = payment_required()
    plan = {"answer_delay_s": 60, "only_endpoint": "settle"}
    assert (await sandbox.http.put("/_control/faults/facilitator", json=plan)).status_code == 200
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(sandbox.sdk.settle(sign(required, account), required.accepts[0]), 0.5)
    assert (await sandbox.stats())["authorization_transfers"] == 1


async def test_the_faucet_credits_and_refuses_unknown_networks(sandbox: Sandbox) -> None:
    address = Account.create().address
    first = await sandbox.fund(address, 5)
    second = await sandbox.fund(address, 7)
    assert (first["balance_atomic"], second["balance_atomic"]) == ("5", "12")
    assert first["transaction"] != second["transaction"]
    answer = await sandbox.http.post("/faucet/usdc", json={"network": "solana", "address": address, "amount_atomic": 1})
    assert answer.status_code == 404
