"""The circular server, typed: submit a certificate, follow it, read its proof, read the wallet."""

from __future__ import annotations

from certify_common.contracts.circular import CertificationProof, Submitted, TransactionStatus, WalletBalance
from certify_common.errors import Failure
from certify_proxy.upstream.pool import UpstreamClient


class Circular(UpstreamClient):
    """Calls to the circular server's tools; each answers its contract model or a :class:`Failure`."""

    server = "circular"

    async def certify(self, data_hash: str, idempotency_key: str) -> Submitted | Failure:
        """Sign and submit one certificate; the same idempotency key never submits twice."""
        arguments = {"data_hash": data_hash, "idempotency_key": idempotency_key}
        return await self._call("certify_data", arguments, Submitted)

    async def status(self, tx_id: str) -> TransactionStatus | Failure:
        """Where a transaction stands now (no waiting on the server side)."""
        arguments = {"tx_id": tx_id, "wait_seconds": 0}
        return await self._call("get_transaction_status", arguments, TransactionStatus)

    async def proof(self, tx_id: str) -> CertificationProof | Failure:
        """The proof of an Executed certificate, as on chain."""
        return await self._call("get_certification_proof", {"tx_id": tx_id}, CertificationProof)

    async def balance(self, asset: str) -> WalletBalance | Failure:
        """The service wallet's balance of ``asset``."""
        return await self._call("get_wallet_balance", {"asset": asset}, WalletBalance)
