"""The counts behind the queue's gauges: backlog and most overdue job per kind, stuck jobs, dead letters."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from certify_common.errors import require
from certify_proxy.store import deadletters as dead_letter_rows
from certify_proxy.store import jobs as job_rows
from certify_proxy.store.jobs import JOBS
from certify_proxy.store.models import JobStatus, aware


@dataclass(frozen=True)
class QueueCounts:
    """One reading of the queue, by job kind where it has one (kinds without rows are absent)."""

    waiting: dict[str, int]
    """Queued or running jobs."""
    oldest_run_at: dict[str, datetime]
    """The earliest ``run_at`` of the queued jobs (UTC)."""
    stuck: int
    """Running jobs whose lease expired and queued jobs overdue (as :func:`certify_proxy.store.jobs.stuck`)."""
    dead_letters: dict[str, int]
    """Dead letters not re-queued yet."""


async def queue_counts(session: AsyncSession, now: datetime, overdue: datetime) -> QueueCounts:
    """Read the queue's counts (a job queued for ``run_at`` before ``overdue`` counts as stuck)."""
    waiting = (
        sa.select(JOBS.c.kind, sa.func.count())
        .where(JOBS.c.status.in_([JobStatus.QUEUED, JobStatus.RUNNING]))
        .group_by(JOBS.c.kind)
    )
    oldest = (
        sa.select(JOBS.c.kind, sa.func.min(JOBS.c.run_at))
        .where(JOBS.c.status == JobStatus.QUEUED)
        .group_by(JOBS.c.kind)
    )
    waiting_rows = {str(kind): int(count) for kind, count in (await session.execute(waiting)).tuples()}
    # Each group has a queued row and run_at is NOT NULL: the minimum is never missing.
    oldest_rows = {
        str(kind): require(aware(run_at), "the oldest run_at")
        for kind, run_at in (await session.execute(oldest)).tuples()
    }
    return QueueCounts(
        waiting=waiting_rows,
        oldest_run_at=oldest_rows,
        stuck=await job_rows.count_stuck(session, now, overdue),
        dead_letters=await dead_letter_rows.waiting_by_kind(session),
    )
