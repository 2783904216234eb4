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

import sqlalchemy as sa
from pydantic import BaseModel, Field
from sqlmodel.ext.asyncio.session import AsyncSession

from certify_proxy.queue import jobs
from certify_proxy.queue.metrics import SETTLEMENTS_UNRESOLVED, SETTLEMENTS_UNRESOLVED_OLDEST_AGE
from certify_proxy.queue.runner import JOBS
from certify_proxy.runtime import Runtime
from certify_proxy.store.models import (
    CertificationRequest,
    DeadLetter,
    Job,
    JobKind,
    Payment,
    PaymentStatus,
    aware,
    utcnow,
)
from certify_proxy.tasks.periodic import Periodic

logger = logging.getLogger("certify.proxy.reconciliation")

_PAYMENTS = Payment.__table__  # type: ignore[attr-defined]
_DEAD_LETTERS = DeadLetter.__table__  # type: ignore[attr-defined]


async def forget_payment_header(session: AsyncSession, request_key: str) -> None:
    """Drop the payment header kept for reconciliation from the request's settle job and its dead letters."""
    job: Job | None = await jobs.job_for_request(session, JobKind.SETTLE_RECONCILE, request_key)
    if job is None:
        return
    kept = json.dumps({"request_key": request_key}, separators=(",", ":"), sort_keys=True)
    await session.execute(sa.update(JOBS).where(JOBS.c.id == job.id).values(payload=kept))
    await session.execute(sa.update(_DEAD_LETTERS).where(_DEAD_LETTERS.c.job_id == job.id).values(payload=kept))


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
    job_key = sa.literal(f"{JobKind.SETTLE_RECONCILE}:") + _PAYMENTS.c.request_key
    requests = CertificationRequest.__table__  # type: ignore[attr-defined]
    statement = (
        sa.select(
            _PAYMENTS,
            requests.c.request_id,
            JOBS.c.status.label("job_status"),
            JOBS.c.attempts,
            JOBS.c.run_at,
            JOBS.c.last_error,
        )
        .select_from(
            _PAYMENTS.join(requests, requests.c.request_key == _PAYMENTS.c.request_key).outerjoin(
                JOBS, JOBS.c.dedupe_key == job_key
            )
        )
        .where(_PAYMENTS.c.status == PaymentStatus.PENDING)
        .order_by(_PAYMENTS.c.created_at)
        .limit(limit)
    )
    now = utcnow()
    rows = []
    for row in (await session.execute(statement)).mappings():
        created = aware(row["created_at"])
        run_at = aware(row["run_at"])
        rows.append(
            UnresolvedSettlement(
                request_id=row["request_id"],
                request_key=row["request_key"],
                network=row["network"],
                payer=row["payer"],
                amount_atomic=str(row["amount_atomic"]),
                tx_hash=row["tx_hash"],
                created_at=created.isoformat() if created else None,
                age_s=round((now - created).total_seconds(), 3) if created else None,
                job_status=row["job_status"],
                attempts=row["attempts"],
                next_attempt_at=run_at.isoformat() if run_at else None,
                last_error=row["last_error"],
            )
        )
    return rows


async def refresh_gauges(session: AsyncSession) -> tuple[int, float]:
    """Count the pending payments and the age of the oldest into the gauges; returns both."""
    statement = sa.select(sa.func.count(), sa.func.min(_PAYMENTS.c.created_at)).where(
        _PAYMENTS.c.status == PaymentStatus.PENDING
    )
    count, oldest = (await session.execute(statement)).one()
    oldest_at = aware(oldest)
    age_s = max((utcnow() - oldest_at).total_seconds(), 0.0) if oldest_at is not None else 0.0
    SETTLEMENTS_UNRESOLVED.set(int(count))
    SETTLEMENTS_UNRESOLVED_OLDEST_AGE.set(age_s)
    return int(count), age_s


def settlement_monitor(runtime: Runtime) -> Periodic:
    """Refreshes the gauges every ``SETTLEMENT_MONITOR_INTERVAL_S`` (no loop when 0)."""

    async def tick() -> None:
        async with runtime.sessions() as session:
            count, age_s = await refresh_gauges(session)
        if count:
            logger.info("settlements awaiting reconciliation", extra={"count": count, "oldest_age_s": age_s})

    return Periodic("settlement-monitor", runtime.settings.settlement_monitor_interval_s, tick)
