"""Queries and writes on the ``jobs`` table: lookup, claim under a lease, writes guarded by the lease.

``certify_proxy.queue`` holds the rules (when a job is due, retried or dead-lettered, what its payload
means); this module holds the statements. Claiming is one atomic statement per row, so two workers never
hold the same job: PostgreSQL picks the row with ``SELECT … FOR UPDATE SKIP LOCKED`` inside the
``UPDATE``; SQLite (one writer at a time) uses a conditional ``UPDATE … WHERE id = ? AND <still due>``
and checks the row count. Every held write names the worker (``locked_by``) and reports whether the
row was still held, so the caller can refuse to overwrite a new holder's work.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel.ext.asyncio.session import AsyncSession

from certify_proxy.store.deadletters import DEAD_LETTERS
from certify_proxy.store.models import Job, JobStatus, utcnow

JOBS = cast(sa.Table, Job.__table__)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ClaimedRow:
    """The columns of a job just claimed (``attempts`` counts the attempt being made; ``payload`` is JSON)."""

    id: int
    kind: str
    dedupe_key: str
    payload: str
    attempts: int
    max_attempts: int
    trace_context: str | None


async def by_dedupe_key(session: AsyncSession, dedupe_key: str) -> Job | None:
    """The job enqueued under ``dedupe_key``, if any."""
    statement = sa.select(Job).where(JOBS.c.dedupe_key == dedupe_key)
    return (await session.execute(statement)).scalar_one_or_none()


def _insert(session: AsyncSession) -> postgresql.Insert | sqlite.Insert:
    """An INSERT into ``jobs`` in the session's dialect (both have ``ON CONFLICT``)."""
    return postgresql.insert(JOBS) if session.get_bind().dialect.name == "postgresql" else sqlite.insert(JOBS)


async def insert_new(session: AsyncSession, values: dict[str, Any]) -> int | None:
    """Insert a job row unless its ``dedupe_key`` is taken: the new id, or None (PostgreSQL and SQLite alike)."""
    statement = (
        _insert(session)
        .values(**values)
        .on_conflict_do_nothing(index_elements=[JOBS.c.dedupe_key])
        .returning(JOBS.c.id)
    )
    job_id = (await session.execute(statement)).scalar_one_or_none()
    return None if job_id is None else int(job_id)


async def arm_idle(session: AsyncSession, values: dict[str, Any], now: datetime) -> int | None:
    """Insert a job row, or queue the one under its ``dedupe_key`` afresh with these values unless a live worker
    holds it: the job's id, or None while it runs under a lease that has not expired (PostgreSQL and SQLite
    alike). A re-armed row starts over: no attempts, no error, no holder."""
    row = _insert(session).values(**values)
    fresh = {name: row.excluded[name] for name in values if name != "dedupe_key"}
    idle = sa.or_(JOBS.c.status != JobStatus.RUNNING, JOBS.c.lease_until.is_(None), JOBS.c.lease_until < now)
    statement = row.on_conflict_do_update(
        index_elements=[JOBS.c.dedupe_key], set_={**fresh, "last_error": None, **_UNLOCKED}, where=idle
    ).returning(JOBS.c.id)
    job_id = (await session.execute(statement)).scalar_one_or_none()
    return None if job_id is None else int(job_id)


def _due(now: datetime) -> sa.ColumnElement[bool]:
    """Queued with ``run_at`` passed, or running under a lease that expired (its worker died)."""
    queued = sa.and_(JOBS.c.status == JobStatus.QUEUED, JOBS.c.run_at <= now)
    abandoned = sa.and_(JOBS.c.status == JobStatus.RUNNING, JOBS.c.lease_until < now)
    return sa.or_(queued, abandoned)


def _stuck(now: datetime, overdue: datetime) -> sa.ColumnElement[bool]:
    """Running under an expired lease, or queued and due since before ``overdue``."""
    return sa.or_(
        sa.and_(JOBS.c.status == JobStatus.RUNNING, JOBS.c.lease_until < now),
        sa.and_(JOBS.c.status == JobStatus.QUEUED, JOBS.c.run_at < overdue),
    )


def _claim_values(now: datetime, worker_id: str, lease_s: float) -> dict[str, Any]:
    return {
        "status": JobStatus.RUNNING,
        "attempts": JOBS.c.attempts + 1,
        "lease_until": now + timedelta(seconds=lease_s),
        "locked_by": worker_id,
        "updated_at": now,
    }


def _claimed(row: sa.Row[Any]) -> ClaimedRow:
    return ClaimedRow(
        id=int(row.id),
        kind=str(row.kind),
        dedupe_key=str(row.dedupe_key),
        payload=str(row.payload),
        attempts=int(row.attempts),
        max_attempts=int(row.max_attempts),
        trace_context=row.trace_context,
    )


async def claim_due(
    session: AsyncSession, worker_id: str, lease_s: float, now: datetime, *, postgres: bool
) -> ClaimedRow | None:
    """Lease the due job with the oldest ``run_at`` to ``worker_id`` (one more attempt), or None."""
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
            sa.update(JOBS).where(JOBS.c.id == oldest).values(**_claim_values(now, worker_id, lease_s)).returning(JOBS)
        )
        row = (await session.execute(statement)).first()
        return None if row is None else _claimed(row)
    candidates = sa.select(JOBS.c.id).where(_due(now)).order_by(JOBS.c.run_at).limit(5)
    for job_id in list((await session.execute(candidates)).scalars()):
        conditional = (
            sa.update(JOBS).where(JOBS.c.id == job_id, _due(now)).values(**_claim_values(now, worker_id, lease_s))
        )
        result = await session.execute(conditional)
        if cast(sa.CursorResult[Any], result).rowcount == 1:
            return _claimed((await session.execute(sa.select(JOBS).where(JOBS.c.id == job_id))).one())
    return None


async def _held_update(session: AsyncSession, job_id: int, worker_id: str, values: dict[str, Any]) -> bool:
    statement = (
        sa.update(JOBS)
        .where(JOBS.c.id == job_id, JOBS.c.locked_by == worker_id, JOBS.c.status == JobStatus.RUNNING)
        .values(updated_at=utcnow(), **values)
    )
    return cast(sa.CursorResult[Any], await session.execute(statement)).rowcount == 1


_UNLOCKED: dict[str, Any] = {"lease_until": None, "locked_by": None}


async def renew_lease(session: AsyncSession, job_id: int, worker_id: str, lease_until: datetime) -> bool:
    """Extend the lease of a job ``worker_id`` holds; False when it no longer holds it."""
    return await _held_update(session, job_id, worker_id, {"lease_until": lease_until})


async def release(session: AsyncSession, job_id: int, worker_id: str, run_at: datetime) -> bool:
    """Queue a held job again at ``run_at``, its attempt not counted; False when no longer held."""
    values = {"status": JobStatus.QUEUED, "run_at": run_at, "attempts": JOBS.c.attempts - 1, **_UNLOCKED}
    return await _held_update(session, job_id, worker_id, values)


async def save_payload(session: AsyncSession, job_id: int, worker_id: str, payload: str) -> bool:
    """Replace a held job's payload (JSON); False when no longer held."""
    return await _held_update(session, job_id, worker_id, {"payload": payload})


async def finish(session: AsyncSession, job_id: int, worker_id: str) -> bool:
    """Mark a held job done; False when no longer held."""
    return await _held_update(session, job_id, worker_id, {"status": JobStatus.DONE, "last_error": None, **_UNLOCKED})


async def reschedule(session: AsyncSession, job_id: int, worker_id: str, run_at: datetime, error: str) -> bool:
    """Queue a held job again at ``run_at`` with this attempt's error; False when no longer held."""
    values = {"status": JobStatus.QUEUED, "run_at": run_at, "last_error": error, **_UNLOCKED}
    return await _held_update(session, job_id, worker_id, values)


async def mark_dead(session: AsyncSession, job_id: int, worker_id: str, error: str) -> bool:
    """Mark a held job dead (its attempts are used up) with the last error; False when no longer held."""
    return await _held_update(session, job_id, worker_id, {"status": JobStatus.DEAD, "last_error": error, **_UNLOCKED})


async def requeue_dead(session: AsyncSession, job_id: int, now: datetime, *, max_attempts: int | None) -> bool:
    """Queue a dead job again now with a fresh set of attempts (``max_attempts`` too, when given).

    False when the job is not dead (an operator's second re-queue, or a job already running again).
    """
    fresh: dict[str, Any] = {"status": JobStatus.QUEUED, "attempts": 0, "run_at": now, "updated_at": now, **_UNLOCKED}
    if max_attempts is not None:
        fresh["max_attempts"] = max_attempts
    statement = sa.update(JOBS).where(JOBS.c.id == job_id, JOBS.c.status == JobStatus.DEAD).values(**fresh)
    return cast(sa.CursorResult[Any], await session.execute(statement)).rowcount == 1


async def conclude_reconciliation(session: AsyncSession, dedupe_key: str, payload: str) -> None:
    """Overwrite the payload of the job under ``dedupe_key`` and of its dead letters (to forget a secret it carried),
    and mark the job done if it is only waiting (``queued``): its work was done by another path. A job that is
    running keeps its state (its worker finishes it). Usually one statement: the dead letters are written only
    when the job has some."""
    done_if_waiting = sa.case((JOBS.c.status == JobStatus.QUEUED, JobStatus.DONE), else_=JOBS.c.status)
    letters = sa.select(sa.func.count()).where(DEAD_LETTERS.c.job_id == JOBS.c.id).scalar_subquery()
    statement = (
        sa.update(JOBS)
        .where(JOBS.c.dedupe_key == dedupe_key)
        .values(payload=payload, status=done_if_waiting, updated_at=utcnow())
        .returning(JOBS.c.id, letters)
    )
    row = (await session.execute(statement)).first()
    if row is not None and row[1]:
        await session.execute(sa.update(DEAD_LETTERS).where(DEAD_LETTERS.c.job_id == row[0]).values(payload=payload))


async def stuck(session: AsyncSession, now: datetime, overdue: datetime, limit: int) -> list[Job]:
    """Running jobs whose lease expired and queued jobs due before ``overdue``, longest due first."""
    statement = sa.select(Job).where(_stuck(now, overdue)).order_by(JOBS.c.run_at).limit(limit)
    return list((await session.execute(statement)).scalars())


async def count_stuck(session: AsyncSession, now: datetime, overdue: datetime) -> int:
    """How many jobs :func:`stuck` would list without a limit."""
    return int((await session.execute(sa.select(sa.func.count()).where(_stuck(now, overdue)))).scalar_one())


async def delete(session: AsyncSession, job: Job) -> None:
    """Remove a job row (a reservation cancelled before the job ever ran)."""
    await session.delete(job)
