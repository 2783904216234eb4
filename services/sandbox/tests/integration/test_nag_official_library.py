"""The official Circular library (``circular-enterprise-apis``) certifies against the sandbox NAG process."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator

import httpx
import pytest
from circular_enterprise_apis import CEP_Account
from ecdsa import SECP256k1, SigningKey

from certify_testkit.processes import ServiceProcess

pytestmark = pytest.mark.e2e

CHAIN = "8a20baa40c45dc5055aeb26197c203e576ef389d9acb171bd62da11dc5ad72b2"
KEY_HEX = "3c" * 32


@pytest.fixture(scope="module")
def sandbox() -> Iterator[ServiceProcess]:
    with ServiceProcess("certify_sandbox") as process:
        yield process


def register(url: str, key_hex: str) -> str:
    """Register and fund the wallet (the official library has no registration call) and return its address."""
    public_key = (
        "04" + SigningKey.from_string(bytes.fromhex(key_hex), curve=SECP256k1).get_verifying_key().to_string().hex()
    )
    address = hashlib.sha256(public_key.encode()).hexdigest()
    payload = json.dumps({"Action": "CP_REGISTERWALLET", "PublicKey": public_key}).encode().hex()
    stamp = "2025:01:01-00:00:00"
    tx_id = hashlib.sha256((CHAIN + address + address + payload + "0" + stamp).encode()).hexdigest()
    body = {
        "ID": tx_id,
        "From": address,
        "To": address,
        "Timestamp": stamp,
        "Payload": payload,
        "Nonce": "0",
        "Signature": "",
        "Blockchain": CHAIN,
        "Type": "C_TYPE_REGISTERWALLET",
        "Version": "1.0.13",
    }
    answer = httpx.post(f"{url}/nag/NAG.php?cep=Circular_AddTransaction_", json=body, timeout=5).json()
    assert answer["Result"] == 200, answer
    httpx.post(f"{url}/_control/nag/fund", json={"address": address, "amount": "50"}, timeout=5).raise_for_status()
    return address


def test_the_official_cep_account_certifies_end_to_end(sandbox: ServiceProcess) -> None:
    httpx.post(f"{sandbox.url}/_control/nag/reset", timeout=5).raise_for_status()
    httpx.put(
        f"{sandbox.url}/_control/nag/plan", json={"pending_s": 0.1, "verified_s": 0.1}, timeout=5
    ).raise_for_status()
    address = register(sandbox.url, KEY_HEX)
    account = CEP_Account()
    account.NAG_URL = f"{sandbox.url}/nag/NAG.php?cep="
    assert account.open(address)
    account.set_blockchain(CHAIN)

    assert account.update_account(), account.lastError
    assert account.Nonce == 1
    submitted = account.submit_certificate("71d119a4a0588ee21146615644b98a49f4a7ea4ee21e18f286788317f13d596f", KEY_HEX)
    assert submitted["Result"] == 200, submitted
    tx_id = submitted["Response"]["TxID"]
    outcome = account.get_transaction_outcome(tx_id, 10, 0.05)
    assert outcome["Response"]["Status"] in ("Verified", "Executed")

    record = account.get_transaction_by_id(tx_id, 0, 10)["Response"]
    assert record["Type"] == "C_TYPE_CERTIFICATE"
    assert record["Nonce"] == "1"
    assert account.update_account()
    assert account.Nonce == 2


def test_an_answer_dropped_after_acceptance_closes_the_connection_but_keeps_the_transaction(
    sandbox: ServiceProcess,
) -> None:
    httpx.post(f"{sandbox.url}/_control/nag/reset", timeout=5).raise_for_status()
    address = register(sandbox.url, "4d" * 32)
    httpx.put(f"{sandbox.url}/_control/nag/plan", json={"drop_after_accept_next": 1}, timeout=5).raise_for_status()
    account = CEP_Account()
    account.NAG_URL = f"{sandbox.url}/nag/NAG.php?cep="
    account.open(address)
    account.set_blockchain(CHAIN)
    assert account.update_account()

    # requests' ConnectionError / ChunkedEncodingError (both OSError subclasses): the answer is lost.
    with pytest.raises(OSError, match=r"(?i)connection|chunk|closed|aborted"):
        account.submit_certificate("ab" * 32, "4d" * 32)

    rows = httpx.get(f"{sandbox.url}/_control/nag/transactions", params={"address": address}, timeout=5).json()
    assert [row["nonce"] for row in rows] == ["0", "1"]
    assert httpx.get(f"{sandbox.url}/_control/calls", timeout=5).json()["nag.Circular_AddTransaction_"] == 2
