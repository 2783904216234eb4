"""Independent verification of a portable proof: offline from the proof alone, then against a Circular NAG.

Nothing here trusts certify: the document hash is recomputed, the transaction ID is rebuilt from the
signed fields, the signature is checked against the public key, the sender address is derived from
that key, and online the transaction and the sender's public key are read back from the chain.

Deliberately a second implementation of what the circular server does (ID, signature, address rules): a
verifier that shared the signer's code would confirm the signer's bugs. Both are held to the official
Circular library's vectors.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel, Field

from certify_client.proof import Proof
from certify_client.transaction import address_of, certified_data_of, signature_valid, transaction_id

NAG_VERSION = "1.0.13"
NAG_TIMEOUT_S = 15.0
#: Transaction fields as the NAG returns them → the proof's wire name for the same value.
CHAIN_FIELDS = {
    "ID": "ID",
    "From": "From",
    "To": "To",
    "Timestamp": "Timestamp",
    "Payload": "Payload",
    "Nonce": "Nonce",
    "Type": "Type",
    "OSignature": "Signature",
}


class Check(BaseModel):
    """One verification step and its outcome."""

    name: str = Field(description="document, payload, id, signature, address, blockchain, chain or wallet.")
    ok: bool = Field(description="Whether the step passed.")
    detail: str = Field(description="What was compared, or why it failed.")


class Verdict(BaseModel):
    """The result of a verification: valid only when every check passed."""

    valid: bool = Field(description="True when every check passed.")
    offline: bool = Field(description="True when the chain was not consulted.")
    checks: list[Check] = Field(description="Every check made, in order.")
    reasons: list[str] = Field(description="The details of the failed checks (empty when valid).")


def verdict(checks: list[Check], *, offline: bool) -> Verdict:
    """Combine checks into a verdict."""
    failed = [check for check in checks if not check.ok]
    return Verdict(valid=not failed, offline=offline, checks=checks, reasons=[f"{c.name}: {c.detail}" for c in failed])


def sha256_file(path: Path) -> tuple[str, int]:
    """SHA-256 hex and size of a file, read in chunks."""
    digest, size = hashlib.sha256(), 0
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def _check(name: str, ok: bool, good: str, bad: str) -> Check:
    return Check(name=name, ok=ok, detail=good if ok else bad)


def offline_checks(proof: Proof, sha256_hex: str, size_bytes: int | None = None) -> list[Check]:
    """Every check that needs only the proof and the document's hash (and size, when known)."""
    doc, cert, tx = proof.document, proof.certification, proof.transaction
    sha = sha256_hex.lower().removeprefix("0x")
    size_ok = size_bytes is None or doc.size_bytes is None or size_bytes == doc.size_bytes
    checks = [
        _check(
            "document",
            sha == doc.sha256 and size_ok,
            f"the document's SHA-256 is {sha}",
            f"the document's SHA-256 {sha} (size {size_bytes}) is not the proof's {doc.sha256} (size {doc.size_bytes})",
        )
    ]
    data = certified_data_of(tx.payload)
    checks.append(
        _check(
            "payload",
            data == doc.sha256,
            "the payload is a CP_CERTIFICATE of the document's SHA-256",
            f"the payload certifies {data!r}, not {doc.sha256}",
        )
    )
    recomputed = transaction_id(tx.blockchain, tx.from_address, tx.to_address, tx.payload, tx.nonce, tx.timestamp)
    checks.append(
        _check(
            "id",
            recomputed == tx.id == cert.tx_id,
            f"the ID {recomputed} recomputes from the signed fields",
            f"the signed fields hash to {recomputed}; the proof says {tx.id} (certification {cert.tx_id})",
        )
    )
    checks.append(
        _check(
            "signature",
            signature_valid(tx.public_key, tx.id, tx.signature),
            "the signature signs the ID with the public key",
            "the signature does not sign the ID with the public key",
        )
    )
    derived = address_of(tx.public_key)
    checks.append(
        _check(
            "address",
            derived == tx.from_address,
            "the sender address is the SHA-256 of the public key",
            f"the public key's address is {derived}, not the sender {tx.from_address}",
        )
    )
    checks.append(
        _check(
            "blockchain",
            tx.blockchain == cert.blockchain,
            "the transaction's blockchain is the certification's",
            f"the transaction names blockchain {tx.blockchain}, the certification {cert.blockchain}",
        )
    )
    return checks


async def _nag(http: httpx.AsyncClient, nag_url: str, call: str, body: dict[str, str]) -> Any:
    response = await http.post(f"{nag_url}Circular_{call}_", json={**body, "Version": NAG_VERSION})
    response.raise_for_status()
    envelope = response.json()
    if not isinstance(envelope, dict) or envelope.get("Result") != 200:
        raise ValueError(f"{call} answered {envelope!r:.200}")
    return envelope.get("Response")


def _record_checks(proof: Proof, record: Any) -> list[Check]:
    if not isinstance(record, dict):
        return [Check(name="chain", ok=False, detail=f"the NAG does not know transaction {proof.transaction.id}")]
    wire = proof.transaction.model_dump(by_alias=True)
    differing = [name for name, ours in CHAIN_FIELDS.items() if str(record.get(name, "")) != str(wire[ours])]
    status = str(record.get("Status"))
    block = str(record.get("BlockID", ""))
    return [
        _check(
            "chain",
            not differing,
            "the transaction on chain has the proof's signed fields",
            f"the transaction on chain differs in {', '.join(differing)}",
        ),
        _check(
            "executed",
            status == "Executed" and block == proof.certification.block_id,
            f"the transaction is Executed in block {block}",
            f"the transaction is {status} in block {block!r} (the proof says {proof.certification.block_id})",
        ),
    ]


async def chain_checks(proof: Proof, nag_url: str, http: httpx.AsyncClient) -> list[Check]:
    """Read the transaction and the sender's wallet from a NAG and compare them with the proof."""
    tx = proof.transaction
    try:
        record = await _nag(
            http,
            nag_url,
            "GetTransactionbyID",
            {"Blockchain": tx.blockchain, "ID": tx.id, "Start": "0", "End": "10"},
        )
        wallet = await _nag(http, nag_url, "GetWallet", {"Blockchain": tx.blockchain, "Address": tx.from_address})
    except (httpx.HTTPError, ValueError) as exc:
        return [Check(name="chain", ok=False, detail=f"the NAG could not be read: {exc}")]
    checks = _record_checks(proof, record)
    key = str(wallet.get("PublicKey", "")).lower() if isinstance(wallet, dict) else ""
    checks.append(
        _check(
            "wallet",
            key == tx.public_key,
            "the sender's registered public key is the proof's",
            f"the sender's registered public key is {key or 'missing'}, not the proof's",
        )
    )
    return checks


async def verify_proof(
    proof: Proof,
    sha256_hex: str,
    *,
    size_bytes: int | None = None,
    nag_url: str | None = None,
    http: httpx.AsyncClient | None = None,
) -> Verdict:
    """Verify offline, and on chain as well when ``nag_url`` is given."""
    checks = offline_checks(proof, sha256_hex, size_bytes)
    if nag_url is None:
        return verdict(checks, offline=True)
    if http is not None:
        checks += await chain_checks(proof, nag_url, http)
    else:
        async with httpx.AsyncClient(timeout=NAG_TIMEOUT_S) as client:
            checks += await chain_checks(proof, nag_url, client)
    return verdict(checks, offline=False)
