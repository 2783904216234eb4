"""The portable proof: everything a third party needs to re-verify a certificate, versioned.

A proof names the document (its SHA-256, size and optional name), the certification (network,
blockchain, transaction ID, block, time, explorer link) and the signed Circular transaction with
the sender's public key, in the transaction's own wire names (``ID``, ``From``, ``To``…). Its JSON
Schema is published beside this module as ``proof.schema.json`` (``certify schema`` prints it).
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

PROOF_FORMAT = "certify-proof"
PROOF_VERSION = 1
SCHEMA_FILE = "proof.schema.json"
HEX64 = r"^[0-9a-f]{64}$"


class ProofDocument(BaseModel):
    """The certified document: the chain holds its SHA-256, never the document."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sha256: str = Field(pattern=HEX64, description="SHA-256 of the document, 64 lower-case hex.")
    size_bytes: int | None = Field(ge=0, description="Size of the document in bytes, null when not known.")
    name: str | None = Field(description="File name given by the client (informative, not certified).")


class ProofCertification(BaseModel):
    """Where and when the certificate was recorded."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    network: str = Field(description="Circular network: testnet, mainnet or devnet.")
    blockchain: str = Field(pattern=HEX64, description="Circular blockchain id, 64 hex without 0x.")
    tx_id: str = Field(pattern=HEX64, description="Transaction ID.")
    block_id: str = Field(description="Block holding the transaction.")
    timestamp: str = Field(description="Transaction time, ISO-8601 UTC.")
    status: str = Field(description="Transaction status when the proof was made (Executed).")
    explorer_url: str | None = Field(description="Explorer link, null when the network has none configured.")


class ProofTransaction(BaseModel):
    """The signed certificate transaction exactly as on chain, plus the sender's public key."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: str = Field(alias="ID", pattern=HEX64, description="sha256(Blockchain+From+To+Payload+Nonce+Timestamp).")
    blockchain: str = Field(alias="Blockchain", pattern=HEX64, description="Blockchain id, 64 hex.")
    from_address: str = Field(alias="From", pattern=HEX64, description="Sender address = sha256(PublicKey text).")
    to_address: str = Field(alias="To", pattern=HEX64, description="Recipient address.")
    timestamp: str = Field(alias="Timestamp", description="Timestamp as signed, YYYY:MM:DD-hh:mm:ss UTC.")
    payload: str = Field(
        alias="Payload",
        pattern=r"^([0-9a-f]{2})+$",
        description='Hex of the JSON {"Action": "CP_CERTIFICATE", "Data": hex of the SHA-256 text}.',
    )
    nonce: str = Field(alias="Nonce", pattern=r"^[0-9]+$", description="Nonce as signed, decimal text.")
    signature: str = Field(alias="Signature", pattern=r"^[0-9a-f]+$", description="DER signature of sha256(ID), hex.")
    type: Literal["C_TYPE_CERTIFICATE"] = Field(alias="Type", description="Transaction type.")
    public_key: str = Field(
        alias="PublicKey", pattern=r"^04[0-9a-f]{128}$", description="Sender public key, 04+X+Y, 130 hex."
    )


class Proof(BaseModel):
    """A portable certify proof (format ``certify-proof``, version 1)."""

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        title="certify-proof",
        json_schema_extra={"$id": "https://certify.dev/schemas/certify-proof-1.json"},
    )

    format: Literal["certify-proof"] = Field(description="Always certify-proof.")
    version: Literal[1] = Field(description="Format version.")
    request_id: str | None = Field(description="The certify request that produced it, null if not from certify.")
    document: ProofDocument
    certification: ProofCertification
    transaction: ProofTransaction

    def to_json(self) -> str:
        """The proof as pretty JSON, with the transaction in its wire names."""
        return self.model_dump_json(by_alias=True, indent=2)


def load_proof(text: str | bytes) -> Proof:
    """Parse a proof (``pydantic.ValidationError`` when it does not follow the format)."""
    return Proof.model_validate_json(text)


def generated_schema() -> dict[str, Any]:
    """The JSON Schema the model defines (what ``proof.schema.json`` must hold)."""
    schema = Proof.model_json_schema(by_alias=True, mode="validation")
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", **schema}


def published_schema() -> dict[str, Any]:
    """The JSON Schema file shipped in the package."""
    text = resources.files("certify_client").joinpath(SCHEMA_FILE).read_text(encoding="utf-8")
    loaded: dict[str, Any] = json.loads(text)
    return loaded


class CircularFees(BaseModel):
    """The fees the Circular network charged, CIRX decimal text (fields in the stored proof's sorted order)."""

    broadcast: str
    developer: str
    nag: str
    processing: str
    protocol: str
    total: str


class CircularTransaction(BaseModel):
    """The signed certificate transaction as the circular server reports it (snake_case names)."""

    blockchain: str
    from_address: str
    id: str
    nonce: str
    payload: str
    public_key: str
    signature: str
    timestamp: str
    to_address: str
    type: Literal["C_TYPE_CERTIFICATE"]


class CircularProof(BaseModel):
    """The circular server's ``get_certification_proof`` result, as the proxy stores it and sends it in webhooks.

    Fields are declared in sorted order, the order of the stored JSON, so a dump gives back the same bytes.
    """

    block_id: str
    blockchain: str
    data_hash: str = Field(description="The certified data string: the document's SHA-256, 64 hex.")
    explorer_url: str | None
    fees: CircularFees
    network: str
    status: str
    timestamp: str
    transaction: CircularTransaction
    tx_id: str


def proof_from_circular(
    circular_proof: CircularProof, *, request_id: str | None, size_bytes: int | None, name: str | None
) -> Proof:
    """A portable proof from the circular server's ``get_certification_proof`` result."""
    tx = circular_proof.transaction
    return Proof(
        format="certify-proof",
        version=1,
        request_id=request_id,
        document=ProofDocument(sha256=circular_proof.data_hash.lower(), size_bytes=size_bytes, name=name),
        certification=ProofCertification(
            network=circular_proof.network,
            blockchain=circular_proof.blockchain,
            tx_id=circular_proof.tx_id,
            block_id=circular_proof.block_id,
            timestamp=circular_proof.timestamp,
            status=circular_proof.status,
            explorer_url=circular_proof.explorer_url,
        ),
        transaction=ProofTransaction(
            id=tx.id,
            blockchain=tx.blockchain,
            from_address=tx.from_address,
            to_address=tx.to_address,
            timestamp=tx.timestamp,
            payload=tx.payload,
            nonce=tx.nonce,
            signature=tx.signature,
            type=tx.type,
            public_key=tx.public_key.lower(),
        ),
    )
