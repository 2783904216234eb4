"""The independent verifier accepts proofs made by the official Circular library and rejects every tampering."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from certify_client.proof import Proof
from certify_client.transaction import address_of, signature_valid, transaction_id
from certify_client.verify import offline_checks, verify_proof
from certify_testkit.paths import vectors

DOCUMENT = b"%PDF-1.7 a contract worth certifying\n"
SHA = hashlib.sha256(DOCUMENT).hexdigest()


def _failed(proof: Proof, sha: str = SHA, size: int | None = len(DOCUMENT)) -> set[str]:
    return {check.name for check in offline_checks(proof, sha, size) if not check.ok}


def _altered(proof: Proof, **transaction: str) -> Proof:
    data = proof.model_dump(by_alias=True)
    data["transaction"].update(transaction)
    return Proof.model_validate(data)


async def test_a_proof_made_by_the_official_library_verifies_offline(make_proof: Callable[..., Proof]) -> None:
    verdict = await verify_proof(make_proof(), SHA, size_bytes=len(DOCUMENT))
    assert verdict.valid, verdict.reasons
    assert verdict.offline
    assert [c.name for c in verdict.checks] == ["document", "payload", "id", "signature", "address", "blockchain"]


def test_an_altered_file_is_rejected(make_proof: Callable[..., Proof]) -> None:
    other = hashlib.sha256(DOCUMENT + b" ").hexdigest()
    assert _failed(make_proof(), other, len(DOCUMENT) + 1) == {"document"}


def test_an_altered_signature_is_rejected(make_proof: Callable[..., Proof]) -> None:
    proof = make_proof()
    signature = proof.transaction.signature
    flipped = signature[:-2] + format(int(signature[-2:], 16) ^ 0x01, "02x")
    assert _failed(_altered(proof, Signature=flipped)) == {"signature"}


def test_a_signature_by_another_key_is_rejected(make_proof: Callable[..., Proof]) -> None:
    proof, other = make_proof(), make_proof(private_key="6a" * 32)
    assert _failed(_altered(proof, Signature=other.transaction.signature)) == {"signature"}


def test_an_altered_id_is_rejected(make_proof: Callable[..., Proof]) -> None:
    proof = make_proof()
    assert "id" in _failed(_altered(proof, ID="0" * 64))


def test_an_altered_signed_field_breaks_the_id(make_proof: Callable[..., Proof]) -> None:
    proof = make_proof()
    assert _failed(_altered(proof, Nonce=str(int(proof.transaction.nonce) + 1))) == {"id"}


def test_an_altered_address_is_rejected(make_proof: Callable[..., Proof]) -> None:
    proof = make_proof()
    stranger = hashlib.sha256(b"someone else").hexdigest()
    # From and To changed together and the ID recomputed: only the key-to-address link can catch it.
    tx = proof.transaction
    new_id = transaction_id(tx.blockchain, stranger, stranger, tx.payload, tx.nonce, tx.timestamp)
    assert "address" in _failed(_altered(proof, From=stranger, To=stranger, ID=new_id))


def test_a_public_key_swapped_with_its_address_is_still_caught_by_the_signature(
    make_proof: Callable[..., Proof],
) -> None:
    proof, other = make_proof(), make_proof(private_key="6a" * 32)
    assert "signature" in _failed(_altered(proof, PublicKey=other.transaction.public_key))


def test_a_payload_certifying_another_hash_is_rejected(make_proof: Callable[..., Proof]) -> None:
    data = make_proof(document=b"another document").model_dump(by_alias=True)
    data["document"]["sha256"] = SHA
    assert _failed(Proof.model_validate(data), SHA, None) == {"payload"}


@pytest.mark.parametrize("vector", vectors("circular_vectors")["vectors"], ids=lambda v: v["name"])
def test_every_official_vector_verifies_including_high_s_signatures(vector: dict[str, Any]) -> None:
    tx, keys = vector["transaction"], vector["keys"]
    assert signature_valid(keys["public_key_uncompressed_hex"], tx["tx_id"], tx["signature_der_hex"])
    assert address_of(keys["public_key_uncompressed_hex"]) == keys["address"]
    body = vector["add_transaction_request"]["json_body"]
    assert (
        transaction_id(body["Blockchain"], body["From"], body["To"], body["Payload"], body["Nonce"], body["Timestamp"])
        == tx["tx_id"]
    )


def _nag(proof: Proof, *, status: str = "Executed", public_key: str | None = None) -> httpx.MockTransport:
    wire = proof.transaction.model_dump(by_alias=True)
    record = {**{k: wire[k] for k in ("ID", "From", "To", "Timestamp", "Payload", "Nonce", "Type")}}
    record.update(OSignature=wire["Signature"], Status=status, BlockID=proof.certification.block_id)

    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        assert body["Version"] == "1.0.13"
        if request.url.params["cep"] == "Circular_GetTransactionbyID_":
            assert body["ID"] == proof.transaction.id
            return httpx.Response(200, json={"Result": 200, "Response": record, "Node": "0" * 64})
        assert request.url.params["cep"] == "Circular_GetWallet_"
        key = public_key or proof.transaction.public_key
        return httpx.Response(
            200, json={"Result": 200, "Response": {"Address": body["Address"], "PublicKey": key.upper()}}
        )

    return httpx.MockTransport(handle)


async def _online(proof: Proof, transport: httpx.MockTransport) -> set[str]:
    async with httpx.AsyncClient(transport=transport) as http:
        verdict = await verify_proof(proof, SHA, nag_url="http://nag.test/NAG.php?cep=", http=http)
    assert not verdict.offline
    return {check.name for check in verdict.checks if not check.ok}


async def test_online_verification_reads_the_transaction_and_the_wallet(make_proof: Callable[..., Proof]) -> None:
    proof = make_proof()
    assert await _online(proof, _nag(proof)) == set()


async def test_online_verification_rejects_a_pending_transaction_and_a_foreign_key(
    make_proof: Callable[..., Proof],
) -> None:
    proof, other = make_proof(), make_proof(private_key="6a" * 32)
    assert await _online(proof, _nag(proof, status="Pending")) == {"executed"}
    assert await _online(proof, _nag(proof, public_key=other.transaction.public_key)) == {"wallet"}
