"""Tool inputs of the circular server (its results are in ``certify_common.contracts.circular``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ExternalSignature(BaseModel):
    """A certificate transaction signed outside this server (the server builds the rest and checks it)."""

    from_address: str = Field(description="Sender wallet address, 64 hex (0x tolerated); To is the same address.")
    nonce: int = Field(ge=1, description="The nonce the signer used (wallet nonce + 1).")
    timestamp: str = Field(description="The signed timestamp, YYYY:MM:DD-hh:mm:ss UTC.")
    signature: str = Field(description="DER signature over sha256(ID), hex.")
    tx_id: str | None = Field(None, description="The ID the signer computed; checked against the recomputed one.")
