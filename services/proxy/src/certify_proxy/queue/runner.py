"""The durable queue's worker side: claim a due job under a lease, renew it, and settle its outcome.

Claiming is one atomic statement per row, so two workers (any process, any replica) never hold the
same job: PostgreSQL picks the row with ``SELECT … FOR UPDATE SKIP LOCKED`` inside the ``UPDATE``;
SQLite (one writer at a time) uses a conditional ``UPDATE … WHERE id = ? AND <still due>`` and
checks the row count. A job is due when it is queued and ``run_at`` has passed, or when it is
running under a lease that expired (its worker died): then it is taken over. Every later write
names the worker (``locked_by``) and fails with :class:`LeaseLostError` once the job is no longer
held, so a worker that lost its lease can never overwrite the new holder's work.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from certify_proxy.store.db import transaction
from certify_proxy.store.models import DeadLetter, Job, JobStatus, utcnow

#: ``max_attempts`` of a job retried until it concludes, never dead-lettered (a paid settlement whose outcome is
#: unknown: giving up would leave the payer charged for nothing).
UNBOUNDED = 0

JOBS = cast(sa.Table, Job.__table__)  # type: ignore[attr-defined]


class LeaseLostError(Exception):
    """The job is no longer held by this worker (its lease expired and another worker took it)."""


@dataclass(frozen=True)
class ClaimedJob:
    """A job held by this worker for one attempt (``attempts`` counts this one)."""

    id: int
    kind: str
    dedupe_key: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int
    trace_context: str | None = None


def exhausted(attempts: int, max_attempts: int) -> bool:
    """Whether a job that made ``attempts`` attempts used them all (never, for an :data:`UNBOUNDED` job)."""
    return max_attempts != UNBOUNDED and attempts >= max_attempts


def _due(now: datetime) -> sa.ColumnElement[bool]:
    queued = sa.and_(JOBS.c.status == JobStatus.QUEUED, JOBS.c.run_at <= now)
    abandoned = sa.and_(JOBS.c.status == JobStatus.RUNNING, JOBS.c.lease_until < now)
    return sa.or_(queued, abandoned)


def _claim_values(now: datetime, worker_id: str, lease_s: float) -> dict[str, Any]:
    return {
        "status": JobStatus.RUNNING,
        "attempts": JOBS.c.attempts + 1,
        "lease_until": now + timedelta(seconds=lease_s),
        "locked_by": worker_id,
        "updated_at": now,
    }


def _claimed(row: sa.Row[Any]) -> ClaimedJob:
    return ClaimedJob(
        id=int(row.id),
        kind=str(row.kind),
        dedupe_key=str(row.dedupe_key),
        payload=json.loads(row.payload),
        attempts=int(row.attempts),
        max_attempts=int(row.max_attempts),
        trace_context=row.trace_context,
    )


async def claim(
    sessions: async_sessionmaker[AsyncSession],
    worker_id: str,
    lease_s: float,
    *,
    postgres: bool,
    now: datetime | None = None,
) -> ClaimedJob | None:
    """Take one due job (oldest ``run_at`` first) under a lease, or None when nothing is due.

    ``now`` (default: the current time) is the instant the claim is made at; a later one sees leases
    that will have expired by then, as a worker of that future would.
    """
    now = now or utcnow()
    async with transaction(sessions) as session:
        if postgres:
            oldest = (
                sa.select(JOBS.c.id)
                .where(_due(now))
                .order_by(JOBS.c.run_at)
                .limit(1)
                .with_for_update(skip_locked=True)
                .scalar_subquery()
            )
            statement = (
                sa.update(JOBS)
                .where(JOBS.c.id == oldest)
                .values(**_claim_values(now, worker_id, lease_s))
                .returning(JOBS)
            )
            row = (await session.execute(statement)).first()
            return None if row is None else _claimed(row)
        candidates = (
            await session.execute(sa.select(JOBS.c.id).where(_due(now)).order_by(JOBS.c.run_at).limit(5))
        ).scalars()
        for job_id in list(candidates):
            conditional = (
                sa.update(JOBS).where(JOBS.c.id == job_id, _due(now)).values(**_claim_values(now, worker_id, lease_s))
            )
            result = await session.execute(conditional)
            if cast(sa.CursorResult[Any], result).rowcount == 1:
                row = (await session.execute(sa.select(JOBS).where(JOBS.c.id == job_id))).one()
                return _claimed(row)
    return None


async def _held_update(session: AsyncSession, job_id: int, worker_id: str, **values: Any) -> None:
    statement = (
        sa.update(JOBS)
        .where(JOBS.c.id == job_id, JOBS.c.locked_by == worker_id, JOBS.c.status == JobStatus.RUNNING)
        .values(updated_at=utcnow(), **values)
    )
    result = await session.execute(statement)
    if cast(sa.CursorResult[Any], result).rowcount != 1:
        raise LeaseLostError(f"job {job_id} is no longer held by {worker_id}")


async def renew(sessions: async_sessionmaker[AsyncSession], job_id: int, worker_id: str, lease_s: float) -> bool:
    """Extend the lease of a held job; False when it is no longer held."""
    try:
        async with transaction(sessions) as session:
            await _held_update(session, job_id, worker_id, lease_until=utcnow() + timedelta(seconds=lease_s))
    except LeaseLostError:
        return False
    return True


async def release(sessions: async_sessionmaker[AsyncSession], job_id: int, worker_id: str) -> bool:
    """Give a held job back at once (its attempt was cut short by a shutdown: it does not count)."""
    try:
        async with transaction(sessions) as session:
            await _held_update(
                session,
                job_id,
                worker_id,
                status=JobStatus.QUEUED,
                run_at=utcnow(),
                attempts=JOBS.c.attempts - 1,
                lease_until=None,
                locked_by=None,
            )
    except LeaseLostError:
        return False
    return True


async def save_payload(session: AsyncSession, job_id: int, worker_id: str, payload: dict[str, Any]) -> None:
    """Persist a held job's progress (e.g. the transaction it submitted) in the caller's transaction."""
    await _held_update(session, job_id, worker_id, payload=_dump(payload))


async def finish(session: AsyncSession, job_id: int, worker_id: str) -> None:
    """Mark a held job done, in the same transaction as the work's result."""
    await _held_update(
        session, job_id, worker_id, status=JobStatus.DONE, lease_until=None, locked_by=None, last_error=None
    )


async def reschedule(session: AsyncSession, job_id: int, worker_id: str, delay_s: float, error: str) -> datetime:
    """Queue a held job again after ``delay_s`` with the error of this attempt; returns the new ``run_at``."""
    run_at = utcnow() + timedelta(seconds=delay_s)
    await _held_update(
        session,
        job_id,
        worker_id,
        status=JobStatus.QUEUED,
        run_at=run_at,
        lease_until=None,
        locked_by=None,
        last_error=error,
    )
    return run_at


async def dead_letter(session: AsyncSession, job: ClaimedJob, worker_id: str, error: str) -> DeadLetter:
    """Move a held job that used up its attempts to the dead-letter queue."""
    await _held_update(
        session, job.id, worker_id, status=JobStatus.DEAD, lease_until=None, locked_by=None, last_error=error
    )
    row = DeadLetter(
        job_id=job.id,
        kind=job.kind,
        payload=_dump(job.payload),
        error=error,
        attempts=job.attempts,
        created_at=utcnow(),
        requeued_at=None,
    )
    session.add(row)
    await session.flush()
    return row


def _dump(payload: dict[str, Any]) -> str:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True)
