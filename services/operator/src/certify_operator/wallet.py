"""What a CertifyWallet's status says, from one balance reading: level, burn rate, depletion, conditions.

Pure functions (no I/O): the handlers feed them the proxy's balance report and the previous status,
and write back the status and the Events they return. Amounts stay ``Decimal`` and travel as strings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from certify_common.errors import Failure

DEFAULT_WARNING_CIRX = Decimal(100)
DEFAULT_INTERVAL_S = 300.0
OK, WARNING, CRITICAL = "ok", "warning", "critical"
_RANK = {OK: 0, WARNING: 1, CRITICAL: 2}


@dataclass(frozen=True)
class WalletSpec:
    """A CertifyWallet's spec, with its defaults applied."""

    network: str
    address: str | None
    warning_cirx: Decimal
    critical_cirx: Decimal | None
    critical_hours: Decimal | None
    interval_s: float


@dataclass(frozen=True)
class Event:
    """A Kubernetes Event to emit on the resource."""

    type: str  # Normal or Warning
    reason: str
    message: str


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise ValueError(f"not a number: {value!r}") from exc


def parse_spec(spec: dict[str, Any]) -> WalletSpec:
    """The spec with defaults (warning 100 CIRX, every 5 min); ``ValueError`` when a field is malformed."""
    warning = _decimal(spec.get("warningThresholdCirx"))
    return WalletSpec(
        network=str(spec.get("network") or "testnet"),
        address=(str(spec["address"]).lower().removeprefix("0x") if spec.get("address") else None),
        warning_cirx=DEFAULT_WARNING_CIRX if warning is None else warning,
        critical_cirx=_decimal(spec.get("criticalThresholdCirx")),
        critical_hours=_decimal(spec.get("criticalHoursToDepletion")),
        interval_s=float(spec.get("checkIntervalSeconds") or DEFAULT_INTERVAL_S),
    )


def due(spec: WalletSpec, status: dict[str, Any], now: datetime) -> bool:
    """Whether the balance should be read again (never read, or the interval has passed)."""
    last = status.get("lastCheck")
    if not last:
        return True
    return now - datetime.fromisoformat(str(last)) >= timedelta(seconds=spec.interval_s)


def level_of(spec: WalletSpec, balance: Decimal, hours_left: Decimal | None) -> str:
    """ok, warning (under the warning threshold) or critical (under the critical one, or depleting soon)."""
    if spec.critical_cirx is not None and balance < spec.critical_cirx:
        return CRITICAL
    if spec.critical_hours is not None and hours_left is not None and hours_left < spec.critical_hours:
        return CRITICAL
    return WARNING if balance < spec.warning_cirx else OK


def _condition(
    kind: str, ok: bool, reason: str, message: str, previous: dict[str, Any], now: datetime
) -> dict[str, Any]:
    value = "True" if ok else "False"
    old = next((c for c in previous.get("conditions") or [] if c.get("type") == kind), None)
    since = old["lastTransitionTime"] if old and old.get("status") == value else now.isoformat()
    return {"type": kind, "status": value, "reason": reason, "message": message, "lastTransitionTime": since}


def evaluate(
    spec: WalletSpec, report: dict[str, Any] | Failure, previous: dict[str, Any], now: datetime
) -> tuple[dict[str, Any], list[Event]]:
    """The new status and the Events of one reading (a failed reading keeps the last known balance)."""
    status: dict[str, Any]
    if isinstance(report, Failure):
        status = {
            "lastCheck": now.isoformat(),
            "conditions": [
                _condition("Ready", False, "CheckFailed", f"{report.code}: {report.message}", previous, now),
                *[c for c in previous.get("conditions") or [] if c.get("type") == "Low"],
            ],
        }
        return status, []
    address = str(report.get("address") or "").lower().removeprefix("0x")
    balance = Decimal(str(report["balance"]))
    daily = _decimal(report.get("daily_burn"))
    per_hour = daily / 24 if daily is not None else None
    hours_left = balance / per_hour if per_hour else None
    level = level_of(spec, balance, hours_left)
    mismatch = spec.address is not None and address != spec.address
    ready_message = (
        f"the proxy's wallet is {address}, not {spec.address}" if mismatch else f"{balance} CIRX at {now.isoformat()}"
    )
    low_message = f"{balance} CIRX, warning under {spec.warning_cirx}" + (
        f", about {hours_left.quantize(Decimal('0.1'))} h left" if hours_left is not None else ""
    )
    status = {
        "address": address,
        "balance": format(balance, "f"),
        "burnRatePerHour": None if per_hour is None else format(per_hour.quantize(Decimal("0.0001")), "f"),
        "hoursToDepletion": None if hours_left is None else format(hours_left.quantize(Decimal("0.01")), "f"),
        "estimatedDepletion": (None if hours_left is None else (now + timedelta(hours=float(hours_left))).isoformat()),
        "lastCheck": now.isoformat(),
        "level": level,
        "conditions": [
            _condition(
                "Ready", not mismatch, "AddressMismatch" if mismatch else "BalanceRead", ready_message, previous, now
            ),
            _condition(
                "Low",
                level != OK,
                "Below" + level.capitalize() if level != OK else "Sufficient",
                low_message,
                previous,
                now,
            ),
        ],
    }
    return status, crossing_events(str(previous.get("level") or OK), level, low_message)


def crossing_events(before: str, after: str, message: str) -> list[Event]:
    """An Event when the level changes: Warning going down (low, critical), Normal back to ok."""
    if before == after:
        return []
    if after == OK:
        return [Event("Normal", "BalanceRecovered", message)]
    reason = "BalanceCritical" if after == CRITICAL else "BalanceLow"
    if _RANK[after] < _RANK[before]:
        reason = "BalanceLow"
    return [Event("Warning", reason, message)]
