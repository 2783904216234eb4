"""The CIRX wallet balance check: read it, store it, export it, warn before it runs out.

A background task in every proxy process calls ``circular.get_wallet_balance`` every
``BALANCE_CHECK_INTERVAL_S`` (the admin API runs the same check on demand, without exporting it:
the Kubernetes operator calls it and exports ``certify_cirx_wallet_balance`` itself, so with the
operator deployed set ``BALANCE_CHECK_INTERVAL_S=0`` and the gauge has one source). Each reading is stored
in ``wallet_balances``; the daily burn rate is what the readings of the last day went down by
(top-ups are not spending), scaled to a day; under ``BALANCE_WARNING_CIRX`` a warning names the burn
rate and the estimated time to depletion. Amounts stay ``Decimal`` (the gauge is a float by nature).
"""

from __future__ import annotations

import itertools
import logging
from datetime import timedelta
from decimal import Decimal, InvalidOperation

from pydantic import BaseModel, Field

from certify_common.errors import Failure, failure
from certify_proxy.queue.metrics import balance_gauges
from certify_proxy.runtime import Runtime
from certify_proxy.store.balances import readings_since
from certify_proxy.store.db import transaction
from certify_proxy.store.models import WalletBalance, aware, utcnow
from certify_proxy.tasks.periodic import Periodic

logger = logging.getLogger("certify.proxy.balance")

ASSET = "CIRX"
DAY = timedelta(days=1)


class BalanceReport(BaseModel):
    """One balance check (``POST /v1/admin/balance-check``); amounts are decimal strings."""

    address: str
    asset: str
    balance: str
    checked_at: str
    daily_burn: str | None = Field(description="CIRX spent per day over the last day; null with one reading.")
    days_to_depletion: str | None
    warning_threshold: str
    low: bool


def daily_burn(readings: list[tuple[float, Decimal]]) -> Decimal | None:
    """CIRX spent per day from (unix time, balance) readings, oldest first; None without two readings."""
    if len(readings) < 2:
        return None
    span_s = readings[-1][0] - readings[0][0]
    if span_s <= 0:
        return None
    spent = sum(
        (max(earlier - later, Decimal(0)) for (_, earlier), (_, later) in itertools.pairwise(readings)),
        Decimal(0),
    )
    return spent * Decimal(86400) / Decimal(str(span_s))


async def check_balance(runtime: Runtime, *, export: bool = False) -> BalanceReport | Failure:
    """Read and store the balance (and export it when ``export``); the report the admin API returns."""
    answer = await runtime.circular.balance(ASSET)
    if isinstance(answer, Failure):
        logger.warning("balance check failed", extra={"code": answer.code})
        return answer
    try:
        balance = Decimal(answer.balance)
    except InvalidOperation:
        return failure("upstream_error", "the wallet balance is not a number", retryable=True)
    now = utcnow()
    async with transaction(runtime.sessions) as session:
        session.add(WalletBalance(asset=ASSET, balance=format(balance, "f"), checked_at=now))
        await session.flush()
        rows = await readings_since(session, ASSET, now - DAY)
    readings = [(moment.timestamp(), Decimal(row.balance)) for row in rows if (moment := aware(row.checked_at))]
    burn = daily_burn(readings)
    if export:
        balance_gauge, burn_gauge = balance_gauges()
        balance_gauge.set(float(balance))
        burn_gauge.set(float(burn or 0))
    days_left = balance / burn if burn else None
    threshold = runtime.settings.balance_warning_cirx
    low = balance < threshold
    report = BalanceReport(
        address=answer.address,
        asset=ASSET,
        balance=format(balance, "f"),
        checked_at=now.isoformat(),
        daily_burn=None if burn is None else format(burn.quantize(Decimal("0.0001")), "f"),
        days_to_depletion=None if days_left is None else format(days_left.quantize(Decimal("0.01")), "f"),
        warning_threshold=format(threshold, "f"),
        low=low,
    )
    if low:
        logger.warning(
            "CIRX wallet balance low",
            extra={
                "balance": report.balance,
                "daily_burn": report.daily_burn,
                "days_to_depletion": report.days_to_depletion,
                "threshold": report.warning_threshold,
            },
        )
    return report


def balance_monitor(runtime: Runtime) -> Periodic:
    """The periodic check, first once the circular server is connected (no loop when the interval is 0)."""
    interval = runtime.settings.balance_check_interval_s

    async def connected() -> None:
        circular = runtime.pool.servers.get("circular")
        if circular is not None:
            await circular.wait_connected(min(interval, 30.0))

    return Periodic("cirx-balance", interval, lambda: check_balance(runtime, export=True), before=connected)
