"""A CertifyWallet's status from one balance reading (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from certify_common.errors import failure
from certify_operator.wallet import CRITICAL, OK, WARNING, Event, due, evaluate, parse_spec

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)
ADDRESS = "ab" * 32


def report(balance: str, daily_burn: str | None = None) -> dict[str, object]:
    return {"address": ADDRESS, "asset": "CIRX", "balance": balance, "daily_burn": daily_burn}


def test_the_spec_defaults_to_a_100_cirx_warning_every_five_minutes() -> None:
    spec = parse_spec({"network": "testnet"})
    assert (spec.warning_cirx, spec.critical_cirx, spec.interval_s, spec.address) == (Decimal(100), None, 300.0, None)
    with pytest.raises(ValueError, match="not a number"):
        parse_spec({"warningThresholdCirx": "lots"})


def test_a_reading_is_due_first_and_then_after_the_interval() -> None:
    spec = parse_spec({"checkIntervalSeconds": 60})
    assert due(spec, {}, NOW)
    assert not due(spec, {"lastCheck": (NOW - timedelta(seconds=30)).isoformat()}, NOW)
    assert due(spec, {"lastCheck": (NOW - timedelta(seconds=60)).isoformat()}, NOW)


def test_a_sufficient_balance_is_ready_not_low_and_emits_nothing() -> None:
    status, events = evaluate(parse_spec({}), report("5000", "96"), {}, NOW)
    assert status["balance"] == "5000"
    assert status["burnRatePerHour"] == "4.0000"
    assert status["hoursToDepletion"] == "1250.00"
    assert status["estimatedDepletion"] == (NOW + timedelta(hours=1250)).isoformat()
    assert status["level"] == OK
    assert {c["type"]: c["status"] for c in status["conditions"]} == {"Ready": "True", "Low": "False"}
    assert events == []


def test_crossing_the_warning_threshold_sets_low_and_emits_one_warning_event() -> None:
    status, events = evaluate(parse_spec({}), report("99.5"), {"level": OK}, NOW)
    assert status["level"] == WARNING
    assert {c["type"]: c["status"] for c in status["conditions"]}["Low"] == "True"
    assert [(e.type, e.reason) for e in events] == [("Warning", "BalanceLow")]
    again, repeated = evaluate(parse_spec({}), report("99"), status, NOW + timedelta(minutes=5))
    assert repeated == []
    low = {c["type"]: c for c in again["conditions"]}["Low"]
    assert low["lastTransitionTime"] == NOW.isoformat()


def test_hours_to_depletion_under_the_critical_limit_is_critical_and_recovery_is_a_normal_event() -> None:
    spec = parse_spec({"criticalHoursToDepletion": "24"})
    status, events = evaluate(spec, report("500", "600"), {"level": OK}, NOW)
    assert status["level"] == CRITICAL
    assert events == [Event("Warning", "BalanceCritical", events[0].message)]
    _, back = evaluate(spec, report("100000", "600"), status, NOW)
    assert [(e.type, e.reason) for e in back] == [("Normal", "BalanceRecovered")]


def test_a_failed_reading_keeps_the_last_balance_and_makes_the_wallet_not_ready() -> None:
    previous, _ = evaluate(parse_spec({}), report("50"), {}, NOW)
    status, events = evaluate(parse_spec({}), failure("proxy_unavailable", "down", retryable=True), previous, NOW)
    assert "balance" not in status
    assert {c["type"]: c["status"] for c in status["conditions"]} == {"Ready": "False", "Low": "True"}
    assert events == []


def test_a_wallet_whose_address_is_not_the_proxys_is_not_ready() -> None:
    status, _ = evaluate(parse_spec({"address": "0x" + "cd" * 32}), report("5000"), {}, NOW)
    ready = {c["type"]: c for c in status["conditions"]}["Ready"]
    assert (ready["status"], ready["reason"]) == ("False", "AddressMismatch")
