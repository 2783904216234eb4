"""What each circular tool does, as one function of the started service: check the input, call the domain objects.

The tools in ``tools.py`` only declare parameters and map these results; every rule lives here or below.
"""

from __future__ import annotations

import hashlib
import re

from certify_circular.metrics import CIRX_BALANCE
from certify_circular.models import ExternalSignature
from certify_circular.service import CircularService
from certify_common.codes import FailureCode
from certify_common.contracts.circular import (
    CertificationProof,
    Submitted,
    TransactionStatus,
    WalletBalance,
    WalletNonce,
)
from certify_common.errors import Failure, failure, require

_HEX64 = re.compile(r"^(0x)?([0-9a-fA-F]{64})$")
_ASSET = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
MAX_IDEMPOTENCY_KEY_CHARS = 200


def hex64(value: str, name: str) -> str | Failure:
    """The 64 lower-case hex of ``value`` (0x tolerated) or an ``invalid_input`` failure."""
    match = _HEX64.match(value.strip())
    if match is None:
        return failure(FailureCode.INVALID_INPUT, f"{name} must be 64 hex characters (0x tolerated)", field=name)
    return match.group(2).lower()


def _no_wallet() -> Failure:
    return failure(FailureCode.WALLET_NOT_CONFIGURED, "no service wallet key is configured")


async def wallet_nonce(service: CircularService, wallet_address: str | None) -> WalletNonce | Failure:
    """A wallet's nonce on the NAG and the nonce its next transaction uses (the service wallet by default)."""
    parts = service.parts
    if wallet_address is None:
        if service.wallet is None:
            return _no_wallet()
        address: str | Failure = service.wallet.address
    else:
        address = hex64(wallet_address, "wallet_address")
    if isinstance(address, Failure):
        return address
    nonce = await parts.nag.wallet_nonce(address)
    if isinstance(nonce, Failure):
        return nonce
    if service.wallet is not None and address == service.wallet.address:
        next_nonce = await parts.nonces.peek(parts.network.blockchain, address, nonce)
    else:
        next_nonce = nonce + 1
    return WalletNonce(address=address, nonce=nonce, next_nonce=next_nonce)


def certified_string(data_hash: str | None, data: str | None, max_bytes: int) -> str | Failure:
    """The string a certificate carries: the given SHA-256 as 64 lower-case hex, or the SHA-256 of ``data``."""
    if (data_hash is None) == (data is None):
        return failure(FailureCode.INVALID_INPUT, "give exactly one of data_hash and data")
    if data is None:
        return hex64(require(data_hash, "data_hash"), "data_hash")
    raw = data.encode("utf-8")
    if len(raw) > max_bytes:
        return failure(
            FailureCode.DATA_TOO_LARGE, f"data is over {max_bytes} bytes", max_bytes=max_bytes, size=len(raw)
        )
    return hashlib.sha256(raw).hexdigest()


async def certify(
    service: CircularService,
    data_hash: str | None,
    data: str | None,
    idempotency_key: str | None,
    signed_transaction: ExternalSignature | None,
) -> Submitted | Failure:
    """Certify one hash (or the hash of ``data``): one transaction per idempotency key."""
    certified = certified_string(data_hash, data, service.settings.circular_max_data_bytes)
    if isinstance(certified, Failure):
        return certified
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= MAX_IDEMPOTENCY_KEY_CHARS:
        return failure(
            FailureCode.INVALID_INPUT, f"idempotency_key must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} characters"
        )
    return await service.parts.certifier.certify(certified, idempotency_key, signed_transaction)


async def transaction_status(service: CircularService, tx_id: str, wait_seconds: float) -> TransactionStatus | Failure:
    """A transaction's status, waiting up to ``wait_seconds`` for a final one."""
    checked = hex64(tx_id, "tx_id")
    if isinstance(checked, Failure):
        return checked
    return await service.parts.status.status(checked, wait_seconds)


async def certification_proof(service: CircularService, tx_id: str) -> CertificationProof | Failure:
    """The proof of an Executed certificate."""
    checked = hex64(tx_id, "tx_id")
    if isinstance(checked, Failure):
        return checked
    return await service.parts.proofs.proof(checked)


async def wallet_balance(service: CircularService, asset: str) -> WalletBalance | Failure:
    """The service wallet's balance of ``asset`` (the CIRX balance also sets its gauge)."""
    if service.wallet is None:
        return _no_wallet()
    if not _ASSET.match(asset):
        return failure(FailureCode.INVALID_INPUT, "asset must be a short asset name", field="asset")
    parts = service.parts
    balance = await parts.nag.balance(service.wallet.address, asset)
    if isinstance(balance, Failure):
        return balance
    if asset == "CIRX":
        CIRX_BALANCE.set(float(balance))
    return WalletBalance(
        address=service.wallet.address, asset=asset, balance=format(balance, "f"), network=parts.network.name
    )
