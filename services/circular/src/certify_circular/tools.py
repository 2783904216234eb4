"""The circular server's MCP tools: validate the input, call one operation, map its value or failure."""

from __future__ import annotations

from typing import Annotated

from mcp.server import MCPServer
from mcp.types import CallToolResult, ToolAnnotations
from pydantic import Field

from certify_circular import operations
from certify_circular.models import ExternalSignature
from certify_circular.service import CircularService
from certify_circular.settings import CircularSettings
from certify_common.contracts.circular import (
    CertificationProof,
    Submitted,
    TransactionStatus,
    WalletBalance,
    WalletNonce,
)
from certify_common.mcp_runtime import Runtime, tool
from certify_common.mcp_service import new_mcp_server, result_of

#: Reads of the chain: safe to repeat.
_READS = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True)
#: A submission: one transaction per idempotency_key, but a call without one certifies again, so not idempotent.
_SUBMITS = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=False, open_world_hint=True)

INSTRUCTIONS = (
    "Certifies data on the Circular Protocol blockchain with the service wallet. Call certify_data with a "
    "SHA-256 data_hash (and an idempotency_key when you may retry), then get_transaction_status until final, "
    "then get_certification_proof. Failures carry code, message, retryable and details."
)


def build_server(settings: CircularSettings, runtime: Runtime[CircularService]) -> MCPServer:
    """The circular MCP server; tools reach the started service through the runtime."""
    mcp = new_mcp_server("circular", INSTRUCTIONS)

    @tool(mcp, _READS)
    async def get_wallet_nonce(
        wallet_address: Annotated[
            str | None, Field(description="Wallet address, 64 hex (0x tolerated); default: the service wallet.")
        ] = None,
    ) -> Annotated[CallToolResult, WalletNonce]:
        """Read a wallet's nonce on the NAG and the nonce its next transaction will use."""
        return result_of(await operations.wallet_nonce(runtime.get(), wallet_address))

    @tool(mcp, _SUBMITS)
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
        service = runtime.get()
        return result_of(await operations.certify(service, data_hash, data, idempotency_key, signed_transaction))

    @tool(mcp, _READS)
    async def get_transaction_status(
        tx_id: Annotated[str, Field(description="Transaction ID, 64 hex (0x tolerated).")],
        wait_seconds: Annotated[
            float, Field(ge=0, le=20, description="Wait up to this long (polling) for a final status; 0 reads once.")
        ] = 0,
    ) -> Annotated[CallToolResult, TransactionStatus]:
        """Status of a transaction: Pending and Verified are not final, Executed is (with its block id)."""
        return result_of(await operations.transaction_status(runtime.get(), tx_id, wait_seconds))

    @tool(mcp, _READS)
    async def get_certification_proof(
        tx_id: Annotated[str, Field(description="Transaction ID of an Executed certificate, 64 hex.")],
    ) -> Annotated[CallToolResult, CertificationProof]:
        """Proof of an Executed certificate: block, time, certified hash, fees and everything to re-verify it.

        Fails with not_yet_executed while the transaction is Pending or Verified.
        """
        return result_of(await operations.certification_proof(runtime.get(), tx_id))

    @tool(mcp, _READS)
    async def get_wallet_balance(
        asset: Annotated[str, Field(description="Asset name.")] = "CIRX",
    ) -> Annotated[CallToolResult, WalletBalance]:
        """Balance of the service wallet (monitoring: certificates are paid in CIRX)."""
        return result_of(await operations.wallet_balance(runtime.get(), asset))

    return mcp
