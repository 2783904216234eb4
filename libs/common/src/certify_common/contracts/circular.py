"""Results of the circular tools (the Circular NAG as certify uses it)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class WalletNonce(BaseModel):
    address: str = Field(description="Wallet address, 64 lower-case hex.")
    nonce: int = Field(description="The wallet's nonce on the NAG.")
    next_nonce: int = Field(description="The nonce the next transaction will use.")


class Submitted(BaseModel):
    tx_id: str = Field(description="Transaction ID, 64 lower-case hex.")
    nonce: int = Field(description="Nonce of the transaction.")
    timestamp: str = Field(description="Transaction timestamp, ISO-8601 UTC.")
    status: str = Field(description='"submitted": accepted by the NAG, not yet final.')
    data_hash: str = Field(description="The certified data string (the SHA-256 as 64 lower-case hex).")
    network: str = Field(description="testnet, mainnet or devnet.")
    blockchain: str = Field(description="Blockchain id, 64 hex.")


class TransactionStatus(BaseModel):
    tx_id: str = Field(description="Transaction ID.")
    status: str = Field(description="Pending, Verified, Executed or another NAG status.")
    block_id: str | None = Field(description="Block holding the transaction, null while it has none.")
    final: bool = Field(description="True once Executed; Pending, Verified and unknown values are not final.")


class Fees(BaseModel):
    total: str = Field(description="Sum of the fee fields, CIRX, decimal text.")
    broadcast: str = Field(description="BroadcastFee, CIRX.")
    nag: str = Field(description="NagFee, CIRX.")
    processing: str = Field(description="ProcessingFee, CIRX.")
    protocol: str = Field(description="ProtocolFee, CIRX.")
    developer: str = Field(description="DeveloperFee, CIRX.")


class ProofTransaction(BaseModel):
    """The signed fields exactly as on chain: enough to recompute the ID and check the signature."""

    id: str = Field(description="Transaction ID = sha256(blockchain+from+to+payload+nonce+timestamp).")
    blockchain: str = Field(description="Blockchain id, 64 hex.")
    from_address: str = Field(description="Sender address = sha256 of the public key text.")
    to_address: str = Field(description="Recipient address.")
    payload: str = Field(description="Payload hex (JSON with Action CP_CERTIFICATE and hex Data).")
    nonce: str = Field(description="Nonce as signed (decimal text).")
    timestamp: str = Field(description="Timestamp as signed, YYYY:MM:DD-hh:mm:ss UTC.")
    type: str = Field(description="C_TYPE_CERTIFICATE.")
    signature: str = Field(description="DER signature over sha256(ID text), hex.")
    public_key: str = Field(description="Sender public key, 04 + X + Y, 130 hex.")


class CertificationProof(BaseModel):
    tx_id: str = Field(description="Transaction ID.")
    block_id: str = Field(description="Block holding the transaction.")
    status: str = Field(description="Executed.")
    timestamp: str = Field(description="Transaction timestamp, ISO-8601 UTC.")
    data_hash: str = Field(description="The certified data string decoded from the payload.")
    network: str = Field(description="testnet, mainnet or devnet.")
    blockchain: str = Field(description="Blockchain id.")
    explorer_url: str | None = Field(description="Explorer link from the network's template, null if none is set.")
    fees: Fees = Field(description="Fees the network charged.")
    transaction: ProofTransaction = Field(description="What a third party needs to re-verify the certificate.")


class WalletBalance(BaseModel):
    address: str = Field(description="Service wallet address.")
    asset: str = Field(description="Asset name, e.g. CIRX.")
    balance: str = Field(description="Balance, decimal text (exact).")
    network: str = Field(description="testnet, mainnet or devnet.")
