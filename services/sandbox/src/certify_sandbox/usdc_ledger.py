"""An in-memory USDC contract per network with EIP-3009 ``transferWithAuthorization`` semantics.

What the real FiatToken enforces, here: the signature recovers to ``from`` under the token's own
EIP-712 domain (name, version, chainId, verifyingContract), ``validAfter < now < validBefore``,
``authorizationState(from, nonce)`` unused, and the balance. Each transfer is a transaction in a
new block (block numbers grow, each with its Unix timestamp) with ``Transfer`` and ``AuthorizationUsed``
logs; reading the head block first mines an empty block when the clock moved on, as a chain that keeps
producing blocks would have (the sandbox finalizes instantly: ``finalized`` is the head). One ledger set per
sandbox app, found through the app's :class:`Faults` (a fresh app has fresh ledgers). Minimal EIP-1271
smart wallets (an owner's ECDSA signature is the wallet's) stand in for contract-wallet payers.
"""

from __future__ import annotations

import hashlib
import itertools
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from eth_account import Account

from certify_common import eip3009
from certify_common.evm import NETWORKS, UsdcNetwork
from certify_sandbox.faults import Faults

TRANSFER_TOPIC = "0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"
AUTHORIZATION_USED_TOPIC = "0x98de503528ee59b575ef0c0a2576a82497bfc029a5685b209e9ec333479b10a5"
AUTHORIZATION_CANCELED_TOPIC = "0x1cdd46ff242716cdaa72d159d339a485b3438398348d68f09d7c8c0a59353d81"
ZERO_ADDRESS = "0x" + "0" * 40
FIRST_BLOCK = 20_000_000


@dataclass(frozen=True)
class TransferAuthorization:
    """The signed EIP-3009 message."""

    from_address: str
    to: str
    value: int
    valid_after: int
    valid_before: int
    nonce: str


@dataclass
class Transaction:
    """A mined transaction of the token contract."""

    tx_hash: str
    block_number: int
    from_address: str
    to: str
    value: int
    nonce: str | None
    kind: str  # "mint" (faucet), "authorization" (a transfer) or "cancel" (cancelAuthorization)


class LedgerError(Exception):
    """A contract revert: ``reason`` is the SDK's reason code for it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _word(address: str) -> str:
    return "0x" + address.lower().removeprefix("0x").rjust(64, "0")


EIP1271_MAGIC = "0x1626ba7e"


def recover_hash(digest: bytes, signature: bytes) -> str | None:
    """ecrecover of a 65-byte ``r‖s‖v`` signature over a 32-byte hash."""
    if len(signature) != 65:
        return None
    try:
        return str(Account._recover_hash(digest, signature=signature))
    except Exception:  # noqa: BLE001 - eth-keys' BadSignature (not re-exported by eth-account) or ValueError
        return None


def authorization_digest(network: UsdcNetwork, auth: TransferAuthorization) -> bytes:
    """The EIP-712 digest of the authorization under this network's real USDC domain."""
    return eip3009.digest(
        name=network.eip712_name,
        version=network.eip712_version,
        chain_id=network.chain_id,
        verifying_contract=network.usdc_address,
        from_address=auth.from_address,
        to=auth.to,
        value=auth.value,
        valid_after=auth.valid_after,
        valid_before=auth.valid_before,
        nonce=auth.nonce,
    )


@dataclass
class UsdcLedger:
    """The token contract of one network."""

    network: UsdcNetwork
    balances: dict[str, int] = field(default_factory=dict)
    #: (authorizer, nonce) → the block that used it (``authorizationState`` is true from that block on).
    used_nonces: dict[tuple[str, str], int] = field(default_factory=dict)
    transactions: dict[str, Transaction] = field(default_factory=dict)
    block_number: int = FIRST_BLOCK
    #: block number → Unix timestamp of every block mined here.
    block_times: dict[int, int] = field(default_factory=lambda: {FIRST_BLOCK: int(time.time())})
    #: The chain's clock (block timestamps); tests move it forward to let authorizations expire.
    clock: Callable[[], float] = field(default_factory=lambda: time.time)
    #: EIP-1271 smart wallets: wallet address → owner whose ECDSA signatures the wallet accepts.
    contract_wallets: dict[str, str] = field(default_factory=dict)
    _serial: itertools.count[int] = field(default_factory=itertools.count)

    def balance_of(self, address: str) -> int:
        return self.balances.get(address.lower(), 0)

    def add_contract_wallet(self, owner: str) -> str:
        """Deploy a minimal EIP-1271 wallet owned by ``owner``; its address is derived from the owner."""
        wallet = "0x" + hashlib.sha256(f"wallet:{owner.lower()}".encode()).hexdigest()[:40]
        self.contract_wallets[wallet] = owner.lower()
        return wallet

    def has_code(self, address: str) -> bool:
        return address.lower() in self.contract_wallets or address.lower() == self.network.usdc_address.lower()

    def is_valid_signature(self, wallet: str, digest: bytes, signature: bytes) -> bool:
        """EIP-1271 ``isValidSignature``: the wallet's owner signed the hash (first 65 bytes)."""
        owner = self.contract_wallets.get(wallet.lower())
        signer = recover_hash(digest, signature[:65])
        return owner is not None and signer is not None and signer.lower() == owner

    def signed_by(self, auth: TransferAuthorization, signature: str) -> bool:
        """SignatureChecker semantics: EIP-1271 for addresses with code, ecrecover otherwise."""
        raw = bytes.fromhex(signature.removeprefix("0x"))
        digest = authorization_digest(self.network, auth)
        if self.has_code(auth.from_address):
            return self.is_valid_signature(auth.from_address, digest, raw)
        signer = recover_hash(digest, raw)
        return signer is not None and signer.lower() == auth.from_address.lower()

    def authorization_state(self, authorizer: str, nonce: str, block: int | None = None) -> bool:
        """``authorizationState(authorizer, nonce)`` at ``block`` (default: the head)."""
        used_at = self.used_nonces.get((authorizer.lower(), nonce.lower()))
        return used_at is not None and (block is None or used_at <= block)

    def _new_block(self) -> int:
        now = int(self.clock())
        self.block_number += 1
        self.block_times[self.block_number] = max(now, self.block_times.get(self.block_number - 1, now))
        return self.block_number

    def head(self) -> int:
        """The head block number, after mining an empty block if the clock moved past the last one."""
        if int(self.clock()) > self.block_times[self.block_number]:
            self._new_block()
        return self.block_number

    def _mine(self, from_address: str, to: str, value: int, nonce: str | None, kind: str) -> Transaction:
        self._new_block()
        seed = f"{self.network.name}:{next(self._serial)}:{from_address}:{to}:{value}:{nonce}:{time.time_ns()}"
        tx = Transaction(
            "0x" + hashlib.sha256(seed.encode()).hexdigest(), self.block_number, from_address, to, value, nonce, kind
        )
        self.transactions[tx.tx_hash] = tx
        return tx

    def mint(self, address: str, amount: int) -> Transaction:
        """Faucet: credit ``amount`` atomic units (a Transfer from the zero address)."""
        self.balances[address.lower()] = self.balance_of(address) + amount
        return self._mine(ZERO_ADDRESS, address, amount, None, "mint")

    def check(self, auth: TransferAuthorization, signature: str, now: int) -> None:
        """Raise :class:`LedgerError` where ``transferWithAuthorization`` would revert."""
        if now <= auth.valid_after:
            raise LedgerError("invalid_exact_evm_payload_authorization_valid_after")
        if now >= auth.valid_before:
            raise LedgerError("invalid_exact_evm_payload_authorization_valid_before")
        if self.authorization_state(auth.from_address, auth.nonce):
            raise LedgerError("invalid_exact_evm_nonce_already_used")
        if not self.signed_by(auth, signature):
            raise LedgerError("invalid_exact_evm_payload_signature")
        if self.balance_of(auth.from_address) < auth.value:
            raise LedgerError("invalid_exact_evm_insufficient_balance")

    def transfer_with_authorization(self, auth: TransferAuthorization, signature: str, now: int) -> Transaction:
        """Execute the authorization atomically (the event loop runs one call at a time)."""
        self.check(auth, signature, now)
        self.balances[auth.from_address.lower()] = self.balance_of(auth.from_address) - auth.value
        self.balances[auth.to.lower()] = self.balance_of(auth.to) + auth.value
        tx = self._mine(auth.from_address, auth.to, auth.value, auth.nonce, "authorization")
        self.used_nonces[(auth.from_address.lower(), auth.nonce.lower())] = tx.block_number
        return tx

    def cancel_authorization(self, authorizer: str, nonce: str) -> Transaction:
        """EIP-3009 ``cancelAuthorization`` as the authorizer sent it (the sandbox trusts the caller): the nonce
        becomes used without a transfer, with an ``AuthorizationCanceled`` event."""
        if self.authorization_state(authorizer, nonce):
            raise LedgerError("invalid_exact_evm_nonce_already_used")
        tx = self._mine(authorizer, authorizer, 0, nonce, "cancel")
        self.used_nonces[(authorizer.lower(), nonce.lower())] = tx.block_number
        return tx

    def authorization_transfers(self) -> int:
        """How many payments moved money (faucet mints excluded)."""
        return sum(1 for tx in self.transactions.values() if tx.kind == "authorization")

    def logs_of(self, tx: Transaction) -> list[dict[str, Any]]:
        """The receipt logs: Transfer, plus AuthorizationUsed for EIP-3009 transfers; AuthorizationCanceled alone
        for a cancellation."""
        base = {
            "address": self.network.usdc_address,
            "blockNumber": hex(tx.block_number),
            "transactionHash": tx.tx_hash,
            "removed": False,
        }
        if tx.kind == "cancel":
            topics = [AUTHORIZATION_CANCELED_TOPIC, _word(tx.from_address), str(tx.nonce)]
            return [{**base, "logIndex": "0x0", "topics": topics, "data": "0x"}]
        logs = [
            {
                **base,
                "logIndex": "0x0",
                "topics": [TRANSFER_TOPIC, _word(tx.from_address), _word(tx.to)],
                "data": "0x" + format(tx.value, "064x"),
            }
        ]
        if tx.nonce is not None:
            logs.append(
                {
                    **base,
                    "logIndex": "0x1",
                    "topics": [AUTHORIZATION_USED_TOPIC, _word(tx.from_address), tx.nonce],
                    "data": "0x",
                }
            )
        return logs


class Ledgers:
    """Every network's ledger, plus facilitator state shared by the routers of one sandbox app."""

    def __init__(self) -> None:
        self.by_network = {name: UsdcLedger(network) for name, network in NETWORKS.items()}
        self.settlement_pending = False
        #: signature → transaction hash of settlements answered ``settlement_pending`` (the SDK's pending store).
        self.pending: dict[str, str] = {}
        self.reconciled = 0

    def find(self, network_id: str) -> UsdcLedger | None:
        """A ledger by certify name, v1 name or CAIP-2 id."""
        for ledger in self.by_network.values():
            if network_id in (ledger.network.name, ledger.network.caip2, ledger.network.v1_name):
                return ledger
        return None

    def authorization_transfers(self) -> int:
        return sum(ledger.authorization_transfers() for ledger in self.by_network.values())


_LEDGERS: weakref.WeakKeyDictionary[Faults, Ledgers] = weakref.WeakKeyDictionary()


def ledgers_for(faults: Faults) -> Ledgers:
    """The ledgers of the sandbox app that owns ``faults`` (created on first use)."""
    ledgers = _LEDGERS.get(faults)
    if ledgers is None:
        ledgers = _LEDGERS[faults] = Ledgers()
    return ledgers
