"""Paid requests awaiting reconciliation: listed for operators, exported as gauges, their headers forgotten.

A payment row is ``pending`` from the moment it is reserved (before ``settle_payment``) until its
outcome is recorded. Normally that is a second; a settlement whose answer was lost stays pending while
its ``settle_reconcile`` job retries without limit (the x402 server resolves it from the chain). These
are what operators must see: ``certify_settlements_unresolved`` and the age of the oldest
(``certify_settlements_unresolved_oldest_age_seconds``, alert when it grows), and the admin listing.
The payment header the job keeps for the retries is deleted as soon as the outcome is recorded.
"""

from __future__ import annotations

import json
import logging

from pydantic import BaseModel, Field
from sqlmodel.ext.asyncio.session import AsyncSession

from certify_proxy.queue.metrics import SETTLEMENTS_UNRESOLVED, SETTLEMENTS_UNRESOLVED_OLDEST_AGE
from certify_proxy.runtime import Runtime
from certify_proxy.store import jobs as job_rows
from certify_proxy.store import reconciliation as pending
from certify_proxy.store.models import JobKind, utcnow
from certify_proxy.tasks.periodic import Periodic

logger = logging.getLogger("certify.proxy.reconciliation")


async def forget_payment_header(session: AsyncSession, request_key: str) -> None:
    """Drop the payment header kept for reconciliation from the request's settle job and its dead letters; the job
    is done if it was only waiting (the settlement was recorded: there is nothing left to reconcile)."""
    kept = json.dumps({"request_key": request_key}, separators=(",", ":"), sort_keys=True)
    await job_rows.conclude_reconciliation(session, f"{JobKind.SETTLE_RECONCILE}:{request_key}", kept)


class UnresolvedSettlement(BaseModel):
    """A pending payment and its reconciliation job's progress (no payment header)."""

    request_id: str
    request_key: str
    network: str
    payer: str
    amount_atomic: str
    tx_hash: str | None
    created_at: str | None
    age_s: float | None
    job_status: str | None = Field(description="Null when no reconciliation job exists (yet).")
    attempts: int | None
    next_attempt_at: str | None
    last_error: str | None


class UnresolvedSettlements(BaseModel):
    """``GET /v1/admin/settlements/unresolved``: the count, the oldest's age and the oldest rows."""

    count: int
    oldest_age_s: float
    settlements: list[UnresolvedSettlement]


async def unresolved(session: AsyncSession, limit: int) -> list[UnresolvedSettlement]:
    """Pending payments, oldest first, with their reconciliation job's progress (no payment header)."""
    now = utcnow()
    return [
        UnresolvedSettlement(
            request_id=row.request_id,
            request_key=row.request_key,
            network=row.network,
            payer=row.payer,
            amount_atomic=str(row.amount_atomic),
            tx_hash=row.tx_hash,
            created_at=row.created_at.isoformat() if row.created_at else None,
            age_s=round((now - row.created_at).total_seconds(), 3) if row.created_at else None,
            job_status=row.job_status,
            attempts=row.attempts,
            next_attempt_at=row.run_at.isoformat() if row.run_at else None,
            last_error=row.last_error,
        )
        for row in await pending.pending_settlements(session, limit)
    ]


async def refresh_gauges(session: AsyncSession) -> tuple[int, float]:
    """Count the pending payments and the age of the oldest into the gauges; returns both."""
    summary = await pending.pending_summary(session)
    oldest_at = summary.oldest_created_at
    age_s = max((utcnow() - oldest_at).total_seconds(), 0.0) if oldest_at is not None else 0.0
    SETTLEMENTS_UNRESOLVED.set(summary.count)
    SETTLEMENTS_UNRESOLVED_OLDEST_AGE.set(age_s)
    return summary.count, age_s


def settlement_monitor(runtime: Runtime) -> Periodic:
    """Refreshes the gauges every ``SETTLEMENT_MONITOR_INTERVAL_S`` (no loop when 0)."""

    async def tick() -> None:
        async with runtime.reads() as session:
            count, age_s = await refresh_gauges(session)
        if count:
            logger.info("settlements awaiting reconciliation", extra={"count": count, "oldest_age_s": age_s})

    return Periodic("settlement-monitor", runtime.settings.settlement_monitor_interval_s, tick)
