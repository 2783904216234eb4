"""Contract-complete tool answers for tests that script an MCP server (built from the contract models, so a
scripted answer can never be one the real server would not give)."""

from __future__ import annotations

from typing import Any

from certify_common.contracts.circular import (
    CertificationProof,
    Fees,
    ProofTransaction,
    Submitted,
    TransactionStatus,
)

BLOCKCHAIN = "8a20baa40c45dc5055aeb26197c203e576ef389d9acb171bd62da11dc5ad72b2"


def submitted(tx_id: str, data_hash: str) -> dict[str, Any]:
    """circular.certify_data's answer for ``data_hash`` (64 hex, no 0x)."""
    return Submitted(
        tx_id=tx_id,
        nonce=1,
        timestamp="2026-11-22T03:00:00Z",
        status="submitted",
        data_hash=data_hash,
        network="testnet",
        blockchain=BLOCKCHAIN,
    ).model_dump(mode="json")


def status(tx_id: str, value: str) -> dict[str, Any]:
    """circular.get_transaction_status's answer: ``value`` (Pending, Verified, Executed, ...)."""
    return TransactionStatus(
        tx_id=tx_id, status=value, block_id=None if value == "Pending" else "b1", final=value == "Executed"
    ).model_dump(mode="json")


def proof(tx_id: str, data_hash: str, *, fee_total: str = "4") -> dict[str, Any]:
    """circular.get_certification_proof's answer for an Executed certificate of ``data_hash``."""
    return CertificationProof(
        tx_id=tx_id,
        block_id="b1",
        status="Executed",
        timestamp="2026-11-22T03:00:00Z",
        data_hash=data_hash,
        network="testnet",
        blockchain=BLOCKCHAIN,
        explorer_url=None,
        fees=Fees(total=fee_total, broadcast="0", nag="0", processing=fee_total, protocol="0", developer="0"),
        transaction=ProofTransaction(
            id=tx_id,
            blockchain=BLOCKCHAIN,
            from_address="ee" * 32,
            to_address="ee" * 32,
            payload="7b7d",
            nonce="1",
            timestamp="2026:11:22-03:00:00",
            type="C_TYPE_CERTIFICATE",
            signature="30",
            public_key="04" + "11" * 64,
        ),
    ).model_dump(mode="json")
