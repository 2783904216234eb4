"""Signatures, external transactions and the pure proof check reject every single-field change."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

import pytest
from ecdsa import SECP256k1, VerifyingKey
from ecdsa.util import sigdecode_der
from hypothesis import given, settings
from hypothesis import strategies as st

from certify_circular.keys import CURVE_ORDER, InvalidKeyError, Wallet, der_to_rs, rs_to_der, verify_signature
from certify_circular.proof import verify_proof
from certify_circular.transaction import build_certificate
from certify_common.contracts.circular import CertificationProof
from certify_sandbox.nag_checks import signature_valid
from certify_testkit.mcp_calls import failure_of
from certify_testkit.plugin import forbid_in_logs

from .conftest import SERVICE_KEY, register_and_fund

CHAIN = "8a20baa40c45dc5055aeb26197c203e576ef389d9acb171bd62da11dc5ad72b2"


def test_signatures_verify_with_python_ecdsa_in_both_s_forms() -> None:
    wallet = Wallet.from_hex("42" * 32)
    signature = bytes.fromhex(wallet.sign_text("a" * 64))
    r, s = der_to_rs(signature)
    mirrored = rs_to_der(r, CURVE_ORDER - s).hex()
    key = VerifyingKey.from_string(bytes.fromhex(wallet.public_key_hex), curve=SECP256k1)
    digest = hashlib.sha256(b"a" * 64).digest()
    assert key.verify_digest(signature, digest, sigdecode=sigdecode_der)
    assert verify_signature(wallet.public_key_hex, "a" * 64, signature.hex())
    assert verify_signature(wallet.public_key_hex, "a" * 64, mirrored)
    assert not verify_signature(wallet.public_key_hex, "b" * 64, signature.hex())
    assert not verify_signature(wallet.public_key_hex, "a" * 64, "3006020101020101")


@pytest.mark.parametrize("key", ["", "12", "00" * 32, f"{CURVE_ORDER:064x}", "g" * 64])
def test_unusable_private_keys_are_refused(key: str) -> None:
    with pytest.raises(InvalidKeyError):
        Wallet.from_hex(key)


def test_the_wallet_never_shows_its_key() -> None:
    wallet = Wallet.from_hex(SERVICE_KEY)
    assert SERVICE_KEY not in repr(wallet)


async def test_the_key_is_never_logged(stand: Any) -> None:
    """The run fails at the end (certify_testkit plugin) if any captured log line holds the key."""
    forbid_in_logs("service private key", SERVICE_KEY)
    logging.getLogger("certify.test").warning("careless line quoting %s", SERVICE_KEY)  # masked by register_secret
    result = await stand.call("certify_data", {"data_hash": "0x" + "cd" * 32})
    assert not result.is_error


def _proof(stand_wallet: Wallet) -> CertificationProof:
    tx = build_certificate(stand_wallet, CHAIN, "ef" * 32, 3, "2025:05:05-05:05:05")
    return CertificationProof.model_validate(
        {
            "tx_id": tx.id,
            "block_id": "9",
            "status": "Executed",
            "timestamp": "2025-05-05T05:05:05Z",
            "data_hash": "ef" * 32,
            "network": "testnet",
            "blockchain": CHAIN,
            "explorer_url": None,
            "fees": {"total": "0", "broadcast": "0", "nag": "0", "processing": "0", "protocol": "0", "developer": "0"},
            "transaction": {
                "id": tx.id,
                "blockchain": CHAIN,
                "from_address": tx.sender,
                "to_address": tx.recipient,
                "payload": tx.payload,
                "nonce": tx.nonce,
                "timestamp": tx.timestamp,
                "type": tx.type,
                "signature": tx.signature,
                "public_key": stand_wallet.public_key_hex,
            },
        }
    )


def test_a_genuine_proof_verifies_and_any_changed_field_does_not() -> None:
    proof = _proof(Wallet.from_hex("42" * 32))
    assert verify_proof(proof) == []
    for field in ("id", "payload", "nonce", "timestamp", "signature", "public_key", "from_address"):
        value = getattr(proof.transaction, field)
        changed = value[:-1] + ("0" if value[-1] != "0" else "1")
        tampered = proof.model_copy(update={"transaction": proof.transaction.model_copy(update={field: changed})})
        assert verify_proof(tampered), field
    assert verify_proof(proof.model_copy(update={"data_hash": "00" * 32}))


async def test_an_externally_signed_transaction_is_checked_then_submitted(stand: Any) -> None:
    signer = Wallet.from_hex("2a" * 32)
    await register_and_fund(stand.sandbox, signer)
    tx = build_certificate(signer, CHAIN, "cd" * 32, 1, "2025:01:01-00:00:00")
    signed = {"from_address": signer.address, "nonce": 1, "timestamp": tx.timestamp, "signature": tx.signature}

    forged = await stand.call("certify_data", {"data_hash": "0x" + "ce" * 32, "signed_transaction": signed})
    assert failure_of(forged)["code"] == "invalid_signature"
    wrong_id = await stand.call(
        "certify_data", {"data_hash": "0x" + "cd" * 32, "signed_transaction": {**signed, "tx_id": "00" * 32}}
    )
    assert failure_of(wrong_id)["code"] == "invalid_transaction_id"

    accepted = await stand.call(
        "certify_data", {"data_hash": "0x" + "cd" * 32, "signed_transaction": {**signed, "tx_id": tx.id}}
    )
    assert accepted.structured_content["tx_id"] == tx.id


@settings(max_examples=25, deadline=None)
@given(
    secret=st.integers(min_value=1, max_value=CURVE_ORDER - 1),
    tx_id=st.text("0123456789abcdef", min_size=64, max_size=64),
)
def test_the_sandbox_python_ecdsa_and_our_coincurve_agree_on_every_signature(secret: int, tx_id: str) -> None:
    wallet = Wallet.from_hex(f"{secret:064x}")
    signature = wallet.sign_text(tx_id)
    other = tx_id[:-1] + ("0" if tx_id[-1] != "0" else "1")

    assert signature_valid(wallet.public_key_hex, tx_id, signature)
    assert verify_signature(wallet.public_key_hex, tx_id, signature)
    assert not signature_valid(wallet.public_key_hex, other, signature)
    assert not verify_signature(wallet.public_key_hex, other, signature)
