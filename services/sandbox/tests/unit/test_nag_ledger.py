"""The ledger's lifecycle on a controlled clock: Pending → Verified → Executed with block ids, stuck Pending."""

from __future__ import annotations

from decimal import Decimal

from certify_sandbox.nag_ledger import NagLedger, NagPlan

from .test_nag_support import CHAIN, EcdsaWallet


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def funded_ledger(clock: Clock, **plan: object) -> tuple[NagLedger, EcdsaWallet]:
    ledger = NagLedger(clock)
    ledger.set_plan(NagPlan(**plan))  # type: ignore[arg-type]
    wallet = EcdsaWallet.of(5)
    assert ledger.add_transaction(wallet.registration())[0] == 200
    assert ledger.fund(CHAIN, wallet.address, "CIRX", Decimal("10")) == Decimal("10")
    return ledger, wallet


def test_a_transaction_goes_pending_verified_executed_after_the_set_delays() -> None:
    clock = Clock()
    ledger, wallet = funded_ledger(clock, pending_s=2, verified_s=3)
    tx = wallet.certificate("x", 1)
    assert ledger.add_transaction(tx)[0] == 200

    seen = []
    for moment in (1000.0, 1001.9, 1002.0, 1004.9, 1005.0, 1100.0):
        clock.now = moment
        record = ledger.transaction(CHAIN, tx["ID"])[1]
        seen.append((record["Status"], record["BlockID"]))

    block = seen[2][1]
    assert block != ""
    assert seen == [
        ("Pending", ""),
        ("Pending", ""),
        ("Verified", block),
        ("Verified", block),
        ("Executed", block),
        ("Executed", block),
    ]


def test_later_transactions_get_later_blocks() -> None:
    clock = Clock()
    ledger, wallet = funded_ledger(clock, pending_s=0, verified_s=0)
    first, second = wallet.certificate("a", 1), wallet.certificate("b", 2)
    ledger.add_transaction(first)
    ledger.add_transaction(second)
    blocks = [int(ledger.transaction(CHAIN, tx["ID"])[1]["BlockID"]) for tx in (first, second)]
    assert blocks[0] < blocks[1]


def test_stuck_pending_holds_until_released() -> None:
    clock = Clock()
    ledger, wallet = funded_ledger(clock, pending_s=0, verified_s=0, stuck_pending=True)
    tx = wallet.certificate("x", 1)
    ledger.add_transaction(tx)
    clock.now += 3600
    assert ledger.transaction(CHAIN, tx["ID"])[1]["Status"] == "Pending"

    ledger.set_plan(NagPlan(pending_s=0, verified_s=0, stuck_pending=False))

    assert ledger.transaction(CHAIN, tx["ID"])[1]["Status"] == "Executed"


def test_fees_are_debited_exactly_and_insufficient_balance_refused() -> None:
    clock = Clock()
    ledger, wallet = funded_ledger(clock, certificate_fee=Decimal("4.5"))
    assert ledger.add_transaction(wallet.certificate("a", 1))[0] == 200
    assert ledger.add_transaction(wallet.certificate("b", 2))[0] == 200
    assert ledger.wallet(CHAIN, wallet.address).balances["CIRX"] == Decimal("1.0")
    assert ledger.add_transaction(wallet.certificate("c", 3))[0] == 120


def test_dropped_answers_are_counted_down() -> None:
    ledger = NagLedger(Clock())
    ledger.set_plan(NagPlan(drop_after_accept_next=1))
    assert ledger.take_drop() is True
    assert ledger.take_drop() is False
