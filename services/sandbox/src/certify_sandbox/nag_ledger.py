"""The sandbox NAG's ledger: wallets, CIRX balances, nonces, fees and each transaction's life.

A transaction is Pending for ``pending_s`` after acceptance, then Verified for ``verified_s``
(it has a block id from then on), then Executed. The status is computed when asked, from a
monotonic clock, so no background task runs. Every state change happens in one synchronous call
(the event loop never switches inside it), so concurrent requests cannot interleave.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field

from certify_sandbox import nag_checks as checks

#: Chains the sandbox serves (``Circular_GetBlockchains_``), as the spec lists them.
BLOCKCHAINS = {
    "714d2ac07a826b66ac56752eebd7c77b58d2ee842e523d913fd0ef06e6bdfcae": "Circular Main Public",
    "acb8a9b79f3c663aa01be852cd42725f9e0e497fd849b436df51c5e074ebeb28": "Circular Secondary Public",
    "e087257c48a949710b48bc725b8d90066871fa08f7bbe75d6b140d50119c481f": "Circular Documark Public",
    "8a20baa40c45dc5055aeb26197c203e576ef389d9acb171bd62da11dc5ad72b2": "Circular SandBox",
}
#: How the certificate fee is split over the record's fee fields (sums to 1).
FEE_SHARES = {
    "BroadcastFee": Decimal("0.1"),
    "NagFee": Decimal("0.1"),
    "ProcessingFee": Decimal("0.5"),
    "ProtocolFee": Decimal("0.2"),
    "DeveloperFee": Decimal("0.1"),
}
Outcome = tuple[int, Any]
#: The "Node" every answer names (SHA-256 of "certify sandbox node").
NODE_ID = "5ddd43d8b16e8c06f25201896377fb269dad76a70d79fea25df6edc9c9dd3a38"


class NagPlan(BaseModel):
    """Timing and behaviour of the sandbox NAG, settable over HTTP by tests."""

    pending_s: float = Field(0.5, ge=0, le=3600, description="Seconds a new transaction stays Pending.")
    verified_s: float = Field(0.5, ge=0, le=3600, description="Seconds it then stays Verified before Executed.")
    stuck_pending: bool = Field(False, description="New transactions stay Pending until this is switched off.")
    drop_after_accept_next: int = Field(
        0, ge=0, description="How many upcoming accepted transactions get their answer dropped (connection closed)."
    )
    certificate_fee: Decimal = Field(Decimal("4"), ge=0, description="CIRX charged per certificate.")
    initial_balance: Decimal = Field(Decimal("0"), ge=0, description="CIRX a newly registered wallet starts with.")


@dataclass
class WalletState:
    address: str
    public_key: str
    created: str
    nonce: int = 0
    balances: dict[str, Decimal] = field(default_factory=dict)


@dataclass
class TxState:
    body: dict[str, str]
    accepted_at: float
    pending_s: float
    verified_s: float
    stuck: bool
    fees: dict[str, Decimal]
    node_timestamp: str
    block_id: str | None = None


def _now_text() -> str:
    return datetime.now(UTC).strftime("%Y:%m:%d-%H:%M:%S")


class NagLedger:
    """The state behind the NAG endpoints. One per sandbox app."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.plan = NagPlan()
        self.wallets: dict[tuple[str, str], WalletState] = {}
        self.transactions: dict[tuple[str, str], TxState] = {}
        self.block_height = 0

    def set_plan(self, plan: NagPlan) -> None:
        """Adopt a plan; switching ``stuck_pending`` off releases stuck transactions (their clock restarts)."""
        if self.plan.stuck_pending and not plan.stuck_pending:
            for tx in self.transactions.values():
                if tx.stuck:
                    tx.stuck, tx.accepted_at = False, self.clock()
        self.plan = plan

    def take_drop(self) -> bool:
        """Whether the answer to the transaction just accepted is to be dropped."""
        if self.plan.drop_after_accept_next > 0:
            self.plan.drop_after_accept_next -= 1
            return True
        return False

    def wallet(self, chain: str, address: str) -> WalletState | None:
        return self.wallets.get((checks.unprefixed(chain), checks.unprefixed(address)))

    def fund(self, chain: str, address: str, asset: str, amount: Decimal) -> Decimal | None:
        """Credit a registered wallet; the new balance, or None when the wallet is unknown."""
        wallet = self.wallet(chain, address)
        if wallet is None:
            return None
        wallet.balances[asset] = wallet.balances.get(asset, Decimal(0)) + amount
        return wallet.balances[asset]

    def add_transaction(self, body: dict[str, Any]) -> Outcome:
        """``Circular_AddTransaction_``: validate like a node, then accept into the Pending pool."""
        problem = checks.format_problem(body)
        if problem is not None:
            return problem
        tx = {name: body[name] for name in checks.TX_FIELDS}
        chain = checks.unprefixed(tx["Blockchain"])
        if chain not in BLOCKCHAINS:
            return checks.WRONG_FORMAT, "Invalid Blockchain"
        if (chain, tx["ID"]) in self.transactions:
            return checks.INVALID_NONCE, "Duplicate Transaction"
        if tx["Type"] == "C_TYPE_REGISTERWALLET":
            return self._register(chain, tx)
        wallet = self.wallet(chain, tx["From"])
        if wallet is None:
            return checks.WALLET_NOT_FOUND, "Wallet Not found"
        if checks.decoded_payload(tx["Payload"]) is None:
            return checks.INVALID_PAYLOAD, "Invalid Payload"
        if int(tx["Nonce"]) != wallet.nonce + 1:
            return checks.INVALID_NONCE, "Invalid Nonce"
        if checks.recomputed_id(tx) != tx["ID"]:
            return checks.INVALID_PAYLOAD, "Invalid Transaction ID"
        if not checks.signature_valid(wallet.public_key, tx["ID"], tx["Signature"]):
            return checks.INVALID_SIGNATURE, "Invalid Signature"
        fee = self.plan.certificate_fee
        balance = wallet.balances.get("CIRX", Decimal(0))
        if balance < fee:
            return checks.INSUFFICIENT_BALANCE, "Insufficient Balance"
        wallet.balances["CIRX"] = balance - fee
        wallet.nonce += 1
        return self._accept(chain, tx, {name: fee * share for name, share in FEE_SHARES.items()})

    def _register(self, chain: str, tx: dict[str, str]) -> Outcome:
        payload = checks.decoded_payload(tx["Payload"])
        if payload is None or payload.get("Action") != "CP_REGISTERWALLET":
            return checks.INVALID_PAYLOAD, "Invalid Payload"
        public_key = payload.get("PublicKey")
        if not isinstance(public_key, str) or len(public_key) != 130 or not public_key.startswith("04"):
            return checks.INVALID_PAYLOAD, "Invalid Public Key"
        address = checks.address_of(public_key)
        if address != checks.unprefixed(tx["From"]) or tx["Nonce"] != "0":
            return checks.WRONG_FORMAT, "Wrong Format: registration"
        if checks.recomputed_id(tx) != tx["ID"]:
            return checks.INVALID_PAYLOAD, "Invalid Transaction ID"
        if (chain, address) in self.wallets:
            return checks.WRONG_FORMAT, "Wallet Already Registered"
        self.wallets[(chain, address)] = WalletState(
            address, public_key, _now_text(), balances={"CIRX": self.plan.initial_balance}
        )
        return self._accept(chain, tx, dict.fromkeys(FEE_SHARES, Decimal(0)))

    def _accept(self, chain: str, tx: dict[str, str], fees: dict[str, Decimal]) -> Outcome:
        plan = self.plan
        state = TxState(tx, self.clock(), plan.pending_s, plan.verified_s, plan.stuck_pending, fees, _now_text())
        self.transactions[(chain, tx["ID"])] = state
        return 200, {"TxID": tx["ID"], "Timestamp": state.node_timestamp}

    def status_of(self, tx: TxState) -> str:
        """Pending, Verified or Executed now; a block id is minted when the transaction leaves Pending."""
        elapsed = self.clock() - tx.accepted_at
        if tx.stuck or elapsed < tx.pending_s:
            return "Pending"
        if tx.block_id is None:
            self.block_height += 1
            tx.block_id = str(self.block_height)
        return "Verified" if elapsed < tx.pending_s + tx.verified_s else "Executed"

    def transaction(self, chain: str, tx_id: str) -> Outcome:
        """``Circular_GetTransactionbyID_``: the record, or the string "Transaction Not Found"."""
        state = self.transactions.get((checks.unprefixed(chain), checks.unprefixed(tx_id).lower()))
        if state is None:
            return 200, "Transaction Not Found"
        status = self.status_of(state)
        tx = state.body
        record: dict[str, Any] = {
            "ID": tx["ID"],
            "BlockID": state.block_id or "",
            "From": tx["From"],
            "To": tx["To"],
            "Timestamp": tx["Timestamp"],
            "Type": tx["Type"],
            "Payload": tx["Payload"],
            "Nonce": tx["Nonce"],
            "OSignature": tx["Signature"],
            "NodeID": NODE_ID,
            "Status": status,
        }
        record.update(state.fees)
        return 200, record
