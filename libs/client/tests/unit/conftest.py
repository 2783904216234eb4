"""Proofs made by the official Circular library (its submit_certificate, driven offline), not by our code."""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable
from typing import Any

import pytest
from circular_enterprise_apis import helper
from ecdsa import SECP256k1, SigningKey

from certify_client.proof import Proof

#: The module (the package re-exports the class under the same name).
official = importlib.import_module("circular_enterprise_apis.CEP_Account")

DOCUMENT = b"%PDF-1.7 a contract worth certifying\n"  # the same bytes as the tests' DOCUMENT
PRIVATE_KEY = "5f" * 32
BLOCKCHAIN = "8a20baa40c45dc5055aeb26197c203e576ef389d9acb171bd62da11dc5ad72b2"


class _Captured:
    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body

    def raise_for_status(self) -> None:
        return None

    def json(self) -> dict[str, Any]:
        return {"Result": 200, "Response": {"TxID": self.body["ID"]}}


def official_transaction(
    data_string: str, private_key: str, nonce: int, monkeypatch: pytest.MonkeyPatch
) -> dict[str, Any]:
    """The Circular_AddTransaction_ body the official library sends for ``data_string``."""
    sent: list[dict[str, Any]] = []

    def post(url: str, json: dict[str, Any]) -> _Captured:
        sent.append(json)
        return _Captured(json)

    monkeypatch.setattr(official.requests, "post", post)
    public_key = (
        "04" + SigningKey.from_string(bytes.fromhex(private_key), curve=SECP256k1).get_verifying_key().to_string().hex()
    )
    account = official.CEP_Account()
    account.open(hashlib.sha256(public_key.encode()).hexdigest())
    account.set_blockchain(BLOCKCHAIN)
    account.Nonce = nonce
    account.submit_certificate(data_string, private_key)
    return {**sent[0], "PublicKey": public_key}


def proof_of(body: dict[str, Any], document: bytes, name: str | None = "contract.pdf") -> Proof:
    """A portable proof around an official transaction body."""
    return Proof.model_validate(
        {
            "format": "certify-proof",
            "version": 1,
            "request_id": "req-1",
            "document": {"sha256": hashlib.sha256(document).hexdigest(), "size_bytes": len(document), "name": name},
            "certification": {
                "network": "testnet",
                "blockchain": helper.hex_fix(body["Blockchain"]),
                "tx_id": body["ID"],
                "block_id": "42",
                "timestamp": "2026-11-22T03:00:00+00:00",
                "status": "Executed",
                "explorer_url": None,
            },
            "transaction": {
                key: body[key]
                for key in (
                    "ID",
                    "Blockchain",
                    "From",
                    "To",
                    "Timestamp",
                    "Payload",
                    "Nonce",
                    "Signature",
                    "Type",
                    "PublicKey",
                )
            },
        }
    )


@pytest.fixture
def make_proof(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Proof]:
    """Certify a document's SHA-256 with the official library and wrap it as a portable proof."""

    def make(document: bytes = DOCUMENT, private_key: str = PRIVATE_KEY, nonce: int = 7) -> Proof:
        body = official_transaction(hashlib.sha256(document).hexdigest(), private_key, nonce, monkeypatch)
        return proof_of(body, document)

    return make
