"""The sandbox NAG speaks the real URL form, envelopes and result codes (in process)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from certify_sandbox.app import create_app
from certify_sandbox.nag_ledger import NODE_ID

from .test_nag_support import CHAIN, EcdsaWallet, retyped

BASE = "/nag/NAG.php?cep="


@pytest.fixture
def nag() -> Iterator[TestClient]:
    with TestClient(create_app()) as client:
        yield client


def call(client: TestClient, name: str, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post(BASE + name, json=body)
    assert response.status_code == 200
    answer = json.loads(response.text, parse_float=Decimal)  # money stays exact
    assert set(answer) == {"Result", "Response", "Node"}
    assert answer["Node"] == NODE_ID
    return answer


def registered(client: TestClient, secret: int = 7, fund: str | None = "100") -> EcdsaWallet:
    wallet = EcdsaWallet.of(secret)
    assert call(client, "Circular_AddTransaction_", wallet.registration())["Result"] == 200
    if fund is not None:
        client.post("/_control/nag/fund", json={"address": wallet.address, "amount": fund}).raise_for_status()
    return wallet


def test_unknown_wallets_get_108_and_missing_addresses_118(nag: TestClient) -> None:
    body = {"Blockchain": CHAIN, "Address": "ab" * 32, "Version": "1.0.13"}
    for name in ("Circular_GetWalletNonce_", "Circular_CheckWallet_", "Circular_GetWallet_"):
        assert call(nag, name, body) == {"Result": 108, "Response": "Wallet Not found", "Node": NODE_ID}
    assert (
        call(nag, "Circular_CheckWallet_", {"Blockchain": CHAIN, "Version": "1.0.13"})["Response"] == "Missing Address"
    )


def test_registration_creates_a_wallet_with_its_public_key_and_nonce_zero(nag: TestClient) -> None:
    wallet = registered(nag)
    body = {"Blockchain": "0x" + CHAIN, "Address": "0x" + wallet.address, "Version": "1.0.13"}
    assert call(nag, "Circular_CheckWallet_", body)["Response"] == "Success"
    assert call(nag, "Circular_GetWalletNonce_", body)["Response"] == {"Nonce": 0}
    info = call(nag, "Circular_GetWallet_", body)["Response"]
    assert (info["Address"], info["PublicKey"], info["Nonce"]) == (wallet.address, wallet.public_key, 0)
    again = call(nag, "Circular_AddTransaction_", wallet.registration())
    assert again["Result"] != 200


def test_a_certificate_is_accepted_charged_and_advances_the_nonce(nag: TestClient) -> None:
    wallet = registered(nag)
    tx = wallet.certificate("ab" * 32, 1)
    answer = call(nag, "Circular_AddTransaction_", tx)
    assert answer["Result"] == 200
    assert answer["Response"]["TxID"] == tx["ID"]
    body = {"Blockchain": CHAIN, "Address": wallet.address, "Version": "1.0.13"}
    assert call(nag, "Circular_GetWalletNonce_", body)["Response"] == {"Nonce": 1}
    balance = nag.post(BASE + "Circular_GetWalletBalance_", json={**body, "Asset": "CIRX"})
    assert '"Balance": 96' in balance.text  # an exact JSON number, not a string
    record = call(nag, "Circular_GetTransactionbyID_", {"Blockchain": CHAIN, "ID": tx["ID"], "Start": "0", "End": "10"})
    assert record["Response"]["Status"] == "Pending"
    assert record["Response"]["OSignature"] == tx["Signature"]
    assert (
        sum(record["Response"][f] for f in ("BroadcastFee", "NagFee", "ProcessingFee", "ProtocolFee", "DeveloperFee"))
        == 4
    )


@pytest.mark.parametrize(
    ("field", "code"),
    [("ID", 117), ("Signature", 119), ("Payload", 117), ("Nonce", 121)],
)
def test_one_changed_byte_is_refused_with_the_documented_code(nag: TestClient, field: str, code: int) -> None:
    wallet = registered(nag)
    tx = wallet.certificate("ab" * 32, 1)
    index = 0 if field == "Nonce" else 40

    answer = call(nag, "Circular_AddTransaction_", retyped(tx, field, index))

    assert answer["Result"] == code
    assert call(nag, "Circular_AddTransaction_", tx)["Result"] == 200  # nothing was consumed by the refusal


def test_nonces_must_follow_the_wallet_nonce(nag: TestClient) -> None:
    wallet = registered(nag)
    assert call(nag, "Circular_AddTransaction_", wallet.certificate("a", 2))["Result"] == 121
    assert call(nag, "Circular_AddTransaction_", wallet.certificate("a", 1))["Result"] == 200
    assert call(nag, "Circular_AddTransaction_", wallet.certificate("b", 1))["Result"] == 121


def test_an_unregistered_sender_and_an_unfunded_wallet_are_refused(nag: TestClient) -> None:
    stranger = EcdsaWallet.of(99)
    assert call(nag, "Circular_AddTransaction_", stranger.certificate("a", 1))["Result"] == 108
    poor = registered(nag, secret=8, fund=None)
    assert call(nag, "Circular_AddTransaction_", poor.certificate("a", 1))["Result"] == 120


def test_malformed_bodies_are_wrong_format(nag: TestClient) -> None:
    assert nag.post(BASE + "Circular_AddTransaction_", content=b"not json").json()["Result"] == 118
    assert call(nag, "Circular_AddTransaction_", {"ID": "x"})["Result"] == 118
    assert nag.post(BASE + "Circular_NoSuchCall_", json={}).status_code == 404


def test_blockchains_are_listed(nag: TestClient) -> None:
    chains = call(nag, "Circular_GetBlockchains_", {})["Response"]["Blockchains"]
    assert {"Address": CHAIN, "Name": "Circular SandBox"} in chains


def test_unknown_transactions_are_not_found(nag: TestClient) -> None:
    answer = call(
        nag, "Circular_GetTransactionbyID_", {"Blockchain": CHAIN, "ID": "cd" * 32, "Start": "0", "End": "10"}
    )
    assert answer["Result"] == 200
    assert answer["Response"] == "Transaction Not Found"


def test_injected_5xx_and_call_counts(nag: TestClient) -> None:
    nag.put("/_control/faults/nag", json={"fail_next": 1, "fail_status": 503}).raise_for_status()
    body = {"Blockchain": CHAIN, "Address": "ab" * 32}
    assert nag.post(BASE + "Circular_CheckWallet_", json=body).status_code == 503
    assert nag.post(BASE + "Circular_CheckWallet_", json=body).status_code == 200
    assert nag.get("/_control/calls").json()["nag.Circular_CheckWallet_"] == 2


def test_network_discovery_answers_the_sandbox_base(nag: TestClient) -> None:
    assert nag.get("/network/getNAG", params={"network": "testnet"}).json() == {
        "status": "success",
        "url": "http://testserver/nag/NAG.php?cep=",
    }
    assert nag.get("/network/getNAG", params={"network": "nowhere"}).json()["status"] == "error"


def test_a_wallet_balance_can_be_set_outright_to_drain_it_and_unknown_wallets_are_404(nag: TestClient) -> None:
    wallet = registered(nag, fund="500")
    drained = nag.put("/_control/nag/balance", json={"address": wallet.address, "balance": "3.5"})
    assert drained.json() == {"address": wallet.address, "asset": "CIRX", "balance": "3.5"}
    body = {"Blockchain": CHAIN, "Address": wallet.address, "Version": "1.0.13", "Asset": "CIRX"}
    assert '"Balance": 3.5' in nag.post(BASE + "Circular_GetWalletBalance_", json=body).text
    unknown = nag.put("/_control/nag/balance", json={"address": "cd" * 32, "balance": "1"})
    assert unknown.status_code == 404
