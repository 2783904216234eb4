"""The pending payments operators watch: each with its ``settle_reconcile`` job's progress, and their count."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import cast

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from certify_proxy.store.jobs import JOBS
from certify_proxy.store.models import CertificationRequest, JobKind, Payment, PaymentStatus, aware

_PAYMENTS = cast(sa.Table, Payment.__table__)  # type: ignore[attr-defined]
_REQUESTS = cast(sa.Table, CertificationRequest.__table__)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class PendingSettlement:
    """A pending payment, its request's client id, and its reconciliation job (None when there is none yet)."""

    request_id: str
    request_key: str
    network: str
    payer: str
    amount_atomic: int
    tx_hash: str | None
    created_at: datetime | None
    job_status: str | None
    attempts: int | None
    run_at: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class PendingSummary:
    """How many payments are pending, and when the oldest was reserved (None when there is none)."""

    count: int
    oldest_created_at: datetime | None


async def pending_settlements(session: AsyncSession, limit: int) -> list[PendingSettlement]:
    """Pending payments, oldest first, joined to their request and ``settle_reconcile`` job."""
    job_key = sa.literal(f"{JobKind.SETTLE_RECONCILE}:") + _PAYMENTS.c.request_key
    statement = (
        sa.select(
            _PAYMENTS,
            _REQUESTS.c.request_id,
            JOBS.c.status.label("job_status"),
            JOBS.c.attempts,
            JOBS.c.run_at,
            JOBS.c.last_error,
        )
        .select_from(
            _PAYMENTS.join(_REQUESTS, _REQUESTS.c.request_key == _PAYMENTS.c.request_key).outerjoin(
                JOBS, JOBS.c.dedupe_key == job_key
            )
        )
        .where(_PAYMENTS.c.status == PaymentStatus.PENDING)
        .order_by(_PAYMENTS.c.created_at)
        .limit(limit)
    )
    return [
        PendingSettlement(
            request_id=row["request_id"],
            request_key=row["request_key"],
            network=row["network"],
            payer=row["payer"],
            amount_atomic=int(row["amount_atomic"]),
            tx_hash=row["tx_hash"],
            created_at=aware(row["created_at"]),
            job_status=row["job_status"],
            attempts=row["attempts"],
            run_at=aware(row["run_at"]),
            last_error=row["last_error"],
        )
        for row in (await session.execute(statement)).mappings()
    ]


async def pending_summary(session: AsyncSession) -> PendingSummary:
    """Count the pending payments and find the oldest one's reservation time."""
    statement = sa.select(sa.func.count(), sa.func.min(_PAYMENTS.c.created_at)).where(
        _PAYMENTS.c.status == PaymentStatus.PENDING
    )
    count, oldest = (await session.execute(statement)).one()
    return PendingSummary(count=int(count), oldest_created_at=aware(oldest))
