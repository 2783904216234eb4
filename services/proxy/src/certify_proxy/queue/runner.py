"""The durable queue's worker side: claim a due job under a lease, renew it, and settle its outcome.

Claiming is one atomic statement per row, so two workers (any process, any replica) never hold the
same job (:mod:`certify_proxy.store.jobs` writes the statements: ``SELECT … FOR UPDATE SKIP LOCKED``
inside the ``UPDATE`` on PostgreSQL, a conditional ``UPDATE`` checked by its row count on SQLite). A job
is due when it is queued and ``run_at`` has passed, or when it is running under a lease that expired
(its worker died): then it is taken over. Every later write
names the worker (``locked_by``) and fails with :class:`LeaseLostError` once the job is no longer
held, so a worker that lost its lease can never overwrite the new holder's work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from certify_proxy.queue.payloads import JobPayload
from certify_proxy.store import jobs as job_rows
from certify_proxy.store.db import transaction
from certify_proxy.store.models import DeadLetter, utcnow

#: ``max_attempts`` of a job retried until it concludes, never dead-lettered (a paid settlement whose outcome is
#: unknown: giving up would leave the payer charged for nothing).
UNBOUNDED = 0


class LeaseLostError(Exception):
    """The job is no longer held by this worker (its lease expired and another worker took it)."""


@dataclass(frozen=True)
class ClaimedJob:
    """A job held by this worker for one attempt (``attempts`` counts this one)."""

    id: int
    kind: str
    dedupe_key: str
    payload: str  # as stored: each handler reads it through its kind's model (queue/payloads.py)
    attempts: int
    max_attempts: int
    trace_context: str | None = None


def exhausted(attempts: int, max_attempts: int) -> bool:
    """Whether a job that made ``attempts`` attempts used them all (never, for an :data:`UNBOUNDED` job)."""
    return max_attempts != UNBOUNDED and attempts >= max_attempts


def _claimed(row: job_rows.ClaimedRow) -> ClaimedJob:
    return ClaimedJob(
        id=row.id,
        kind=row.kind,
        dedupe_key=row.dedupe_key,
        payload=row.payload,
        attempts=row.attempts,
        max_attempts=row.max_attempts,
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
    async with transaction(sessions) as session:
        row = await job_rows.claim_due(session, worker_id, lease_s, now or utcnow(), postgres=postgres)
    return None if row is None else _claimed(row)


def _held(held: bool, job_id: int, worker_id: str) -> None:
    if not held:
        raise LeaseLostError(f"job {job_id} is no longer held by {worker_id}")


async def renew(sessions: async_sessionmaker[AsyncSession], job_id: int, worker_id: str, lease_s: float) -> bool:
    """Extend the lease of a held job; False when it is no longer held."""
    async with transaction(sessions) as session:
        return await job_rows.renew_lease(session, job_id, worker_id, utcnow() + timedelta(seconds=lease_s))


async def release(sessions: async_sessionmaker[AsyncSession], job_id: int, worker_id: str) -> bool:
    """Give a held job back at once (its attempt was cut short by a shutdown: it does not count)."""
    async with transaction(sessions) as session:
        return await job_rows.release(session, job_id, worker_id, utcnow())


async def save_payload(session: AsyncSession, job_id: int, worker_id: str, payload: JobPayload) -> None:
    """Persist a held job's progress (e.g. the transaction it submitted) in the caller's transaction."""
    _held(await job_rows.save_payload(session, job_id, worker_id, payload.to_json()), job_id, worker_id)


async def finish(session: AsyncSession, job_id: int, worker_id: str) -> None:
    """Mark a held job done, in the same transaction as the work's result."""
    _held(await job_rows.finish(session, job_id, worker_id), job_id, worker_id)


async def reschedule(session: AsyncSession, job_id: int, worker_id: str, delay_s: float, error: str) -> datetime:
    """Queue a held job again after ``delay_s`` with the error of this attempt; returns the new ``run_at``."""
    run_at = utcnow() + timedelta(seconds=delay_s)
    _held(await job_rows.reschedule(session, job_id, worker_id, run_at, error), job_id, worker_id)
    return run_at


async def dead_letter(session: AsyncSession, job: ClaimedJob, worker_id: str, error: str) -> DeadLetter:
    """Move a held job that used up its attempts to the dead-letter queue."""
    _held(await job_rows.mark_dead(session, job.id, worker_id, error), job.id, worker_id)
    row = DeadLetter(
        job_id=job.id,
        kind=job.kind,
        payload=job.payload,
        error=error,
        attempts=job.attempts,
        created_at=utcnow(),
        requeued_at=None,
    )
    session.add(row)
    await session.flush()
    return row
