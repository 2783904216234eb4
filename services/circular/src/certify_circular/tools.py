"""The MCP tools: validate the input, call one domain object, return its value or failure."""

from __future__ import annotations

import hashlib
import re
from typing import Annotated

from mcp.server import MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from certify_circular.metrics import CIRX_BALANCE
from certify_circular.models import ExternalSignature
from certify_circular.service import CircularService
from certify_common.contracts.circular import (
    CertificationProof,
    Submitted,
    TransactionStatus,
    WalletBalance,
    WalletNonce,
)
from certify_common.errors import Failure, failure, require
from certify_common.mcp_service import new_mcp_server, result_of

#: Reads of the chain: safe to repeat.
_READS = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True)
#: A submission: one transaction per idempotency_key, but a call without one certifies again, so not idempotent.
_SUBMITS = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True)

_HEX64 = re.compile(r"^(0x)?([0-9a-fA-F]{64})$")
_ASSET = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")

INSTRUCTIONS = (
    "Certifies data on the Circular Protocol blockchain with the service wallet. Call certify_data with a "
    "SHA-256 data_hash (and an idempotency_key when you may retry), then get_transaction_status until final, "
    "then get_certification_proof. Failures carry code, message, retryable and details."
)


def hex64(value: str, name: str) -> str | Failure:
    """The 64 lower-case hex of ``value`` (0x tolerated) or an ``invalid_input`` failure."""
    match = _HEX64.match(value.strip())
    if match is None:
        return failure("invalid_input", f"{name} must be 64 hex characters (0x tolerated)", field=name)
    return match.group(2).lower()


def build_mcp(service: CircularService) -> MCPServer:
    """The circular MCP server; tools reach the running service's parts."""
    mcp = new_mcp_server("circular", INSTRUCTIONS)
    max_bytes = service.settings.circular_max_data_bytes

    @mcp.tool(annotations=_READS)
    async def get_wallet_nonce(
        wallet_address: Annotated[
            str | None, Field(description="Wallet address, 64 hex (0x tolerated); default: the service wallet.")
        ] = None,
    ) -> Annotated[CallToolResult, WalletNonce]:
        """Read a wallet's nonce on the NAG and the nonce its next transaction will use."""
        parts = service.parts
        if wallet_address is None:
            if service.wallet is None:
                return result_of(failure("wallet_not_configured", "no service wallet key is configured"))
            address: str | Failure = service.wallet.address
        else:
            address = hex64(wallet_address, "wallet_address")
        if isinstance(address, Failure):
            return result_of(address)
        nonce = await parts.nag.wallet_nonce(address)
        if isinstance(nonce, Failure):
            return result_of(nonce)
        if service.wallet is not None and address == service.wallet.address:
            next_nonce = await parts.nonces.peek(parts.network.blockchain, address, nonce)
        else:
            next_nonce = nonce + 1
        return result_of(WalletNonce(address=address, nonce=nonce, next_nonce=next_nonce))

    @mcp.tool(annotations=_SUBMITS)
    async def certify_data(
        data_hash: Annotated[
            str | None, Field(description="SHA-256 of the document, 0x + 64 hex; certified as 64 lower-case hex.")
        ] = None,
        data: Annotated[
            str | None,
            Field(description="Raw text (UTF-8, at most 1 MB) to certify as its SHA-256, instead of data_hash."),
        ] = None,
        idempotency_key: Annotated[
            str | None,
            Field(description="Any retry with the same key returns the first transaction instead of certifying again."),
        ] = None,
        signed_transaction: Annotated[
            ExternalSignature | None,
            Field(description="Submit a transaction signed elsewhere instead of signing with the service wallet."),
        ] = None,
    ) -> Annotated[CallToolResult, Submitted]:
        """Certify a SHA-256 hash on Circular (a C_TYPE_CERTIFICATE transaction) and return its tx_id.

        The server fetches the nonce, builds, signs and submits the transaction. The result is
        "submitted", not final: poll get_transaction_status, then get_certification_proof.
        """
        if (data_hash is None) == (data is None):
            return result_of(failure("invalid_input", "give exactly one of data_hash and data"))
        if data is not None:
            raw = data.encode("utf-8")
            if len(raw) > max_bytes:
                return result_of(
                    failure("data_too_large", f"data is over {max_bytes} bytes", max_bytes=max_bytes, size=len(raw))
                )
            certified: str | Failure = hashlib.sha256(raw).hexdigest()
        else:
            certified = hex64(require(data_hash, "data_hash"), "data_hash")
        if isinstance(certified, Failure):
            return result_of(certified)
        if idempotency_key is not None and not 1 <= len(idempotency_key) <= 200:
            return result_of(failure("invalid_input", "idempotency_key must be 1 to 200 characters"))
        outcome = await service.parts.certifier.certify(certified, idempotency_key, signed_transaction)
        return result_of(outcome)

    @mcp.tool(annotations=_READS)
    async def get_transaction_status(
        tx_id: Annotated[str, Field(description="Transaction ID, 64 hex (0x tolerated).")],
        wait_seconds: Annotated[
            float, Field(ge=0, le=20, description="Wait up to this long (polling) for a final status; 0 reads once.")
        ] = 0,
    ) -> Annotated[CallToolResult, TransactionStatus]:
        """Status of a transaction: Pending and Verified are not final, Executed is (with its block id)."""
        checked = hex64(tx_id, "tx_id")
        if isinstance(checked, Failure):
            return result_of(checked)
        return result_of(await service.parts.status.status(checked, wait_seconds))

    @mcp.tool(annotations=_READS)
    async def get_certification_proof(
        tx_id: Annotated[str, Field(description="Transaction ID of an Executed certificate, 64 hex.")],
    ) -> Annotated[CallToolResult, CertificationProof]:
        """Proof of an Executed certificate: block, time, certified hash, fees and everything to re-verify it.

        Fails with not_yet_executed while the transaction is Pending or Verified.
        """
        checked = hex64(tx_id, "tx_id")
        if isinstance(checked, Failure):
            return result_of(checked)
        return result_of(await service.parts.proofs.proof(checked))

    @mcp.tool(annotations=_READS)
    async def get_wallet_balance(
        asset: Annotated[str, Field(description="Asset name.")] = "CIRX",
    ) -> Annotated[CallToolResult, WalletBalance]:
        """Balance of the service wallet (monitoring: certificates are paid in CIRX)."""
        if service.wallet is None:
            return result_of(failure("wallet_not_configured", "no service wallet key is configured"))
        if not _ASSET.match(asset):
            return result_of(failure("invalid_input", "asset must be a short asset name", field="asset"))
        parts = service.parts
        balance = await parts.nag.balance(service.wallet.address, asset)
        if isinstance(balance, Failure):
            return result_of(balance)
        if asset == "CIRX":
            CIRX_BALANCE.set(float(balance))
        return result_of(
            WalletBalance(
                address=service.wallet.address, asset=asset, balance=format(balance, "f"), network=parts.network.name
            )
        )

    return mcp
