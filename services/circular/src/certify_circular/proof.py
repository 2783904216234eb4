"""Certification proofs: built from an Executed record, and re-verified by a pure function anyone can run."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from certify_circular.keys import address_of, verify_signature
from certify_circular.nag import NagClient
from certify_circular.networks import NetworkConfig
from certify_circular.tracking import not_found
from certify_circular.transaction import CERTIFICATE_TYPE, certified_data_of, iso_timestamp, transaction_id
from certify_common.contracts.circular import CertificationProof, Fees, ProofTransaction
from certify_common.errors import Failure, failure

FEE_FIELDS = {
    "broadcast": "BroadcastFee",
    "nag": "NagFee",
    "processing": "ProcessingFee",
    "protocol": "ProtocolFee",
    "developer": "DeveloperFee",
}


def _decimal(value: Any) -> Decimal:
    try:
        return Decimal(str(value)) if value not in (None, "") else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


def _fees(record: dict[str, Any]) -> Fees:
    parts = {name: _decimal(record.get(field)) for name, field in FEE_FIELDS.items()}
    total = sum(parts.values(), Decimal(0))
    return Fees(total=format(total, "f"), **{name: format(value, "f") for name, value in parts.items()})


def verify_proof(proof: CertificationProof) -> list[str]:
    """Every reason the proof does not hold (empty when it does). Pure: no I/O, no clock.

    Recomputes the ID from the signed fields, checks the sender is the public key's address, the
    signature over the ID, the certificate payload and the claimed data.
    """
    tx = proof.transaction
    problems = []
    recomputed = transaction_id(tx.blockchain, tx.from_address, tx.to_address, tx.payload, tx.nonce, tx.timestamp)
    if recomputed != tx.id or tx.id != proof.tx_id:
        problems.append("the transaction ID does not match its fields")
    if address_of(tx.public_key) != tx.from_address:
        problems.append("the sender address is not the public key's")
    if not verify_signature(tx.public_key, tx.id, tx.signature):
        problems.append("the signature does not sign the ID with the public key")
    if tx.type != CERTIFICATE_TYPE or certified_data_of(tx.payload) != proof.data_hash:
        problems.append("the payload is not a certificate of data_hash")
    if tx.blockchain != proof.blockchain:
        problems.append("the blockchain differs from the transaction's")
    return problems


class ProofBuilder:
    """``get_certification_proof``: only for Executed certificates, verified before it is returned."""

    def __init__(self, nag: NagClient, network: NetworkConfig) -> None:
        self.nag = nag
        self.network = network

    async def proof(self, tx_id: str) -> CertificationProof | Failure:
        record = await self.nag.transaction(tx_id, "proof")
        if isinstance(record, Failure):
            return record
        if record is None:
            return not_found(tx_id)
        status = str(record.get("Status"))
        if status != "Executed":
            return failure(
                "not_yet_executed", f"the transaction is {status}, not Executed", retryable=True, status=status
            )
        data = certified_data_of(str(record.get("Payload", "")))
        if record.get("Type") != CERTIFICATE_TYPE or data is None:
            return failure("not_a_certificate", "the transaction is not a C_TYPE_CERTIFICATE", retryable=False)
        sender = str(record.get("From", ""))
        wallet = await self.nag.wallet(sender)
        if isinstance(wallet, Failure):
            return wallet
        block_id = str(record.get("BlockID", ""))
        proof = CertificationProof(
            tx_id=tx_id,
            block_id=block_id,
            status=status,
            timestamp=iso_timestamp(str(record.get("Timestamp", ""))),
            data_hash=data,
            network=self.network.name,
            blockchain=self.network.blockchain,
            explorer_url=self.network.explorer_url(tx_id, block_id),
            fees=_fees(record),
            transaction=ProofTransaction(
                id=str(record.get("ID", "")),
                blockchain=self.network.blockchain,
                from_address=sender,
                to_address=str(record.get("To", "")),
                payload=str(record.get("Payload", "")),
                nonce=str(record.get("Nonce", "")),
                timestamp=str(record.get("Timestamp", "")),
                type=str(record.get("Type")),
                signature=str(record.get("OSignature", "")),
                public_key=str(wallet["PublicKey"]).lower(),
            ),
        )
        problems = verify_proof(proof)
        if problems:
            return failure("proof_invalid", "the on-chain record does not verify", retryable=False, problems=problems)
        return proof
